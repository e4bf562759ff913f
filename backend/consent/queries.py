"""Reading the unsubscription list and the consent history, always within one workspace.

Shared by the list, export and check endpoints, so a filter means the same everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from piccolo.query import Select

from backend.consent.ledger import active_where
from backend.consent.tables import ConsentEvent, OptOutEntry
from backend.core.errors import NotFound

ENTRY_COLUMNS = (
    OptOutEntry.id,
    OptOutEntry.channel,
    OptOutEntry.address,
    OptOutEntry.category,
    OptOutEntry.category.name.as_alias("category_name"),
    OptOutEntry.sender,
    OptOutEntry.sender.name.as_alias("sender_name"),
    OptOutEntry.valid_until,
    OptOutEntry.remarks,
    OptOutEntry.source,
    OptOutEntry.self_service,
    OptOutEntry.created_by,
    OptOutEntry.created_at,
    OptOutEntry.updated_at,
    OptOutEntry.revoked_at,
    OptOutEntry.revoked_by,
    OptOutEntry.revoke_reason,
)


def entries_query(workspace_id: int) -> Select:
    return OptOutEntry.select(*ENTRY_COLUMNS).where(OptOutEntry.workspace == workspace_id)


def filter_entries(
    query: Select,
    *,
    now: datetime,
    channel: str | None = None,
    address: str | None = None,
    category_id: int | None = None,
    sender_id: int | None = None,
    scope: str | None = None,
    source: str | None = None,
    active: bool | None = None,
    updated_since: datetime | None = None,
) -> Select:
    """The list filters; ``address`` must already be normalised (see ``service.lookup_address``)."""
    if channel is not None:
        query = query.where(OptOutEntry.channel == channel)
    if address is not None:
        query = query.where(OptOutEntry.address == address)
    if category_id is not None:
        query = query.where(OptOutEntry.category == category_id)
    if sender_id is not None:
        query = query.where(OptOutEntry.sender == sender_id)
    if scope == "workspace":
        query = query.where(OptOutEntry.sender.is_null())
    elif scope == "sender":
        query = query.where(OptOutEntry.sender.is_not_null())
    if source is not None:
        query = query.where(OptOutEntry.source == source)
    if active is True:
        query = query.where(active_where(now))
    elif active is False:
        query = query.where(
            OptOutEntry.revoked_at.is_not_null()
            | (OptOutEntry.valid_until.is_not_null() & (OptOutEntry.valid_until <= now))
        )
    if updated_since is not None:
        query = query.where(OptOutEntry.updated_at >= as_utc(updated_since))
    return query


def as_utc(moment: datetime) -> datetime:
    """Query times without an offset are read as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def entry_out(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """An entry row as the API shows it, with its scope and whether it is active right now."""
    valid_until = row["valid_until"]
    return {
        "id": row["id"],
        "channel": row["channel"],
        "address": row["address"],
        "category_id": row["category"],
        "category_name": row.get("category_name"),
        "sender_id": row["sender"],
        "sender_name": row.get("sender_name"),
        "scope": "workspace" if row["sender"] is None else "sender",
        "valid_until": valid_until,
        "permanent": valid_until is None,
        "active": row["revoked_at"] is None and (valid_until is None or valid_until > now),
        "remarks": row["remarks"],
        "source": row["source"],
        "self_service": bool(row["self_service"]),
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "revoked_at": row["revoked_at"],
        "revoked_by": row["revoked_by"],
        "revoke_reason": row["revoke_reason"],
    }


async def get_entry(workspace_id: int, entry_id: int) -> dict[str, Any]:
    row = await entries_query(workspace_id).where(OptOutEntry.id == entry_id).first()
    if row is None:
        raise NotFound("opt-out entry", entry_id)
    return row


async def entries_by_id(workspace_id: int, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    return await entries_query(workspace_id).where(OptOutEntry.id.is_in(ids)).order_by(OptOutEntry.id)


def events_query(
    workspace_id: int,
    *,
    channel: str | None = None,
    address: str | None = None,
    since: datetime | None = None,
    kind: str | None = None,
) -> Select:
    """The consent history, kept by address so it outlives contacts; ``address`` already normalised."""
    query = ConsentEvent.select().where(ConsentEvent.workspace == workspace_id).output(load_json=True)
    if channel is not None:
        query = query.where(ConsentEvent.channel == channel)
    if address is not None:
        query = query.where(ConsentEvent.address == address)
    if since is not None:
        query = query.where(ConsentEvent.at >= as_utc(since))
    if kind is not None:
        query = query.where(ConsentEvent.kind == kind)
    return query
