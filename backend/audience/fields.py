"""The rules for a contact's fields, shared by the API and the CSV import so both accept the same data.

Each function takes the raw value and returns the stored one, or raises :class:`InvalidInput` naming
the field (the import turns that into a row error for the same column).
"""

from __future__ import annotations

import json
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backend.audience.addresses import normalise_email, normalise_phone
from backend.core.errors import InvalidInput

ATTRIBUTE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_ATTRIBUTE_KEY = 64
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_BYTES = 4096
"""Per value, as JSON: attributes personalise messages; documents belong elsewhere."""
MAX_TAGS = 50
MAX_TAG = 64
MAX_NAME = 200
_SCALARS = (str, int, float, bool, type(None))


def blank(value: str | None) -> bool:
    return value is None or not value.strip()


def phone(raw: str | None, region: str, field: str = "phone") -> str | None:
    """E.164, reading numbers without ``+country`` in the workspace's default region; blank is None."""
    return None if blank(raw) else normalise_phone(raw, region, field=field)


def email(raw: str | None, field: str = "email") -> str | None:
    return None if blank(raw) else normalise_email(raw, field=field)


def name(raw: str, field: str = "name") -> str:
    text = raw.strip()
    if len(text) > MAX_NAME:
        raise InvalidInput(field, f"is {len(text)} characters long; at most {MAX_NAME}")
    return text


def timezone(raw: str | None, field: str = "timezone") -> str | None:
    """An IANA name such as ``Europe/Lisbon``; blank is None (the workspace's time zone applies)."""
    if blank(raw):
        return None
    text = raw.strip()
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(field, f"{text!r} is not an IANA time zone such as Europe/Lisbon") from None
    return text


def attribute_key(key: str, field: str = "attributes") -> str:
    if len(key) > MAX_ATTRIBUTE_KEY or not ATTRIBUTE_KEY.fullmatch(key):
        raise InvalidInput(
            field,
            f"key {key!r} must be at most {MAX_ATTRIBUTE_KEY} characters of letters, digits and "
            "underscores, not starting with a digit",
        )
    return key


def attributes(values: dict[str, Any], field: str = "attributes") -> dict[str, Any]:
    """Keys like identifiers (they become ``{{variables}}`` in flows); values JSON scalars or lists
    of scalars, each at most 4 KiB as JSON."""
    if len(values) > MAX_ATTRIBUTES:
        raise InvalidInput(field, f"has {len(values)} keys; at most {MAX_ATTRIBUTES}")
    for key, value in values.items():
        attribute_key(key, field)
        where = f"{field}.{key}"
        if isinstance(value, list):
            if not all(isinstance(item, _SCALARS) for item in value):
                raise InvalidInput(where, "a list may hold only strings, numbers, booleans and nulls")
        elif not isinstance(value, _SCALARS):
            raise InvalidInput(where, "must be a string, number, boolean, null or a list of those")
        if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_ATTRIBUTE_BYTES:
            raise InvalidInput(where, f"is larger than {MAX_ATTRIBUTE_BYTES} bytes")
    return dict(values)


def tags(values: list[str], field: str = "tags") -> list[str]:
    """Trimmed, without blanks or repeats, in the order given."""
    cleaned: list[str] = []
    for value in values:
        tag = value.strip()
        if not tag:
            continue
        if len(tag) > MAX_TAG:
            raise InvalidInput(field, f"tag {tag[:20]!r}… is longer than {MAX_TAG} characters")
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput(field, f"has {len(cleaned)} tags; at most {MAX_TAGS}")
    return cleaned
