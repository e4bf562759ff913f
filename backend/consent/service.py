"""The consent service every domain calls: record opt-outs and opt-ins, the API's writes, and where an
address stands. The writes themselves (entries, events, webhook deliveries, durations adding up) live in
:mod:`backend.consent.ledger`; this module opens the transactions around them, audits what API callers
do, and hands webhook deliveries to the queue once committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar.exceptions import PermissionDeniedException

from backend.audit import service as audit
from backend.consent.ledger import Ledger, OptOutResult, active_where, event_json
from backend.consent.tables import ConsentEvent, OptOutEntry
from backend.consent.validation import check_remarks, lookup_address, now_utc
from backend.core.database import current_engine, locked, transaction
from backend.core.errors import Conflict, InvalidInput, NotFound
from backend.webhooks import service as webhooks
from backend.workspaces.auth import Principal
from backend.workspaces.roles import CredentialKind, Role

__all__ = [
    "OptOutResult",
    "address_state",
    "apply_opt_in",
    "apply_opt_out",
    "create_opt_out",
    "in_outer_transaction",
    "record_opt_in",
    "record_opt_out",
    "revoke_entry",
]


def in_outer_transaction() -> bool:
    """Whether a caller's transaction is open: then "after the commit" is the caller's moment, not ours."""
    return current_engine().current_transaction.get() is not None


# --- for every domain -------------------------------------------------------------------------------


async def apply_opt_out(
    workspace_id: int,
    *,
    channel: str,
    address: str,
    source: str,
    category_id: int | None = None,
    sender_id: int | None = None,
    valid_until: datetime | None = None,
    valid_days: int | None = None,
    remarks: str = "",
    actor: str,
    evidence: dict[str, Any] | None = None,
) -> OptOutResult:
    """:func:`record_opt_out` inside the caller's transaction; the caller dispatches ``result.deliveries``
    after its commit (or leaves them to the webhook sweeper)."""
    return await Ledger(workspace_id).opt_out(
        channel=channel,
        address=address,
        source=source,
        category_id=category_id,
        sender_id=sender_id,
        valid_until=valid_until,
        valid_days=valid_days,
        remarks=remarks,
        actor=actor,
        evidence=evidence,
    )


async def record_opt_out(
    workspace_id: int,
    *,
    channel: str,
    address: str,
    source: str,
    category_id: int | None = None,
    sender_id: int | None = None,
    valid_until: datetime | None = None,
    valid_days: int | None = None,
    remarks: str = "",
    actor: str,
    evidence: dict | None = None,
    queue: Any = None,
) -> OptOutResult:
    """Add an address to the unsubscription list, or extend its active entry (seed 000).

    ``sender_id`` None is workspace-wide, ``category_id`` None is all marketing; ``self_service`` follows
    from ``source`` (keyword, web_form, unsubscribe_link, provider, campaign_reply). The address is
    normalised with the workspace's phone region; bad input raises :class:`InvalidInput` naming the
    field, before anything is written. The entry, its event and its webhook deliveries commit together;
    with ``queue`` the deliveries are enqueued after the commit. Called inside a transaction of the
    caller's, it joins it and leaves ``result.deliveries`` to the caller (or the webhook sweeper).
    """
    nested = in_outer_transaction()
    async with transaction():
        result = await apply_opt_out(
            workspace_id,
            channel=channel,
            address=address,
            source=source,
            category_id=category_id,
            sender_id=sender_id,
            valid_until=valid_until,
            valid_days=valid_days,
            remarks=remarks,
            actor=actor,
            evidence=evidence,
        )
    if not nested:
        await webhooks.dispatch(queue, result.deliveries)
    return result


async def apply_opt_in(
    workspace_id: int,
    *,
    channel: str,
    address: str,
    source: str,
    category_id: int | None = None,
    sender_id: int | None = None,
    actor: str,
    reason: str = "",
    evidence: dict[str, Any] | None = None,
    only_keyword_entries: bool = False,
) -> tuple[list[dict[str, Any]], list[int]]:
    """:func:`record_opt_in` inside the caller's transaction: the revoked entries and the deliveries."""
    revoked, _, deliveries = await Ledger(workspace_id).opt_in(
        channel=channel,
        address=address,
        source=source,
        category_id=category_id,
        sender_id=sender_id,
        actor=actor,
        reason=reason,
        evidence=evidence,
        only_keyword_entries=only_keyword_entries,
    )
    return revoked, deliveries


async def record_opt_in(
    workspace_id: int,
    *,
    channel: str,
    address: str,
    source: str,
    category_id: int | None = None,
    sender_id: int | None = None,
    actor: str,
    reason: str = "",
    evidence: dict | None = None,
    queue: Any = None,
    only_keyword_entries: bool = False,
) -> list[dict]:
    """Opt an address back in: revoke its matching active entries and write one ``opt_in`` event.

    Matching: the same scope exactly (``sender_id`` None: the workspace-wide entries), and the given
    category or, with ``category_id`` None, every category. ``only_keyword_entries`` limits it to what a
    keyword did (sources ``keyword`` and ``campaign_reply``): an opt-in keyword may reverse nothing else.
    The event is written even when nothing was active, as the person's statement. Returns the revoked
    entries.
    """
    nested = in_outer_transaction()
    async with transaction():
        revoked, deliveries = await apply_opt_in(
            workspace_id,
            channel=channel,
            address=address,
            source=source,
            category_id=category_id,
            sender_id=sender_id,
            actor=actor,
            reason=reason,
            evidence=evidence,
            only_keyword_entries=only_keyword_entries,
        )
    if not nested:
        await webhooks.dispatch(queue, deliveries)
    return revoked


