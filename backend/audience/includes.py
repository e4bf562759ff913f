"""Optional parts of a contact that a list can ask for with ``?include=``: its active opt-outs and its
groups, fetched for a whole page at once.

A contacts table that shows an opt-out badge per channel would otherwise need one
``GET /optouts/check`` per row and channel (200 requests for a page of 50); here a page costs two more
queries per part, each on an index: opt-out entries by ``(workspace, channel, address)`` for the page's
phones and emails, and memberships by contact.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from backend.audience.addresses import PHONE_CHANNELS
from backend.audience.tables import GroupMember
from backend.consent.ledger import active_where
from backend.consent.queries import entries_query, entry_out
from backend.consent.tables import OptOutEntry

Include = Literal["opt_outs", "groups"]
INCLUDE_DESCRIPTION = (
    "Extra parts of each contact: `opt_outs` (its active opt-out entries on every channel, as "
    "`GET /optouts` shows them) and `groups` (`{id, name}` of the groups it belongs to). Repeat the "
    "parameter for both."
)


async def attach(workspace_id: int, rows: list[dict[str, Any]], include: Iterable[str] | None) -> None:
    """Add the asked-for parts to each contact row in place (nothing is added when none is asked)."""
    wanted = set(include or ())
    if not rows or not wanted:
        return
    if "opt_outs" in wanted:
        by_contact = await active_opt_outs(workspace_id, rows, datetime.now(UTC))
        for row in rows:
            row["opt_outs"] = by_contact.get(row["id"], [])
    if "groups" in wanted:
        memberships = await groups_of(workspace_id, [row["id"] for row in rows])
        for row in rows:
            row["groups"] = memberships.get(row["id"], [])


async def active_opt_outs(
    workspace_id: int, rows: list[dict[str, Any]], now: datetime
) -> dict[int, list[dict[str, Any]]]:
    """The entries in force now for each contact's phone (whatsapp, sms, viber) and email, in id order.

    Every active entry is listed, whatever its category and scope: a badge says "opted out on SMS"
    when any applies, and the entries say for which category and sender.
    """
    by_phone = {row["phone"]: row["id"] for row in rows if row.get("phone")}
    by_email = {row["email"]: row["id"] for row in rows if row.get("email")}
    found: dict[int, list[dict[str, Any]]] = {}
    lookups = (
        (sorted(PHONE_CHANNELS), by_phone),
        (["email"], by_email),
    )
    for channels, owners in lookups:
        if not owners:
            continue
        entries = (
            await entries_query(workspace_id)
            .where(
                OptOutEntry.channel.is_in(channels)
                & OptOutEntry.address.is_in(sorted(owners))
                & active_where(now)
            )
            .order_by(OptOutEntry.id)
        )
        for entry in entries:
            found.setdefault(owners[entry["address"]], []).append(entry_out(entry, now))
    for entries in found.values():
        entries.sort(key=lambda entry: entry["id"])
    return found


async def groups_of(workspace_id: int, contact_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """``{contact id: [{id, name}, …]}`` of the groups each contact is a member of, by group id."""
    if not contact_ids:
        return {}
    rows = (
        await GroupMember.select(
            GroupMember.contact,
            GroupMember.group.id.as_alias("group_id"),
            GroupMember.group.name.as_alias("group_name"),
        )
        .where((GroupMember.workspace == workspace_id) & GroupMember.contact.is_in(contact_ids))
        .order_by(GroupMember.group)
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["contact"], []).append({"id": row["group_id"], "name": row["group_name"]})
    return found
