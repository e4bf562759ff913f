"""Reading messages: the workspace's list (newest first) and a contact's conversation (oldest first)."""

from __future__ import annotations

from typing import Any

from piccolo.query import Select

from backend.core.pagination import decode_cursor, encode_cursor
from backend.messages.tables import Message


def messages_query(workspace_id: int, **filters: Any) -> Select:
    """The workspace's messages with the given column filters (``None`` values are ignored)."""
    query = Message.select().where(Message.workspace == workspace_id).output(load_json=True)
    columns = {
        "campaign_id": Message.campaign_id,
        "status": Message.status,
        "failure_reason": Message.failure_reason,
        "contact_id": Message.contact,
        "sender_id": Message.sender,
        "direction": Message.direction,
        "kind": Message.kind,
    }
    for name, value in filters.items():
        if value is not None:
            query = query.where(columns[name] == value)
    return query


async def newest_first(query: Select, cursor: str | None, limit: int) -> tuple[list[dict], str | None]:
    """Keyset pagination backwards on id: the latest messages first, stable while new ones arrive."""
    if cursor:
        query = query.where(Message.id < decode_cursor(cursor))
    rows = await query.order_by(Message.id, ascending=False).limit(limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]["id"]) if has_more and rows else None
