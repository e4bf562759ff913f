"""CSV export of the unsubscription list, streamed page by page so a 100k-entry list never sits in memory."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from piccolo.query import Select

from backend.consent.queries import entry_out
from backend.consent.tables import OptOutEntry

PAGE_SIZE = 1000
COLUMNS = (
    "id",
    "channel",
    "address",
    "category_id",
    "category",
    "sender_id",
    "sender",
    "scope",
    "valid_until",
    "active",
    "source",
    "self_service",
    "remarks",
    "created_by",
    "created_at",
    "updated_at",
    "revoked_at",
    "revoked_by",
    "revoke_reason",
)
_FREE_TEXT = ("category", "sender", "remarks", "created_by", "revoked_by", "revoke_reason")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _safe(text: str) -> str:
    """Typed text that a spreadsheet would run as a formula is quoted (CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_row(row: dict[str, Any], now: datetime) -> list[str]:
    out = entry_out(row, now)
    values = {
        **out,
        "category": out["category_name"],
        "sender": out["sender_name"],
    }
    cells = {column: _cell(values[column]) for column in COLUMNS}
    for column in _FREE_TEXT:
        cells[column] = _safe(cells[column])
    return [cells[column] for column in COLUMNS]


def _lines(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue()


async def stream_csv(make_query: Callable[[], Select], now: datetime) -> AsyncIterator[str]:
    """The header, then the entries in id order, one keyset page at a time (a fresh query per page)."""
    yield _lines([list(COLUMNS)])
    last_id = 0
    while True:
        rows = await make_query().where(OptOutEntry.id > last_id).order_by(OptOutEntry.id).limit(PAGE_SIZE)
        if not rows:
            return
        yield _lines([csv_row(row, now) for row in rows])
        if len(rows) < PAGE_SIZE:
            return
        last_id = rows[-1]["id"]
