"""The consent gate: may this message go? Every send path calls :func:`may_send` right before sending.

PRODUCT.md 5: a marketing message is blocked when an active opt-out entry applies; transactional and
conversational messages are never blocked by marketing opt-outs, and cost no query. The rule itself lives
in :mod:`backend.consent.rules` (shared with the audience anti-joins, so a listing never disagrees with the
gate); this module only runs it as one query on the ``(workspace, channel, address)`` index. There is no
cache: an opt-out committed a moment ago stops the very next message (invariant 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from backend.consent import rules
from backend.consent.tables import OptOutEntry
from backend.consent.validation import lookup_address
from backend.core.errors import InvalidInput

KINDS = ("marketing", "transactional", "conversational")
OPTED_OUT = "opted_out"

_ADDRESS = "\x00address\x00"
"""Stands in for the address parameter while the rule's SQL is built, to find its argument position."""
_COLUMNS = (
    "e.id, e.channel, e.address, e.category, e.sender, e.valid_until, e.source, e.self_service, "
    "e.remarks, e.created_by, e.created_at, e.updated_at"
)


@dataclass(frozen=True, slots=True)
class GateDecision:
    allowed: bool
    reason: str | None = None
    """``opted_out`` when blocked."""
    entries: list[dict[str, Any]] = field(default_factory=list)
    """The entries that block the message (empty when allowed)."""


ALLOWED = GateDecision(allowed=True)


def blocking_query(target: rules.Target, address: str, now: datetime) -> tuple[str, list[Any]]:
    """The SQL (Piccolo ``{}`` placeholders) and arguments selecting the entries that block ``target``.

    :func:`rules.blocking_conditions` places the address among its other parameters; the address goes in
    at the position of its placeholder, found from the marker, so the arguments always line up.
    """
    conditions, args = rules.blocking_conditions(target, _ADDRESS, now)
    head, _, _ = conditions.partition(_ADDRESS)
    args = list(args)
    args.insert(head.count("{}"), address)
    sql = (
        f"SELECT {_COLUMNS} FROM {rules.ENTRY_TABLE} e "
        f"WHERE {conditions.replace(_ADDRESS, '{}')} ORDER BY e.id"
    )
    return sql, args


async def blocking_entries(target: rules.Target, address: str, now: datetime) -> list[dict[str, Any]]:
    """Entries blocking ``target`` for an already normalised ``address``; one indexed query."""
    sql, args = blocking_query(target, address, now)
    rows = await OptOutEntry.raw(sql, *args)
    for row in rows:
        row["self_service"] = bool(row["self_service"])
    return rows


async def may_send(
    workspace_id: int,
    *,
    channel: str,
    address: str,
    kind: str,
    sender_id: int | None = None,
    category_id: int | None = None,
    opted_in_only: bool = True,
    now: datetime | None = None,
) -> GateDecision:
    """Whether a message of ``kind`` may go to ``address`` on ``channel`` now.

    ``sender_id`` None counts every scope (strict); ``category_id`` None means the message is marketing
    of no particular category, which any category's opt-out blocks. ``opted_in_only`` is the campaign
    toggle: off, only the person's own opt-outs block (admins' and imports' marks are overridden).
    Raises :class:`InvalidInput` for an unknown kind or channel, or an address that is not one.
    """
    if kind not in KINDS:
        raise InvalidInput("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    if kind != "marketing":
        return ALLOWED
    normalised = await lookup_address(workspace_id, channel, address, source="body")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    target = rules.Target(
        workspace_id=workspace_id,
        channel=channel,
        sender_id=sender_id,
        category_id=category_id,
        opted_in_only=opted_in_only,
    )
    entries = await blocking_entries(target, normalised, moment)
    if entries:
        return GateDecision(allowed=False, reason=OPTED_OUT, entries=entries)
    return ALLOWED


async def blocked_addresses(
    target: rules.Target, addresses: list[str], now: datetime, *, raw: Any = None
) -> dict[str, list[dict[str, Any]]]:
    """The batch gate: which of ``addresses`` (normalised) a marketing message for ``target`` may not reach.

    The same rule as :func:`may_send` (one :func:`rules.blocking_conditions`), with ``IN (…)`` over a
    whole chunk's addresses: one query per chunk where the send path would otherwise make one per
    message. Returns ``{address: blocking entries}`` for the blocked ones only. ``raw`` runs the query
    elsewhere than Piccolo's ``OptOutEntry.raw`` (the send worker's own SQLite connection).
    """
    unique = sorted(set(addresses))
    if not unique:
        return {}
    conditions, args = rules.blocking_conditions(target, _ADDRESS, now)
    head, _, _ = conditions.partition(_ADDRESS)
    position = head.count("{}")
    args = [*args[:position], *unique, *args[position:]]
    placeholders = ", ".join("{}" for _ in unique)
    where = conditions.replace(f"= {_ADDRESS}", f"IN ({placeholders})")
    rows = await (raw or OptOutEntry.raw)(
        f"SELECT {_COLUMNS} FROM {rules.ENTRY_TABLE} e WHERE {where} ORDER BY e.id", *args
    )
    blocked: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        row["self_service"] = bool(row["self_service"])
        blocked.setdefault(row["address"], []).append(row)
    return blocked
