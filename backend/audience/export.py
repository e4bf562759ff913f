"""CSV export of contacts, streamed in keyset pages so a million contacts never sit in memory.

The file is shaped so it imports back unchanged through ``POST /contacts/import``: the standard
columns (``phone, email, name, timezone, tags``), then one column per attribute key. Attribute keys
vary per contact, so a first pass reads only the selection's attributes to learn the header; the second
pass writes the rows. Ids and timestamps are left out on purpose: imported, they would become
attributes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from piccolo.query import Select

from backend.audience.contact_import import ALIASES, STANDARD_COLUMNS
from backend.audience.tables import Contact

PAGE_SIZE = 1000
KEY_PAGE_SIZE = 5000
STANDARD = ("phone", "email", "name", "timezone", "tags")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

QueryFactory = Callable[..., Awaitable[Select]]
"""``make_query(*columns)``: a fresh filtered query per page selecting ``columns`` (all when none);
Piccolo queries change in place as conditions are added, so a query serves one page only."""


def attribute_column(key: str) -> str:
    """The header of an attribute: its key, unless the import would read that key as a standard column
    (an attribute called ``phone`` or ``mobile``), which gets ``attr_`` in front."""
    return f"attr_{key}" if key in STANDARD_COLUMNS or key in ALIASES else key


def safe(text: str) -> str:
    """Free text a spreadsheet would run as a formula gets a leading quote (CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def cell(value: Any) -> str:
    """An attribute value as text: lists as JSON, booleans as true/false, null as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def csv_row(contact: dict[str, Any], keys: list[str]) -> list[str]:
    attributes = contact.get("attributes") or {}
    return [
        contact.get("phone") or "",
        contact.get("email") or "",
        safe(contact.get("name") or ""),
        contact.get("timezone") or "",
        safe(";".join(contact.get("tags") or [])),
        *(safe(cell(attributes.get(key))) for key in keys),
    ]


def lines(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def attribute_keys(make_query: QueryFactory) -> list[str]:
    """Every attribute key of the selection, sorted (first pass: ids and attributes only)."""
    keys: set[str] = set()
    last_id = 0
    while True:
        query = await make_query(Contact.id, Contact.attributes)
        rows = await query.where(Contact.id > last_id).order_by(Contact.id).limit(KEY_PAGE_SIZE)
        for row in rows:
            keys.update(row["attributes"] or {})
        if len(rows) < KEY_PAGE_SIZE:
            return sorted(keys)
        last_id = rows[-1]["id"]


async def stream_csv(make_query: QueryFactory) -> AsyncIterator[str]:
    """The header, then the contacts in id order, one keyset page at a time."""
    keys = await attribute_keys(make_query)
    yield lines([[*STANDARD, *(attribute_column(key) for key in keys)]])
    last_id = 0
    while True:
        query = await make_query()
        rows = await query.where(Contact.id > last_id).order_by(Contact.id).limit(PAGE_SIZE)
        if not rows:
            return
        yield lines([csv_row(row, keys) for row in rows])
        if len(rows) < PAGE_SIZE:
            return
        last_id = rows[-1]["id"]
