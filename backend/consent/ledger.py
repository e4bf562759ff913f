"""Writing the unsubscription list: entries, their append-only consent events and webhook deliveries.

Every change to an :class:`~backend.consent.tables.OptOutEntry` appends exactly one
:class:`~backend.consent.tables.ConsentEvent` and emits its webhook deliveries in the caller's transaction
(PRODUCT.md 4.3, 4.8): the list is the current state, the events the history it follows from, and no
webhook receiver hears of a change that was rolled back. Events are only ever inserted.

Durations (seed 000): an opt-out for an address with an active entry of the same category and scope
(NULL matching NULL) extends that entry instead of adding one: the durations add up, and permanent on
either side stays permanent. A reply to a campaign without an explicit validity lasts the category's
``unsubscribe_days``, or the workspace's ``marketing_unsubscription_days``; anything else without a
validity is permanent.

A :class:`Ledger` serves one workspace inside one transaction and reads what its writes share once (the
workspace's settings, categories, senders, the active entries of the addresses it holds), so a CSV batch
of hundreds of opt-outs costs little more than its inserts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
from piccolo.engine.postgres import PostgresEngine

from backend.audience.addresses import normalise_address
from backend.consent import observers, validation
from backend.consent.tables import ConsentEvent, OptOutEntry
from backend.core.database import current_engine, locked
from backend.webhooks import service as webhooks
from backend.workspaces.tables import DEFAULT_MARKETING_UNSUBSCRIPTION_DAYS

OPTED_OUT = "consent.opted_out"
OPTED_IN = "consent.opted_in"

Key = tuple[str, str]
"""(channel, address): what a ledger locks and caches the active entries of."""


@dataclass(frozen=True, slots=True)
class OptOutResult:
    entry: dict[str, Any]
    """The entry as stored after the change (all columns)."""
    event: dict[str, Any] | None
    """The consent event as JSON (what webhooks receive as ``data``); None when nothing changed."""
    created: bool
    """True: a new entry; False: an active entry was extended (event kind ``extended``), or left as it
    was when the opt-out added nothing to it (``changed`` False)."""
    deliveries: list[int] = field(default_factory=list)
    """Webhook deliveries written with the event; dispatch them once the transaction has committed."""
    changed: bool = True
    """False: the address was already opted out at least as long, by the person where this opt-out is
    theirs: nothing was written, no event recorded, no webhook emitted (a repeated STOP is a no-op)."""
    confirm: bool = False
    """True when this is the person's own opt-out and the entry was not theirs before (a new self-service
    entry, or an admin's or import's mark the person now made their own): the one moment a sender's
    confirmation message is due, so a confirmation goes out at most once per opt-out."""


def active_where(now: datetime) -> Any:
    """Not revoked, and permanent or not yet expired (the same as ``rules.blocking_conditions``)."""
    return OptOutEntry.revoked_at.is_null() & (
        OptOutEntry.valid_until.is_null() | (OptOutEntry.valid_until > now)
    )


def _is_active(entry: dict[str, Any], now: datetime) -> bool:
    return entry["revoked_at"] is None and (entry["valid_until"] is None or entry["valid_until"] > now)


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def event_json(row: dict[str, Any]) -> dict[str, Any]:
    """A consent event as API responses and webhook payloads carry it."""
    return {
        "id": row["id"],
        "at": _iso(row["at"]),
        "channel": row["channel"],
        "address": row["address"],
        "kind": row["kind"],
        "source": row["source"],
        "category_id": row["category_id"],
        "category_name": row["category_name"],
        "sender_id": row["sender_id"],
        "sender_name": row["sender_name"],
        "entry_id": row["entry_id"],
        "valid_until": _iso(row["valid_until"]),
        "actor": row["actor"],
        "reason": row["reason"],
        "evidence": _json_value(row["evidence"]) or {},
    }


def _added(current_until: datetime | None, extension: timedelta | None) -> datetime | None:
    """Durations add up; permanent on either side stays permanent."""
    if current_until is None or extension is None:
        return None
    return current_until + extension


class Ledger:
    """Opt-outs and opt-ins of one workspace inside the caller's transaction."""

    def __init__(self, workspace_id: int, now: datetime | None = None) -> None:
        self.workspace_id = workspace_id
        self.now = now or validation.now_utc()
        self._settings: dict[str, Any] | None = None
        self._categories: dict[int, dict[str, Any]] = {}
        self._senders: dict[int, dict[str, Any]] = {}
        self._active: dict[Key, list[dict[str, Any]]] = {}

    # --- what writes refer to -------------------------------------------------------------------------

    async def settings(self) -> dict[str, Any]:
        if self._settings is None:
            self._settings = await validation.workspace_settings(self.workspace_id)
        return self._settings

    async def category(self, category_id: int | None) -> dict[str, Any] | None:
        if category_id is None:
            return None
        if category_id not in self._categories:
            self._categories[category_id] = await validation.category_of(self.workspace_id, category_id)
        return self._categories[category_id]

    async def sender(self, sender_id: int | None, channel: str | None) -> dict[str, Any] | None:
        if sender_id is None:
            return None
        if sender_id not in self._senders:
            self._senders[sender_id] = await validation.sender_of(self.workspace_id, sender_id, None)
        sender = self._senders[sender_id]
        if channel is not None and sender["channel"] != channel:
            # Checked again through the uncached path so the message is the same everywhere.
            await validation.sender_of(self.workspace_id, sender_id, channel)
        return sender

    async def normalise(self, channel: str, address: str) -> str:
        settings = await self.settings()
        return normalise_address(channel, address, settings["default_phone_region"] or "")

    async def hold(self, keys: Iterable[Key]) -> None:
        """Serialise writers of these addresses until the transaction ends, and load their active entries.

        SQLite's immediate transaction already holds the one write lock. PostgreSQL has no row to lock for
        an address without entries, so transaction-scoped advisory locks stand in, taken in a fixed order
        (no deadlock between two batches), with the existing entries locked as well.
        """
        missing = sorted(set(keys) - self._active.keys())
        if not missing:
            return
        if isinstance(current_engine(), PostgresEngine):
            names = [f"optout:{self.workspace_id}:{channel}:{address}" for channel, address in missing]
            await OptOutEntry.raw(
                "SELECT pg_advisory_xact_lock(hashtext(name)) FROM unnest({}::text[]) AS name "
                "ORDER BY hashtext(name), name",
                names,
            )
        rows = await locked(
            OptOutEntry.select().where(
                (OptOutEntry.workspace == self.workspace_id)
                & OptOutEntry.address.is_in(sorted({address for _, address in missing}))
                & active_where(self.now)
            )
        )
        for key in missing:
            self._active[key] = []
        for row in rows:
            key = (row["channel"], row["address"])
            if key in self._active and key in missing:
                row["self_service"] = bool(row["self_service"])
                self._active[key].append(row)

    def _extendable(self, key: Key, category_id: int | None, sender_id: int | None) -> dict[str, Any] | None:
        """The active entry a new opt-out extends: same category and scope; the longest if several."""
        rows = [
            row
            for row in self._active[key]
            if row["category"] == category_id and row["sender"] == sender_id and _is_active(row, self.now)
        ]
        if not rows:
            return None
        permanent = [row for row in rows if row["valid_until"] is None]
        if permanent:
            return min(permanent, key=lambda row: row["id"])
        return max(rows, key=lambda row: row["valid_until"])

    async def _default_duration(self, source: str, category: dict[str, Any] | None) -> timedelta | None:
        """Seed 000: a campaign reply lasts the category's days, or the workspace's; else permanent."""
        if source != "campaign_reply":
            return None
        if category is not None:
            return timedelta(days=category["unsubscribe_days"])
        days = (await self.settings())["marketing_unsubscription_days"]
        return timedelta(days=days or DEFAULT_MARKETING_UNSUBSCRIPTION_DAYS)

    # --- writes -----------------------------------------------------------------------------------------

    async def opt_out(
        self,
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
        """Add an entry or extend the active one; every check runs before the first write."""
        validation.check_channel(channel)
        validation.check_source(source)
        validation.check_remarks(remarks)
        requested = validation.requested_extension(self.now, valid_days, valid_until)
        category = await self.category(category_id)
        sender = await self.sender(sender_id, channel)
        address = await self.normalise(channel, address)
        # None from here on means permanent.
        extension = requested if requested is not None else await self._default_duration(source, category)
        self_service = source in validation.SELF_SERVICE_SOURCES
        key = (channel, address)
        await self.hold([key])

        entry = self._extendable(key, category_id, sender_id)
        became_own = False
        if entry is None:
            entry = {
                "workspace": self.workspace_id,
                "channel": channel,
                "address": address,
                "category": category_id,
                "sender": sender_id,
                "valid_until": self.now + extension if extension is not None else None,
                "remarks": remarks,
                "source": source,
                "self_service": self_service,
                "created_by": actor[: validation.MAX_ACTOR],
                "created_at": self.now,
                "updated_at": self.now,
                "revoked_at": None,
                "revoked_by": "",
                "revoke_reason": "",
            }
            inserted = await OptOutEntry.insert(OptOutEntry(**entry)).returning(OptOutEntry.id)
            entry = {"id": inserted[0]["id"], **entry}
            self._active[key].append(entry)
            kind = "opt_out"
        else:
            valid_until = _added(entry["valid_until"], extension)
            became_own = self_service and not entry["self_service"]
            if valid_until == entry["valid_until"] and not became_own and (entry["remarks"] or not remarks):
                # Permanent already (or an extension of nothing): a repeated opt-out changes nothing,
                # so it writes nothing and tells no one (no "extended" event, no webhook, no confirmation).
                return OptOutResult(entry=dict(entry), event=None, created=False, changed=False)
            kind = "extended"
            entry["valid_until"] = valid_until
            entry["updated_at"] = self.now
            # The person's own opt-out is never downgraded to an overridable mark by a manual one.
            entry["self_service"] = entry["self_service"] or self_service
            if remarks and not entry["remarks"]:
                entry["remarks"] = remarks
            await OptOutEntry.update(
                {
                    OptOutEntry.valid_until: entry["valid_until"],
                    OptOutEntry.updated_at: self.now,
                    OptOutEntry.self_service: entry["self_service"],
                    OptOutEntry.remarks: entry["remarks"],
                }
            ).where(OptOutEntry.id == entry["id"])

        event, deliveries = await self._event(
            kind=kind,
            channel=channel,
            address=address,
            source=source,
            category=category,
            sender=sender,
            entry_id=entry["id"],
            valid_until=entry["valid_until"],
            actor=actor,
            reason=remarks,
            evidence=evidence,
        )
        return OptOutResult(
            entry=dict(entry),
            event=event,
            created=kind == "opt_out",
            deliveries=deliveries,
            confirm=self_service and (kind == "opt_out" or became_own),
        )

    async def opt_in(
        self,
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
    ) -> tuple[list[dict[str, Any]], dict[str, Any], list[int]]:
        """Revoke the matching active entries: the same scope exactly, the given category or every one."""
        validation.check_channel(channel)
        validation.check_source(source)
        category = await self.category(category_id)
        sender = await self.sender(sender_id, channel)
        address = await self.normalise(channel, address)
        key = (channel, address)
        await self.hold([key])
        entries = [
            row
            for row in self._active[key]
            if row["sender"] == sender_id
            and (category_id is None or row["category"] == category_id)
            and (not only_keyword_entries or row["source"] in validation.KEYWORD_SOURCES)
            and _is_active(row, self.now)
        ]
        return await self.revoke(
            entries,
            channel=channel,
            address=address,
            source=source,
            category=category,
            sender=sender,
            actor=actor,
            reason=reason,
            evidence=evidence,
        )

    async def revoke(
        self,
        entries: list[dict[str, Any]],
        *,
        channel: str,
        address: str,
        source: str,
        category: dict[str, Any] | None,
        sender: dict[str, Any] | None,
        actor: str,
        reason: str,
        evidence: dict[str, Any] | None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any], list[int]]:
        """Revoke ``entries`` (full rows) and write the one ``opt_in`` event saying who and why.

        The event is written even when nothing was active: it records the person's statement of consent.
        """
        ids = [entry["id"] for entry in entries]
        if ids:
            await OptOutEntry.update(
                {
                    OptOutEntry.revoked_at: self.now,
                    OptOutEntry.revoked_by: actor[: validation.MAX_ACTOR],
                    OptOutEntry.revoke_reason: reason[: validation.MAX_REMARKS],
                    OptOutEntry.updated_at: self.now,
                }
            ).where(OptOutEntry.id.is_in(ids))
        revoked = []
        for entry in entries:
            entry.update(
                revoked_at=self.now,
                revoked_by=actor[: validation.MAX_ACTOR],
                revoke_reason=reason[: validation.MAX_REMARKS],
                updated_at=self.now,
            )
            revoked.append(dict(entry))
        proof = {**(evidence or {}), "revoked_entry_ids": ids}
        event, deliveries = await self._event(
            kind="opt_in",
            channel=channel,
            address=address,
            source=source,
            category=category,
            sender=sender,
            entry_id=ids[0] if len(ids) == 1 else None,
            valid_until=None,
            actor=actor,
            reason=reason,
            evidence=proof,
        )
        return sorted(revoked, key=lambda entry: entry["id"]), event, deliveries

    async def _event(
        self,
        *,
        kind: str,
        channel: str,
        address: str,
        source: str,
        category: dict[str, Any] | None,
        sender: dict[str, Any] | None,
        entry_id: int | None,
        valid_until: datetime | None,
        actor: str,
        reason: str,
        evidence: dict[str, Any] | None,
    ) -> tuple[dict[str, Any], list[int]]:
        """Append one consent event and emit its webhook deliveries."""
        values = {
            "at": self.now,
            "channel": channel,
            "address": address,
            "kind": kind,
            "source": source,
            "category_id": category["id"] if category else None,
            "category_name": category["name"] if category else "",
            "sender_id": sender["id"] if sender else None,
            "sender_name": sender["name"] if sender else "",
            "entry_id": entry_id,
            "valid_until": valid_until,
            "actor": actor[: validation.MAX_ACTOR],
            "reason": reason,
            "evidence": msgspec.to_builtins(evidence or {}),
        }
        inserted = await ConsentEvent.insert(ConsentEvent(workspace=self.workspace_id, **values)).returning(
            ConsentEvent.id
        )
        event = event_json({"id": inserted[0]["id"], **values})
        await observers.notify(self.workspace_id, event)
        deliveries = await webhooks.emit(
            self.workspace_id, OPTED_IN if kind == "opt_in" else OPTED_OUT, event
        )
        return event, deliveries
