"""One trigger's work: select the group's eligible members and hand them to the workers in batches.

**Selecting** (the ``run_trigger`` job) pages through the members (:mod:`backend.campaigns.audience`,
keyset pages of 10,000: memory stays flat whatever the group's size) and stores the eligible ones as
batches of :data:`BATCH` consecutive members, committed with the trigger's cursor; once the group is done
it enqueues one job per batch. A trigger that dies resumes after its last committed page.

**Starting** (:data:`LANES` ``run_lane`` jobs per trigger) takes the pending batches one after the other:
creates the runs of a batch's members who are still eligible and steps them (their first messages are
stored, queued and enqueued), in one transaction with the batch's ``done``: a batch that runs twice
starts no one twice (``(campaign, contact, entry)`` is unique). While the campaign is paused the lanes
stop and its batches wait ``pending``; resume starts the lanes again, and so does the sweeper when they
were lost. The trigger is ``done`` when its last batch is. A member whose first step fails does not hold
the batch back: the others start, and that member gets a run carrying the failure, which the runs
sweeper tries a few times more and then ends ``failed`` (:mod:`backend.runs.enroll`). A busy or lost
database fails the lane's job instead, which is retried (:mod:`backend.campaigns.tasks`).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine

from backend.campaigns import service
from backend.campaigns.audience import eligible_contacts, eligible_page
from backend.campaigns.tables import Campaign, CampaignBatch, CampaignTrigger
from backend.core.database import current_engine, locked, transaction
from backend.runs import engine, enroll

log = logging.getLogger(__name__)

BATCH = engine.RUN_BATCH
LANE_JOB = "run_lane"
LANES = 4
"""Lanes per trigger: jobs that each start the trigger's pending batches one after the other. Batches
of one campaign go on in parallel up to here (more only queue at the database, SQLite having one
writer), and a long backlog never fills a worker's job slots with waiting batches: sends keep going."""
STALE_LANES = timedelta(minutes=2)
"""A trigger with pending batches whose lanes finished none for this long lost them (the sweeper)."""


async def run_trigger(trigger_id: int, *, queue: Any, now: datetime | None = None) -> dict[str, Any]:
    """Select page after page until the group is done or the campaign stops; what it did.

    A page is read outside any write transaction (SQLite readers do not wait for the writers starting
    earlier pages' runs), then stored with a short one that moves the cursor only if nobody moved it
    meanwhile (a second job of the same trigger, after a revival, just goes on from there).
    """
    selected = 0
    while True:
        moment = now or datetime.now(UTC)
        trigger = await CampaignTrigger.select().where(CampaignTrigger.id == trigger_id).first()
        if trigger is None or trigger["status"] != "running":
            return {"status": trigger["status"] if trigger else "gone", "selected": selected}
        campaign = await Campaign.select().where(Campaign.id == trigger["campaign"]).first()
        if campaign is None or campaign["status"] != "running" or campaign["flow_version"] is None:
            await _set(trigger_id, status="stopped", finished_at=moment)
            return {"status": "stopped", "selected": selected}
        audience = await service.audience_of(campaign["workspace"], campaign)
        clock = time.perf_counter()
        page = await eligible_page(audience, after=trigger["cursor"], now=moment)
        members = page.eligible
        spent_ms = int((time.perf_counter() - clock) * 1000)
        finished = not page.full
        async with transaction():
            # The campaign first (share lock), then the trigger: the order every writer keeps.
            current = await locked(
                Campaign.select(Campaign.status).where(Campaign.id == campaign["id"]), share=True
            ).first()
            locked_trigger = await locked(
                CampaignTrigger.select().where(CampaignTrigger.id == trigger_id)
            ).first()
            if locked_trigger is None or locked_trigger["status"] != "running":
                continue
            if locked_trigger["cursor"] != trigger["cursor"]:
                continue  # another job of this trigger stored this page: go on from its cursor
            if current is None or current["status"] != "running":
                continue  # checked again at the top of the loop
            batches = _batches(trigger_id, campaign["id"], trigger["cursor"], members, moment)
            if batches:
                await CampaignBatch.insert(*batches)
            values: dict[str, Any] = {
                "cursor": page.last if page.last is not None else trigger["cursor"],
                "enrolled": trigger["enrolled"] + len(members),
                "heartbeat_at": moment,
                "enroll_ms": (trigger["enroll_ms"] or 0) + spent_ms,
            }
            if finished:
                values["status"] = "enrolled"
            await _set(trigger_id, **values)
        selected += len(members)
        if finished:
            # The database gives itself to the selection first (seconds for a million members), then the
            # lanes start the batches (also those a dead job of this trigger stored).
            await start_lanes(queue, trigger_id)
            async with transaction():
                await _complete_if_done(trigger_id, moment)
            log.info("trigger %s of campaign %s selected %d members", trigger_id, campaign["id"], selected)
            return {"status": "enrolled", "selected": selected}


