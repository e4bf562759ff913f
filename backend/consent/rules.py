"""The one rule of the consent gate, written once and used by every path that decides who may get
marketing: the per-message gate (:mod:`backend.consent.gate`) and every audience query (group members
filtered by opt-out, campaign audiences), so a listing can never disagree with the gate.

An opt-out entry *blocks* a marketing message to ``address`` on ``channel`` from ``sender`` in
``category`` at ``now`` when all of these hold:

- same workspace, channel and address;
- it is active: not revoked, and permanent or ``valid_until`` after ``now``;
- category: the entry covers all marketing (NULL), or the message's category; a message without a
  category counts as *all* marketing, so any category's opt-out blocks it (strict by design);
- scope: the entry is workspace-wide (sender NULL), or for the sending sender; when the sender is not
  known (a listing without ``sender_id``) every entry counts;
- with the campaign toggle "send only to contacts opted in for marketing" OFF, only entries the person
  made themselves (``self_service``: keyword, web form, unsubscribe link, provider signal) block: an
  admin's or an import's "not consenting" mark may be overridden, the person's own opt-out never.

Transactional and conversational messages are never blocked by marketing opt-outs (PRODUCT.md 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

ENTRY_TABLE = '"opt_out_entries"'


@dataclass(frozen=True, slots=True)
class Target:
    """What a message or an audience is: whose workspace, which channel, from which sender, which category."""

    workspace_id: int
    channel: str
    sender_id: int | None = None
    category_id: int | None = None
    opted_in_only: bool = True
    """The campaign toggle; False lets through entries not made by the person themselves."""


def blocking_conditions(
    target: Target, address_sql: str, now: datetime, alias: str = "e"
) -> tuple[str, list[Any]]:
    """SQL conditions (Piccolo ``{}`` placeholders) true for the entries ``alias`` that block ``target``.

    ``address_sql`` is the address to match: ``"{}"`` for a parameter (then insert the address into the
    returned arguments at index 2, the position of its placeholder, between channel and ``now``) or a
    column such as ``"contacts"."phone"`` for an anti-join (no argument).
    """
    sql = [
        f"{alias}.workspace = {{}}",
        f"{alias}.channel = {{}}",
        f"{alias}.address = {address_sql}",
        f"{alias}.revoked_at IS NULL",
        f"({alias}.valid_until IS NULL OR {alias}.valid_until > {{}})",
    ]
    args: list[Any] = [target.workspace_id, target.channel, now]
    if target.category_id is not None:
        sql.append(f"({alias}.category IS NULL OR {alias}.category = {{}})")
        args.append(target.category_id)
    if target.sender_id is not None:
        sql.append(f"({alias}.sender IS NULL OR {alias}.sender = {{}})")
        args.append(target.sender_id)
    if not target.opted_in_only:
        sql.append(f"{alias}.self_service = {{}}")
        args.append(True)
    return " AND ".join(sql), args


def not_opted_out_sql(target: Target, address_column: str, now: datetime) -> tuple[str, list[Any]]:
    """``NOT EXISTS (…)`` for an audience query over contacts (an anti-join: stays fast at 100k opt-outs,
    where ``NOT IN`` fell off a cliff, see FIELD-NOTES)."""
    conditions, args = blocking_conditions(target, address_column, now)
    return f"NOT EXISTS (SELECT 1 FROM {ENTRY_TABLE} e WHERE {conditions})", args


def entry_blocks(entry: dict[str, Any], target: Target, address: str, now: datetime) -> bool:
    """The same rule in Python, for one entry row (tests compare it with the SQL)."""
    if entry["workspace"] != target.workspace_id or entry["channel"] != target.channel:
        return False
    if entry["address"] != address or entry["revoked_at"] is not None:
        return False
    if entry["valid_until"] is not None and entry["valid_until"] <= now:
        return False
    if target.category_id is not None and entry["category"] not in (None, target.category_id):
        return False
    if target.sender_id is not None and entry["sender"] not in (None, target.sender_id):
        return False
    return target.opted_in_only or bool(entry["self_service"])
