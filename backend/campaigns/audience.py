"""Who a campaign sends to: its group's members with an address on the sender's channel, not opted out
(the consent gate's own rule, :mod:`backend.consent.rules`), not already in the campaign.

One SQL definition serves the counts (``GET …/audience``: 1000 members, 990 eligible), the excluded list
(CSV with the reason) and the trigger's enrollment (``INSERT … SELECT`` of runs in keyset pages), so the
number a marketer sees is the number that gets enrolled.

- The opt-out filter applies to marketing campaigns always, and to transactional ones unless the group is
  flagged ``bypass_opt_out_filter`` (seed 003). With the campaign's toggle ``opted_in_only`` off, only the
  person's own opt-outs exclude (an admin's or an import's mark does not).
- "Already entered": the contact has a run in this campaign; with ``allow_reentry`` only an unfinished run
  counts (a contact whose earlier run ended enters again at the next trigger).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.audience.eligibility import address_column
from backend.consent.rules import Target, not_opted_out_sql
from backend.core.bulk import execute
from backend.runs.tables import Run

PAGE = 5000
"""Members per enrollment statement and per excluded-list page."""


@dataclass(frozen=True, slots=True)
class Audience:
    workspace_id: int
    campaign_id: int
    group_id: int
    channel: str
    sender_id: int
    category_id: int | None
    kind: str
    opted_in_only: bool
    allow_reentry: bool
    bypass_opt_out_filter: bool

    @property
    def filters_opt_outs(self) -> bool:
        return self.kind == "marketing" or not self.bypass_opt_out_filter

    def target(self) -> Target:
        return Target(
            workspace_id=self.workspace_id,
            channel=self.channel,
            sender_id=self.sender_id,
            category_id=self.category_id,
            opted_in_only=self.opted_in_only,
        )


_FROM = 'FROM "group_members" gm JOIN "contacts" ON "contacts"."id" = gm."contact"'


def _members(audience: Audience) -> tuple[list[str], list[Any]]:
    return ['gm."group" = {}', '"contacts"."workspace" = {}'], [audience.group_id, audience.workspace_id]


def _has_address(audience: Audience) -> str:
    return f"{address_column(audience.channel)} IS NOT NULL"


def _not_opted_out(audience: Audience, now: datetime) -> tuple[str, list[Any]]:
    return not_opted_out_sql(audience.target(), address_column(audience.channel), now)


def _entered(audience: Audience) -> tuple[str, list[Any]]:
    """EXISTS a run that keeps the contact out of this campaign's next trigger."""
    unfinished = " AND r.status IN ('active', 'waiting')" if audience.allow_reentry else ""
    return (
        f'EXISTS (SELECT 1 FROM "runs" r WHERE r.campaign_id = {{}} AND r.contact = "contacts"."id"{unfinished})',
        [audience.campaign_id],
    )


def eligible_conditions(audience: Audience, now: datetime) -> tuple[list[str], list[Any]]:
    """The WHERE conditions (Piccolo ``{}`` placeholders) of the members the next trigger enrolls."""
    conditions, args = _members(audience)
    conditions.append(_has_address(audience))
    if audience.filters_opt_outs:
        sql, more = _not_opted_out(audience, now)
        conditions.append(sql)
        args += more
    entered, more = _entered(audience)
    conditions.append(f"NOT {entered}")
    args += more
    return conditions, args


async def _count(conditions: list[str], args: list[Any]) -> int:
    rows = await Run.raw(f"SELECT COUNT(*) AS n {_FROM} WHERE {' AND '.join(conditions)}", *args)
    return int(rows[0]["n"])


