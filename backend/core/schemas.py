"""Conventions shared by every API schema."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec

from backend.core.text import nul_message, nul_path


class Input(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for request bodies: an unknown field is an error that names it, never silently dropped.

    No string anywhere in a body may hold a NUL character (PostgreSQL cannot store one; see
    :mod:`backend.core.text`): msgspec runs ``__post_init__`` while decoding, so the request answers
    400 naming the field on every engine. A subclass that defines ``__post_init__`` must call
    ``super().__post_init__()``.
    """

    nul_removed_later: ClassVar[frozenset[str]] = frozenset()
    """Fields whose NUL characters are removed downstream instead of refused (a contact's text)."""

    def __post_init__(self) -> None:
        for name, wire in zip(self.__struct_fields__, self.__struct_encode_fields__, strict=True):
            if name in self.nul_removed_later:
                continue
            where = nul_path(getattr(self, name), wire)
            if where is not None:
                raise ValueError(nul_message(where))


class Output(msgspec.Struct, kw_only=True):
    """Base for response bodies."""


def utcnow() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