def _batches(
    trigger_id: int, campaign_id: int, cursor: int, members: list[int], now: datetime
) -> list[CampaignBatch]:
    batches = []
    after = cursor
    for start in range(0, len(members), BATCH):
        part = members[start : start + BATCH]
        batches.append(
            CampaignBatch(
                trigger=trigger_id,
                campaign_id=campaign_id,
                after=after,
                last=part[-1],
                size=len(part),
                status="pending",
                created_at=now,
            )
        )
        after = part[-1]
    return batches


async def start_lanes(queue: Any, trigger_id: int, suffix: str = "") -> None:
    """Enqueue the trigger's :data:`LANES` lane jobs (a lane still running keeps its job id)."""
    if queue is None:
        return
    for lane in range(LANES):
        await queue.enqueue_job(LANE_JOB, trigger_id, lane, _job_id=f"lane:{trigger_id}:{lane}{suffix}")


async def run_lane(trigger_id: int, *, queue: Any) -> dict[str, Any]:
    """Start the trigger's pending batches one after the other until none is left (or its campaign
    stops running); what it did. Lanes of one trigger never take the same batch."""
    done: dict[str, Any] = {"batches": 0, "started": 0}
    while True:
        result = await start_next_batch(trigger_id, queue=queue)
        if result["status"] != "done":
            done["status"] = result["status"]
            return done
        done["batches"] += 1
        done["started"] += result.get("started", 0)


async def start_next_batch(trigger_id: int, *, queue: Any, now: datetime | None = None) -> dict[str, Any]:
    """Create and step the runs of the trigger's next pending batch, in one transaction: ``done``, or
    ``empty`` (no batch left), ``held`` (the campaign is not running) or ``gone``."""
    moment = now or datetime.now(UTC)
    async with transaction():
        head = (
            await CampaignTrigger.select(CampaignTrigger.campaign)
            .where(CampaignTrigger.id == trigger_id)
            .first()
        )
        if head is None:
            return {"status": "gone"}
        # The campaign first (share lock), then the batch: the order every writer keeps.
        campaign = await locked(Campaign.select().where(Campaign.id == head["campaign"]), share=True).first()
        if campaign is None:
            return {"status": "gone"}
        if campaign["status"] != "running" or campaign["flow_version"] is None:
            return {"status": "held"}
        batch = await _take_pending(trigger_id)
        if batch is None:
            await _complete_if_done(trigger_id, moment)
            return {"status": "empty"}
        audience = await service.audience_of(campaign["workspace"], campaign)
        contacts = await eligible_contacts(audience, after=batch["after"], last=batch["last"], now=moment)
        # A contact whose first step fails is set aside with a run that says why (backend/runs/enroll.py):
        # the others start, and the batch is done, instead of failing again on every retry.
        after = await enroll.start_new_isolating(
            [
                engine.NewRun(
                    workspace_id=campaign["workspace"],
                    flow_id=campaign["flow"],
                    version_id=campaign["flow_version"],
                    contact=contact,
                    sender_id=campaign["sender"],
                    campaign_id=campaign["id"],
                    entry=contact["entry"],
                )
                for contact in contacts
            ],
            now=moment,
        )
        started = after.summary.get("started", 0)
        await CampaignBatch.update(
            {CampaignBatch.status: "done", CampaignBatch.started: started, CampaignBatch.done_at: moment}
        ).where(CampaignBatch.id == batch["id"])
        # The lanes' heartbeat: the sweeper leaves a trigger alone while its batches keep finishing.
        await CampaignTrigger.update({CampaignTrigger.heartbeat_at: moment}).where(
            CampaignTrigger.id == trigger_id
        )
    after.campaigns.add(campaign["id"])
    await after.dispatch(queue)
    return {"status": "done", **after.summary}


async def _take_pending(trigger_id: int) -> dict[str, Any] | None:
    """The trigger's lowest pending batch, locked for this transaction; on PostgreSQL a batch another lane
    holds is skipped (SQLite runs one write transaction at a time: the other lane's is committed)."""
    query = (
        CampaignBatch.select()
        .where((CampaignBatch.trigger == trigger_id) & (CampaignBatch.status == "pending"))
        .order_by(CampaignBatch.id)
        .limit(1)
    )
    if not isinstance(current_engine(), SQLiteEngine):
        query = query.lock_rows("UPDATE", skip_locked=True)
    return await query.first()


async def _complete_if_done(trigger_id: int, now: datetime) -> None:
    """An ``enrolled`` trigger with no pending batch left is ``done`` (caller's transaction)."""
    pending = await CampaignBatch.exists().where(
        (CampaignBatch.trigger == trigger_id) & (CampaignBatch.status == "pending")
    )
    if not pending:
        await CampaignTrigger.update(
            {CampaignTrigger.status: "done", CampaignTrigger.finished_at: now}
        ).where((CampaignTrigger.id == trigger_id) & (CampaignTrigger.status == "enrolled"))


async def _set(trigger_id: int, **values: Any) -> None:
    await CampaignTrigger.update(
        {getattr(CampaignTrigger, key): value for key, value in values.items()}
    ).where(CampaignTrigger.id == trigger_id)