async def counts(audience: Audience, now: datetime) -> dict[str, Any]:
    """``{members, eligible, excluded: {opted_out, no_address, already_entered}}``: four COUNT queries.

    Each member is counted under the first reason that excludes them, in that order: no address, opted
    out, already entered; so ``members = eligible + the excluded``.
    """
    base, args = _members(audience)
    members = await _count(base, args)
    reachable_conditions = [*base, _has_address(audience)]
    reachable = await _count(reachable_conditions, args)
    not_opted_out = reachable
    consent_args: list[Any] = []
    if audience.filters_opt_outs:
        sql, consent_args = _not_opted_out(audience, now)
        reachable_conditions.append(sql)
        not_opted_out = await _count(reachable_conditions, args + consent_args)
    entered_sql, entered_args = _entered(audience)
    eligible = await _count([*reachable_conditions, f"NOT {entered_sql}"], args + consent_args + entered_args)
    return {
        "members": members,
        "eligible": eligible,
        "excluded": {
            "opted_out": reachable - not_opted_out,
            "no_address": members - reachable,
            "already_entered": not_opted_out - eligible,
        },
        "opt_out_filter_applied": audience.filters_opt_outs,
    }


async def excluded(audience: Audience, now: datetime) -> AsyncIterator[dict[str, Any]]:
    """Every excluded member with the reason, in contact order, a page at a time (flat memory)."""
    after = 0
    address = address_column(audience.channel)
    while True:
        base, args = _members(audience)
        reasons = [f"WHEN {address} IS NULL THEN 'no_address'"]
        reason_args: list[Any] = []
        if audience.filters_opt_outs:
            sql, more = _not_opted_out(audience, now)
            reasons.append(f"WHEN NOT {sql} THEN 'opted_out'")
            reason_args += more
        entered, more = _entered(audience)
        reasons.append(f"WHEN {entered} THEN 'already_entered'")
        reason_args += more
        reason = f"CASE {' '.join(reasons)} ELSE NULL END"
        rows = await Run.raw(
            f'SELECT * FROM (SELECT "contacts"."id" AS contact_id, "contacts"."name" AS name, '
            f'"contacts"."phone" AS phone, "contacts"."email" AS email, {reason} AS reason '
            f'{_FROM} WHERE {" AND ".join(base)} AND gm."contact" > {{}} ORDER BY gm."contact" LIMIT {{}}) x',
            *reason_args,
            *args,
            after,
            PAGE,
        )
        if not rows:
            return
        for row in rows:
            if row["reason"] is not None:
                yield row
        after = rows[-1]["contact_id"]


async def eligible_page(audience: Audience, *, after: int, now: datetime, limit: int = PAGE) -> list[int]:
    """The next ``limit`` eligible members after contact ``after``, in contact order (keyset: every
    page costs the same, however far into the group)."""
    conditions, args = eligible_conditions(audience, now)
    conditions.append('gm."contact" > {}')
    rows = await Run.raw(
        f'SELECT gm."contact" AS contact {_FROM} WHERE {" AND ".join(conditions)} '
        'ORDER BY gm."contact" LIMIT {}',
        *args,
        after,
        limit,
    )
    return [row["contact"] for row in rows]


async def eligible_contacts(
    audience: Audience, *, after: int, last: int, now: datetime
) -> list[dict[str, Any]]:
    """The members in ``(after, last]`` who are eligible now, as the runs engine starts them: the contact's
    row (JSON decoded), the workspace's time zone, and the entry this run will be."""
    conditions, args = eligible_conditions(audience, now)
    conditions += ['gm."contact" > {}', 'gm."contact" <= {}']
    args += [after, last]
    entry = (
        '(SELECT COALESCE(MAX(p.entry), 0) + 1 FROM "runs" p WHERE p.campaign_id = {} AND p.contact = "contacts"."id")'
        if audience.allow_reentry
        else "1"
    )
    entry_args = [audience.campaign_id] if audience.allow_reentry else []
    rows = await execute(
        'SELECT "contacts"."id" AS id, "contacts"."workspace" AS workspace, "contacts"."phone" AS phone, '
        '"contacts"."email" AS email, "contacts"."name" AS name, "contacts"."attributes" AS attributes, '
        '"contacts"."tags" AS tags, "contacts"."timezone" AS timezone, w.timezone AS workspace_timezone, '
        f'{entry} AS entry {_FROM} JOIN "workspaces" w ON w.id = "contacts"."workspace" '
        f'WHERE {" AND ".join(conditions)} ORDER BY gm."contact"',
        *entry_args,
        *args,
    )
    for row in rows:
        for column in ("attributes", "tags"):
            if isinstance(row[column], str):
                row[column] = json.loads(row[column])
    return rows
