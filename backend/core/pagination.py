"""Cursor pagination for every list endpoint: stable under inserts, cheap on large tables (keyset on id)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec
from litestar.params import QueryParameter
from piccolo.columns import Column
from piccolo.query import Select

from backend.core.edge import MAX_ID
from backend.core.errors import InvalidInput
from backend.core.schemas import Output

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

LimitParam = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Items per page (1-500).")]
CursorParam = Annotated[str | None, QueryParameter(description="`next_cursor` of the previous page.")]


class Page(Output, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "id":
            raise ValueError(kind)
        last_id = int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor", "not a cursor this API returned", source="query") from None
    if not 0 <= last_id <= MAX_ID:
        # The database cannot compare ids with a number beyond int64 (a 500 otherwise): core/edge.py.
        raise InvalidInput("cursor", "not a cursor this API returned", source="query")
    return last_id


Order = Literal["oldest", "newest"]
"""``oldest`` first (the default of every list: what an integrator syncing a list wants) or ``newest``
first (the logs a person reads: audit log, webhook deliveries)."""


async def fetch_page(
    query: Select, id_column: Column, cursor: str | None, limit: int, order: Order = "oldest"
) -> tuple[list[Any], str | None]:
    """Rows after ``cursor`` in ``order`` of id, and the cursor of the next page (None on the last one).

    Walking ids downwards for ``newest`` keeps the cursor format and stays stable while rows arrive: new
    ones sort before the first page, never into a later one.
    """
    newest = order == "newest"
    if cursor:
        after = decode_cursor(cursor)
        query = query.where(id_column < after if newest else id_column > after)
    rows = await query.order_by(id_column, ascending=not newest).limit(limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1][id_column._meta.name]) if has_more and rows else None
    return rows, next_cursor


def to_page(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": [msgspec.to_builtins(item) for item in items], "next_cursor": next_cursor}
