"""Runs as the API and the campaigns domain use them: start an API-triggered flow, list a contact's runs,
wake a campaign's runs, close them when it stops, and the sweeper that repairs what Redis lost."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from msgspec.structs import replace

from backend.audience.addresses import PHONE_CHANNELS
from backend.audience.tables import Contact
from backend.consent.validation import lookup_address
from backend.core.bulk import in_list
from backend.core.database import transaction
from backend.core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from backend.core.pagination import decode_cursor, encode_cursor
from backend.flows import service as flows
from backend.inbound import contacts
from backend.runs import engine, hooks
from backend.runs.flows import decode_state
from backend.runs.schemas import RunOut, RunStart, Waiting
from backend.runs.tables import Run, RunEvent, RunTimer
from backend.senders.service import load_sender
from backend.workspaces.auth import Principal

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=2)
"""A run ``active`` this long, or an inbox event pending this long, lost its job (or never got one)."""
HTTP_GRACE = timedelta(minutes=1)
SWEEP_LIMIT = 20_000
CLOSE_CHUNK = 5000


# --- the API ----------------------------------------------------------------------------------------


async def start_api_run(principal: Principal, flow_id: int, data: RunStart, queue: Any) -> RunOut:
    """Start an API-triggered flow for one contact and step it at once; the run as it stands then."""
    await flows.get_flow(principal, flow_id)  # 404 for another workspace's flow
    try:
        version = await flows.get_version(principal, flow_id)
    except NotFound:
        raise Conflict(f"flow {flow_id} is not published: publish it before starting runs") from None
    if version["trigger"] != "api":
        raise Conflict(
            f"flow {flow_id} starts on {version['trigger']!r}, not 'api': only flows whose start node is "
            "triggered by the API can be started here"
        )
    workspace_id = principal.workspace_id
    sender = await load_sender(workspace_id, data.sender_id)
    if sender is None:
        raise InvalidInput("sender_id", f"no sender {data.sender_id} in this workspace")
    contact_id = await _contact_for_start(workspace_id, sender, data)
    contact = (await engine.load_contacts({contact_id}))[contact_id]
    now = datetime.now(UTC)
    async with transaction():
        inserted = await Run.insert(
            Run(
                workspace=workspace_id,
                flow=flow_id,
                flow_version=version["id"],
                contact=contact_id,
                sender=sender["id"],
                trigger="api",
                status="active",
                started_at=now,
                updated_at=now,
            )
        ).returning(Run.id)
        run_id = inserted[0]["id"]
        snapshot = engine.snapshot_of(contact)
        snapshot = replace(snapshot, attributes={**snapshot.attributes, **data.attributes})
        after = await engine.step_in_transaction([run_id], now=now, snapshots={run_id: snapshot})
    await after.dispatch(queue)
    return await get_run(workspace_id, run_id)


async def _contact_for_start(workspace_id: int, sender: dict[str, Any], data: RunStart) -> int:
    channel = sender["channel"]
    if (data.contact_id is None) == (data.to is None):
        raise InvalidInput("contact_id", "give either contact_id or to (exactly one)")
    if data.to is not None:
        address = await lookup_address(workspace_id, channel, data.to, field="to", source="body")
        contact_id, _ = await contacts.find_or_create(workspace_id, channel, address)
        return contact_id
    row = (
        await Contact.select(Contact.id, Contact.phone, Contact.email)
        .where((Contact.id == data.contact_id) & (Contact.workspace == workspace_id))
        .first()
    )
    if row is None:
        raise InvalidInput("contact_id", f"no contact {data.contact_id} in this workspace")
    if not (row["phone"] if channel in PHONE_CHANNELS else row["email"]):
        what = "phone number" if channel in PHONE_CHANNELS else "email address"
        raise InvalidInput.many(
            [FieldProblem("contact_id", f"contact {row['id']} has no {what} for {channel}", "body")]
        )
    return row["id"]


_OUT_COLUMNS = (
    "r.id, r.flow, v.number AS version, r.campaign_id, r.contact, r.sender, r.trigger, r.entry, r.status, "
    "r.current_node, r.state, r.started_at, r.updated_at, r.ended_at, r.ended_reason, r.failures, r.last_error"
)


async def get_run(workspace_id: int, run_id: int) -> RunOut:
    rows = await Run.raw(
        f'SELECT {_OUT_COLUMNS} FROM "runs" r JOIN "flow_versions" v ON v.id = r.flow_version '
        "WHERE r.id = {} AND r.workspace = {}",
        run_id,
        workspace_id,
    )
    if not rows:
        raise NotFound("run", run_id)
    return run_out(rows[0])


async def contact_runs(
    workspace_id: int, contact_id: int, cursor: str | None, limit: int
) -> tuple[list[RunOut], str | None]:
    """A contact's runs of every trigger, newest first (keyset on id)."""
    if not await Contact.exists().where((Contact.id == contact_id) & (Contact.workspace == workspace_id)):
        raise NotFound("contact", contact_id)
    conditions = ["r.contact = {}", "r.workspace = {}"]
    args: list[Any] = [contact_id, workspace_id]
    if cursor:
        conditions.append("r.id < {}")
        args.append(decode_cursor(cursor))
    rows = await Run.raw(
        f'SELECT {_OUT_COLUMNS} FROM "runs" r JOIN "flow_versions" v ON v.id = r.flow_version '
        f"WHERE {' AND '.join(conditions)} ORDER BY r.id DESC LIMIT {{}}",
        *args,
        limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return [run_out(row) for row in rows], encode_cursor(rows[-1]["id"]) if more and rows else None


def run_out(row: dict[str, Any]) -> RunOut:
    try:
        state = decode_state(row["state"])
    except (msgspec.DecodeError, msgspec.ValidationError):
        state = None  # a state that does not decode ended the run (step_error): shown without it
    # A run closed from outside its state (expired, interrupted, failed on a step) keeps the state's
    # last wait in its JSON: only a waiting run waits.
    waiting = state.waiting if state is not None and row["status"] == "waiting" else None
    return RunOut(
        id=row["id"],
        flow_id=row["flow"],
        flow_version=row["version"],
        campaign_id=row["campaign_id"],
        contact_id=row["contact"],
        sender_id=row["sender"],
        trigger=row["trigger"],
        entry=row["entry"],
        status=row["status"],
        current_node=row["current_node"],
        waiting=Waiting(kind=waiting.kind, node_id=waiting.node_id, until=waiting.until) if waiting else None,
        variables=dict(state.vars) if state is not None else {},
        started_at=row["started_at"],
        updated_at=row["updated_at"],
        ended_at=row["ended_at"],
        ended_reason=row["ended_reason"] or "",
        failures=row["failures"] or 0,
        last_error=row["last_error"] or "",
    )


# --- for the campaigns domain -----------------------------------------------------------------------


async def wake_campaign(campaign_id: int, queue: Any, now: datetime | None = None) -> int:
    """Enqueue every run of a campaign that has work waiting (not started, or events in its inbox): its
    campaign runs again. How many runs."""
    suffix = f"wake{int((now or datetime.now(UTC)).timestamp())}"
    total = 0
    after = 0
    while True:
        rows = await Run.raw(
            "SELECT r.id FROM \"runs\" r WHERE r.campaign_id = {} AND r.id > {} AND (r.status = 'active' "
            "OR EXISTS (SELECT 1 FROM \"run_events\" e WHERE e.run = r.id AND e.status = 'pending')) "
            "ORDER BY r.id LIMIT {}",
            campaign_id,
            after,
            CLOSE_CHUNK,
        )
        if not rows:
            return total
        ids = [row["id"] for row in rows]
        await enqueue_drive(queue, ids, suffix)
        total += len(ids)
        after = ids[-1]


async def enqueue_drive(queue: Any, run_ids: list[int], suffix: str = "") -> None:
    """Drive jobs of :data:`engine.RUN_BATCH` runs each, ids deterministic per batch (and ``suffix``)."""
    if queue is None or not run_ids:
        return
    ids = sorted(run_ids)
    for start in range(0, len(ids), engine.RUN_BATCH):
        batch = ids[start : start + engine.RUN_BATCH]
        job_id = f"runs:{batch[0]}-{batch[-1]}:{len(batch)}" + (f":{suffix}" if suffix else "")
        await queue.enqueue_job(engine.DRIVE_JOB, batch, _job_id=job_id)


async def close_campaign_runs(campaign_id: int, status: str, reason: str, now: datetime) -> int:
    """End every unfinished run of a campaign as ``status`` (``expired``, ``interrupted``), drop their
    timers and pending events, and count it; in the caller's transaction. How many runs."""
    counts = hooks.Counts()
    closed = 0
    while True:
        rows = await Run.raw(
            'SELECT id, status, current_node, waiting_kind FROM "runs" WHERE campaign_id = {} '
            "AND status IN ('active', 'waiting') ORDER BY id LIMIT {}",
            campaign_id,
            CLOSE_CHUNK,
        )
        if not rows:
            break
        ids = [row["id"] for row in rows]
        await Run.raw(
            f'UPDATE "runs" SET status = {{}}, ended_at = {{}}, ended_reason = {{}}, updated_at = {{}}, '
            f"waiting_kind = NULL, waiting_ref = NULL, pending_http = NULL WHERE id IN ({in_list(len(ids))})",
            status,
            now,
            reason,
            now,
            *ids,
        )
        for row in rows:
            counts.add(campaign_id, "", f"runs:{row['status']}", -1)
            counts.add(campaign_id, "", f"runs:{status}")
            if row["status"] == "waiting" and row["current_node"]:
                counts.add(campaign_id, row["current_node"], "waiting", -1)
        closed += len(ids)
    await RunTimer.delete().where(RunTimer.campaign_id == campaign_id)
    await RunEvent.update({RunEvent.status: "ignored", RunEvent.applied_at: now}).where(
        (RunEvent.campaign_id == campaign_id) & (RunEvent.status == "pending")
    )
    await hooks.bridge().record(counts)
    return closed


# --- the sweeper ------------------------------------------------------------------------------------


async def sweep(
    queue: Any, now: datetime | None = None, older_than: timedelta = STALE_AFTER
) -> dict[str, int]:
    """Re-enqueue what a lost job left behind: runs still ``active``, inbox events still pending and HTTP
    requests never answered. Campaign runs only while their campaign runs. The database is the truth."""
    moment = now or datetime.now(UTC)
    bucket = f"sweep{int(moment.timestamp()) // 300}"
    stale = moment - older_than
    rows = await Run.raw(
        "SELECT id, campaign_id FROM \"runs\" WHERE status = 'active' AND updated_at < {} LIMIT {}",
        stale,
        SWEEP_LIMIT,
    )
    rows += await Run.raw(
        'SELECT DISTINCT e.run AS id, e.campaign_id FROM "run_events" e '
        "WHERE e.status = 'pending' AND e.created_at < {} LIMIT {}",
        stale,
        SWEEP_LIMIT,
    )
    movable = await _movable(rows)
    await enqueue_drive(queue, movable, bucket)
    http = await _lost_http(queue, moment, bucket)
    if movable or http:
        log.info("runs swept: %d re-driven, %d HTTP requests re-issued", len(movable), http)
    return {"driven": len(movable), "http": http}


async def _movable(rows: list[dict[str, Any]]) -> list[int]:
    by_campaign: dict[int | None, set[int]] = defaultdict(set)
    for row in rows:
        by_campaign[row["campaign_id"]].add(row["id"])
    campaign_ids = {campaign_id for campaign_id in by_campaign if campaign_id is not None}
    moving = set()
    if campaign_ids:
        async with transaction():
            policies = await hooks.bridge().policies(campaign_ids)
        moving = {campaign_id for campaign_id, policy in policies.items() if policy.moving}
    return sorted(
        run_id
        for campaign_id, ids in by_campaign.items()
        if campaign_id is None or campaign_id in moving
        for run_id in ids
    )


async def _lost_http(queue: Any, now: datetime, bucket: str) -> int:
    rows = await Run.raw(
        "SELECT id, pending_http, updated_at FROM \"runs\" WHERE waiting_kind = 'http' AND updated_at < {} LIMIT {}",
        now - HTTP_GRACE,
        SWEEP_LIMIT,
    )
    issued = 0
    for row in rows:
        if not row["pending_http"] or queue is None:
            continue
        request = msgspec.json.decode(row["pending_http"])
        if (
            row["updated_at"] + timedelta(seconds=float(request.get("timeout_seconds", 10))) + HTTP_GRACE
            > now
        ):
            continue
        await queue.enqueue_job(
            engine.HTTP_JOB, row["id"], request, _job_id=f"http:{row['id']}:{request['request_id']}:{bucket}"
        )
        issued += 1
    return issued
