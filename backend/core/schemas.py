"""Conventions shared by every API schema."""

from __future__ import annotations

from datetime import datetime

import msgspec


class Input(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for request bodies: an unknown field is an error that names it, never silently dropped."""


class Output(msgspec.Struct, kw_only=True):
    """Base for response bodies."""


def utcnow() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