# --- the API's writes -------------------------------------------------------------------------------


def api_source(principal: Principal) -> str:
    """Someone in the UI (a login session) adds a ``manual`` entry; an integration's key an ``api`` one."""
    return "manual" if principal.kind == CredentialKind.session else "api"


async def create_opt_out(
    principal: Principal,
    *,
    channel: str,
    address: str,
    category_id: int | None,
    sender_id: int | None,
    valid_days: int | None,
    valid_until: datetime | None,
    remarks: str,
    queue: Any,
) -> OptOutResult:
    """POST /optouts: an admin's or an integration's opt-out, audited with the entry it made or extended."""
    async with transaction():
        result = await apply_opt_out(
            principal.workspace_id,
            channel=channel,
            address=address,
            source=api_source(principal),
            category_id=category_id,
            sender_id=sender_id,
            valid_days=valid_days,
            valid_until=valid_until,
            remarks=remarks,
            actor=principal.label,
        )
        until = result.entry["valid_until"]
        await audit.record(
            principal,
            "optout.created" if result.created else "optout.extended",
            target_type="optout",
            target_id=result.entry["id"],
            data={
                "channel": channel,
                "address": result.entry["address"],
                "category_id": category_id,
                "sender_id": sender_id,
                "valid_until": until.isoformat() if isinstance(until, datetime) else until,
            },
        )
    await webhooks.dispatch(queue, result.deliveries)
    return result


async def revoke_entry(principal: Principal, entry_id: int, reason: str, queue: Any) -> dict[str, Any]:
    """DELETE /optouts/{id}: opt the address back in by revoking this entry, recording who and why.

    The person's own opt-out (self-service) may be reversed only by an admin who says why: it was their
    decision, and lifting it must leave an explanation behind.
    """
    reason = check_remarks(reason.strip(), "reason")
    async with transaction():
        ledger = Ledger(principal.workspace_id)
        entry = await locked(
            OptOutEntry.select().where(
                (OptOutEntry.id == entry_id) & (OptOutEntry.workspace == principal.workspace_id)
            )
        ).first()
        if entry is None:
            raise NotFound("opt-out entry", entry_id)
        if entry["revoked_at"] is not None:
            raise Conflict(f"opt-out entry {entry_id} was already revoked by {entry['revoked_by']}")
        if entry["valid_until"] is not None and entry["valid_until"] <= ledger.now:
            raise Conflict(f"opt-out entry {entry_id} has already expired")
        if entry["self_service"]:
            if not principal.role.allows(Role.admin):
                raise PermissionDeniedException(
                    f"the person opted out themselves ({entry['source']}); only an admin may opt them back in"
                )
            if not reason:
                raise InvalidInput(
                    "reason", "say why a person's own opt-out is reversed (?reason=…)", source="query"
                )
        revoked, event, deliveries = await ledger.revoke(
            [entry],
            channel=entry["channel"],
            address=entry["address"],
            source=api_source(principal),
            category=await ledger.category(entry["category"]),
            sender=await ledger.sender(entry["sender"], None),
            actor=principal.label,
            reason=reason,
            evidence=None,
        )
        await audit.record(
            principal,
            "optout.revoked",
            target_type="optout",
            target_id=entry_id,
            data={"address": entry["address"], "reason": reason, "event_id": event["id"]},
        )
    await webhooks.dispatch(queue, deliveries)
    return revoked[0]


# --- current state ----------------------------------------------------------------------------------


async def address_state(
    workspace_id: int, channel: str, address: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """Where an address stands: its active entries (any category or scope) and its latest event.

    For the UI's contact page and the compose-box warning; the gate answers "may this message go".
    """
    now = now or now_utc()
    address = await lookup_address(workspace_id, channel, address, source="body")
    active = await (
        OptOutEntry.select()
        .where(
            (OptOutEntry.workspace == workspace_id)
            & (OptOutEntry.channel == channel)
            & (OptOutEntry.address == address)
            & active_where(now)
        )
        .order_by(OptOutEntry.id)
    )
    last = (
        await ConsentEvent.select()
        .where(
            (ConsentEvent.workspace == workspace_id)
            & (ConsentEvent.channel == channel)
            & (ConsentEvent.address == address)
        )
        .order_by(ConsentEvent.id, ascending=False)
        .first()
    )
    return {
        "channel": channel,
        "address": address,
        "opted_out": bool(active),
        "active_entries": active,
        "last_event": event_json(last) if last else None,
    }
