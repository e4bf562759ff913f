"""Who a campaign sends to: its group's members with an address on the sender's channel, not opted out
(the consent gate's own rule, :mod:`backend.consent.rules`), not already in the campaign.

One SQL definition serves the counts (``GET …/audience``: 1000 members, 990 eligible), the excluded list
(CSV with the reason), the trigger's selection (keyset pages of eligible members) and each batch's start
(the members of its range still eligible when it runs), so the number a marketer sees is the number that
gets enrolled.

- The opt-out filter applies to marketing campaigns always, and to transactional ones unless the group is
  flagged ``bypass_opt_out_filter`` (seed 003). With the campaign's toggle ``opted_in_only`` off, only the
  person's own opt-outs exclude (an admin's or an import's mark does not).
- "Already entered": the contact has a run in this campaign; with ``allow_reentry`` only an unfinished run
  counts (a contact whose earlier run ended enters again at the next trigger).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine

from backend.audience.eligibility import address_column
from backend.consent.rules import Target, not_opted_out_sql
from backend.core.bulk import execute
from backend.core.database import current_engine
from backend.runs.tables import Run

PAGE = 10_000
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
    """EXISTS a run that keeps the contact out of this campaign's next trigger.

    On PostgreSQL the subquery carries ``OFFSET 0``, which keeps the planner from turning it into a hash
    of every run of the campaign (rebuilt for each page and each batch: quadratic in the audience while a
    trigger's own batches add runs); it probes the unique ``(campaign, contact, entry)`` index instead.
    """
    unfinished = " AND r.status IN ('active', 'waiting')" if audience.allow_reentry else ""
    fence = "" if isinstance(current_engine(), SQLiteEngine) else " OFFSET 0"
    return (
        f'EXISTS (SELECT 1 FROM "runs" r WHERE r.campaign_id = {{}} AND r.contact = "contacts"."id"{unfinished}{fence})',
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


_CONTACT_COLUMNS = "c.id, c.workspace, c.phone, c.email, c.name, c.attributes, c.tags, c.timezone"


def _member_page(audience: Audience, *, after: int, last: int | None = None) -> tuple[str, list[Any]]:
    """``FROM`` the members in ``(after, last]`` (at most a page, in contact order) joined to their contacts;
    a batch's range lies inside one selection page, so its members always fit.

    The page is read in a subquery with its own ``LIMIT``, which PostgreSQL does not flatten into the join:
    it comes from the membership index whatever the statistics say, and each member's contact is then
    looked up by primary key, so a page costs the same on the first and the hundredth page. Written as one
    join, PostgreSQL hashed the whole group and all its contacts for every page (a minute for a million
    members).
    """
    bounds, args = ['m."group" = {}', 'm."contact" > {}'], [audience.group_id, after]
    if last is not None:
        bounds.append('m."contact" <= {}')
        args.append(last)
    page = f'(SELECT m."contact" FROM "group_members" m WHERE {" AND ".join(bounds)} ORDER BY m."contact" LIMIT {{}}) gm'
    if isinstance(current_engine(), SQLiteEngine):
        return f'FROM {page} JOIN "contacts" ON "contacts"."id" = gm."contact"', [*args, PAGE]
    # Each member's contact by primary key: joined plainly, PostgreSQL hashed the whole contacts table
    # for a page of 10,000 (its cost model prefers one sequential scan to 10,000 index look-ups).
    contact = f'CROSS JOIN LATERAL (SELECT {_CONTACT_COLUMNS} FROM "contacts" c WHERE c.id = gm."contact" OFFSET 0) "contacts"'
    return f"FROM {page} {contact}", [*args, PAGE]


def _reasons(audience: Audience, now: datetime) -> tuple[str, list[Any]]:
    """Why a member is excluded (the first reason that applies), NULL when eligible: the same rule as
    :func:`eligible_conditions`, as one CASE."""
    reasons = [f"WHEN {address_column(audience.channel)} IS NULL THEN 'no_address'"]
    args: list[Any] = []
    if audience.filters_opt_outs:
        sql, more = _not_opted_out(audience, now)
        reasons.append(f"WHEN NOT {sql} THEN 'opted_out'")
        args += more
    entered, more = _entered(audience)
    reasons.append(f"WHEN {entered} THEN 'already_entered'")
    args += more
    return f"CASE {' '.join(reasons)} ELSE NULL END", args


async def _page_with_reasons(
    audience: Audience, after: int, now: datetime, columns: str
) -> list[dict[str, Any]]:
    reason, reason_args = _reasons(audience, now)
    source, source_args = _member_page(audience, after=after)
    return await Run.raw(
        f'SELECT gm."contact" AS contact_id, {reason} AS reason{columns} {source} '
        f'WHERE "contacts"."workspace" = {{}} ORDER BY gm."contact"',
        *reason_args,
        *source_args,
        audience.workspace_id,
    )


async def _merged_page(audience: Audience, after: int, now: datetime) -> Page:
    """PostgreSQL's selection page: the membership and contacts indexes read side by side from the cursor
    (a merge join: sequential reads, twice as fast as a look-up per member), which the planner picks once
    hash joins are off for this one read (it would otherwise hash every contact after the cursor). The
    page comes back as one row: the eligible ids as an array, the last member, how many members."""
    from piccolo.engine.postgres import PostgresEngine

    engine = current_engine()
    assert isinstance(engine, PostgresEngine)
    reason, reason_args = _reasons(audience, now)
    async with engine.transaction():
        await execute("SET LOCAL enable_hashjoin = off")
        rows = await execute(
            "SELECT array_agg(contact_id ORDER BY contact_id) FILTER (WHERE reason IS NULL) AS eligible, "
            "MAX(contact_id) AS last, COUNT(*) AS members FROM ("
            f'SELECT gm."contact" AS contact_id, {reason} AS reason {_FROM} '
            'WHERE gm."group" = {} AND gm."contact" > {} AND "contacts"."id" > {} AND "contacts"."workspace" = {} '
            'ORDER BY gm."contact" LIMIT {}) page',
            *reason_args,
            audience.group_id,
            after,
            after,
            audience.workspace_id,
            PAGE,
        )
    row = rows[0]
    return Page(eligible=list(row["eligible"] or []), last=row["last"], full=row["members"] == PAGE)


async def excluded(audience: Audience, now: datetime) -> AsyncIterator[dict[str, Any]]:
    """Every excluded member with the reason, in contact order, a page at a time (flat memory)."""
    after = 0
    columns = ', "contacts"."name" AS name, "contacts"."phone" AS phone, "contacts"."email" AS email'
    while True:
        rows = await _page_with_reasons(audience, after, now, columns)
        for row in rows:
            if row["reason"] is not None:
                yield row
        if len(rows) < PAGE:
            return
        after = rows[-1]["contact_id"]


@dataclass(frozen=True, slots=True)
class Page:
    eligible: list[int]
    """The page's eligible members, in contact order."""
    last: int | None
    """The page's last member (eligible or not): where the next page starts."""
    full: bool
    """False for the group's last page."""


async def eligible_page(audience: Audience, *, after: int, now: datetime) -> Page:
    """The next :data:`PAGE` members after contact ``after``, and which of them are eligible (keyset:
    every page costs the same, however far into the group)."""
    if not isinstance(current_engine(), SQLiteEngine):
        return await _merged_page(audience, after, now)
    # One row back, the eligible ids as text: 10,000 rows turned into dicts cost more than the query.
    reason, reason_args = _reasons(audience, now)
    source, source_args = _member_page(audience, after=after)
    rows = await Run.raw(
        "SELECT group_concat(contact_id) FILTER (WHERE reason IS NULL) AS eligible, MAX(contact_id) AS last, "
        f'COUNT(*) AS members FROM (SELECT gm."contact" AS contact_id, {reason} AS reason {source} '
        'WHERE "contacts"."workspace" = {} ORDER BY gm."contact") page',
        *reason_args,
        *source_args,
        audience.workspace_id,
    )
    row = rows[0]
    eligible = [int(value) for value in row["eligible"].split(",")] if row["eligible"] else []
    # group_concat keeps no promised order: the page's order is the contacts'
    return Page(eligible=sorted(eligible), last=row["last"], full=row["members"] == PAGE)


async def eligible_contacts(
    audience: Audience, *, after: int, last: int, now: datetime
) -> list[dict[str, Any]]:
    """The members in ``(after, last]`` who are eligible now, as the runs engine starts them: the contact's
    row (JSON decoded), the workspace's time zone, and the entry this run will be."""
    conditions, args = eligible_conditions(audience, now)
    conditions.remove('gm."group" = {}')
    args.pop(0)  # the group is the member page's
    source, source_args = _member_page(audience, after=after, last=last)
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
        f'{entry} AS entry {source} JOIN "workspaces" w ON w.id = "contacts"."workspace" '
        f'WHERE {" AND ".join(conditions)} ORDER BY gm."contact"',
        *entry_args,
        *source_args,
        *args,
    )
    for row in rows:
        for column in ("attributes", "tags"):
            if isinstance(row[column], str):
                # Text that is not JSON (a bad write) stays as it is: the runs engine refuses it for this
                # contact alone, with the reason, instead of this batch failing for everyone in it.
                with contextlib.suppress(ValueError):
                    row[column] = json.loads(row[column])
    return rows
