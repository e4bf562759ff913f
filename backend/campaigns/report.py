"""The campaign report: per contact (per run), where the run stands and what became of each message.

Paginated JSON (keyset on the run id) and a streamed CSV of every run (one row per contact entry) that
names every failure with its reason and the provider's code, page by page so memory stays flat.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from backend.campaigns.schemas import MessageOutcome, ReportRow
from backend.campaigns.stats import node_of
from backend.core.bulk import in_list
from backend.core.pagination import decode_cursor, encode_cursor
from backend.runs.tables import Run

PAGE = 500
CSV_COLUMNS = [
    "run_id",
    "contact_id",
    "name",
    "address",
    "entry",
    "run_status",
    "last_node",
    "ended_reason",
    "started_at",
    "ended_at",
    "messages",
    "sent",
    "delivered",
    "read",
    "failed",
    "failures",
]


async def page(
    workspace_id: int, campaign_id: int, channel: str, cursor: str | None, limit: int
) -> tuple[list[ReportRow], str | None]:
    after = decode_cursor(cursor) if cursor else 0
    runs = await _runs(workspace_id, campaign_id, channel, after, limit + 1)
    more = len(runs) > limit
    runs = runs[:limit]
    rows = await _with_messages(workspace_id, runs)
    return rows, encode_cursor(runs[-1]["id"]) if more and runs else None


async def _runs(
    workspace_id: int, campaign_id: int, channel: str, after: int, limit: int
) -> list[dict[str, Any]]:
    address = '"contacts"."email"' if channel == "email" else '"contacts"."phone"'
    return await Run.raw(
        f"SELECT r.id, r.contact, r.entry, r.status, r.current_node, r.ended_reason, r.started_at, r.ended_at, "
        f'"contacts"."name" AS name, {address} AS address FROM "runs" r '
        'JOIN "contacts" ON "contacts"."id" = r.contact '
        "WHERE r.campaign_id = {} AND r.workspace = {} AND r.id > {} ORDER BY r.id LIMIT {}",
        campaign_id,
        workspace_id,
        after,
        limit,
    )


async def _with_messages(workspace_id: int, runs: list[dict[str, Any]]) -> list[ReportRow]:
    if not runs:
        return []
    run_ids = [str(run["id"]) for run in runs]
    messages = await Run.raw(
        "SELECT id, run_id, message_ref, status, failure_reason, error_code, sent_at, delivered_at, read_at "
        f'FROM "messages" WHERE workspace = {{}} AND run_id IN ({in_list(len(run_ids))}) ORDER BY id',
        workspace_id,
        *run_ids,
    )
    by_run: dict[str, list[MessageOutcome]] = defaultdict(list)
    for message in messages:
        by_run[message["run_id"]].append(
            MessageOutcome(
                message_id=message["id"],
                node_id=node_of(message["message_ref"]),
                status=message["status"],
                failure_reason=message["failure_reason"],
                error_code=message["error_code"],
                sent_at=message["sent_at"],
                delivered_at=message["delivered_at"],
                read_at=message["read_at"],
            )
        )
    return [
        ReportRow(
            run_id=run["id"],
            contact_id=run["contact"],
            name=run["name"] or "",
            address=run["address"],
            entry=run["entry"],
            run_status=run["status"],
            last_node=run["current_node"],
            ended_reason=run["ended_reason"] or "",
            started_at=run["started_at"],
            ended_at=run["ended_at"],
            messages=by_run.get(str(run["id"]), []),
        )
        for run in runs
    ]


def csv_row(row: ReportRow) -> list[Any]:
    messages = row.messages
    failures = "; ".join(
        f"{m.node_id}: {m.failure_reason or 'failed'}" + (f" ({m.error_code})" if m.error_code else "")
        for m in messages
        if m.status == "failed"
    )
    return [
        row.run_id,
        row.contact_id,
        row.name,
        row.address or "",
        row.entry,
        row.run_status,
        row.last_node or "",
        row.ended_reason,
        row.started_at.isoformat(),
        row.ended_at.isoformat() if row.ended_at else "",
        len(messages),
        sum(1 for m in messages if m.sent_at is not None),
        sum(1 for m in messages if m.delivered_at is not None),
        sum(1 for m in messages if m.read_at is not None),
        sum(1 for m in messages if m.status == "failed"),
        failures,
    ]


async def csv_lines(workspace_id: int, campaign_id: int, channel: str) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield _take(buffer)
    after = 0
    while True:
        runs = await _runs(workspace_id, campaign_id, channel, after, PAGE)
        if not runs:
            return
        for row in await _with_messages(workspace_id, runs):
            writer.writerow(csv_row(row))
        yield _take(buffer)
        after = runs[-1]["id"]


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
