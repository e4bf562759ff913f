"""Conventions shared by every API schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

import msgspec

from backend.core.text import nul_message, nul_path


class Input(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for request bodies: an unknown field is an error that names it, never silently dropped.

    No string anywhere in a body may hold a NUL character (PostgreSQL cannot store one; see
    :mod:`backend.core.text`): msgspec runs ``__post_init__`` while decoding, so the request answers
    400 naming the field on every engine. Likewise a time that cannot be expressed in UTC
    (``0001-01-01T00:00:00+08:00``): converting it, as every service does before storing, raised
    ``OverflowError``. A subclass that defines ``__post_init__`` must call ``super().__post_init__()``.
    """

    nul_removed_later: ClassVar[frozenset[str]] = frozenset()
    """Fields whose NUL characters are removed downstream instead of refused (a contact's text)."""

    def __post_init__(self) -> None:
        for name, wire in zip(self.__struct_fields__, self.__struct_encode_fields__, strict=True):
            if name in self.nul_removed_later:
                continue
            value = getattr(self, name)
            if isinstance(value, datetime) and value.tzinfo is not None:
                try:
                    value.astimezone(UTC)
                except OverflowError:
                    raise ValueError(
                        f"time field `{wire}` is out of range: in UTC it falls outside the years 1 to 9999"
                    ) from None
            where = nul_path(value, wire)
            if where is not None:
                raise ValueError(nul_message(where))


class Output(msgspec.Struct, kw_only=True):
    """Base for response bodies."""


def utcnow() -> datetime:
    return datetime.now(UTC)
