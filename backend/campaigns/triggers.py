"""One trigger's work: select the group's eligible members and hand them to the workers in batches.

**Selecting** (the ``run_trigger`` job) pages through the eligible members (:mod:`backend.campaigns.
audience`, keyset pages of 5,000: memory stays flat whatever the group's size) and stores them as
batches of :data:`BATCH` consecutive members, committed with the trigger's cursor, then enqueues one job
per batch. A trigger that dies resumes after its last committed page.

**Starting** (the ``start_batch`` job) creates the runs of a batch's members who are still eligible and
steps them (their first messages are stored, queued and enqueued), in one transaction with the batch's
``done``: a batch that runs twice starts no one twice (``(campaign, contact, entry)`` is unique). A batch
whose campaign is paused waits ``pending``; resume enqueues it again, and so does the sweeper when its
job was lost. The trigger is ``done`` when its last batch is.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.campaigns import service, stats
from backend.campaigns.audience import PAGE, eligible_page, enroll_range
from backend.campaigns.tables import Campaign, CampaignBatch, CampaignTrigger
from backend.core.database import locked, transaction
from backend.runs import engine, hooks

log = logging.getLogger(__name__)

BATCH = engine.RUN_BATCH
BATCH_JOB = "start_batch"
STALE_BATCH = timedelta(minutes=2)


async def run_trigger(trigger_id: int, *, queue: Any, now: datetime | None = None) -> dict[str, Any]:
    """Select page after page until the group is done or the campaign stops; what it did."""
    selected = 0
    clock = time.perf_counter()
    while True:
        moment = now or datetime.now(UTC)
        async with transaction():
            head = (
                await CampaignTrigger.select(CampaignTrigger.campaign)
                .where(CampaignTrigger.id == trigger_id)
                .first()
            )
            if head is None:
                return {"status": "gone", "selected": selected}
            campaign = await locked(
                Campaign.select().where(Campaign.id == head["campaign"]), share=True
            ).first()
            trigger = await locked(CampaignTrigger.select().where(CampaignTrigger.id == trigger_id)).first()
            if trigger is None or trigger["status"] != "running":
                return {"status": trigger["status"] if trigger else "gone", "selected": selected}
            if campaign is None or campaign["status"] != "running" or campaign["flow_version"] is None:
                await _set(trigger_id, status="stopped", finished_at=moment)
                return {"status": "stopped", "selected": selected}
            audience = await service.audience_of(campaign["workspace"], campaign)
            members = await eligible_page(audience, after=trigger["cursor"], now=moment)
            batches = _batches(trigger_id, campaign["id"], trigger["cursor"], members, moment)
            batch_ids: list[int] = []
            if batches:
                inserted = await CampaignBatch.insert(*batches).returning(CampaignBatch.id)
                batch_ids = [row["id"] for row in inserted]
            selected += len(members)
            spent_ms = (trigger["enroll_ms"] or 0) + int((time.perf_counter() - clock) * 1000)
            values: dict[str, Any] = {
                "cursor": members[-1] if members else trigger["cursor"],
                "enrolled": trigger["enrolled"] + len(members),
                "heartbeat_at": moment,
                "enroll_ms": spent_ms,
            }
            finished = len(members) < PAGE
            if finished:
                values["status"] = "enrolled"
            await _set(trigger_id, **values)
        clock = time.perf_counter()
        await enqueue_batches(queue, batch_ids)
        if finished:
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


async def enqueue_batches(queue: Any, batch_ids: list[int], suffix: str = "") -> None:
    if queue is None:
        return
    for batch_id in batch_ids:
        await queue.enqueue_job(BATCH_JOB, batch_id, _job_id=f"batch:{batch_id}{suffix}")


async def start_batch(batch_id: int, *, queue: Any, now: datetime | None = None) -> dict[str, Any]:
    """Create and step the runs of one batch; a no-op when it is done or its campaign does not run."""
    moment = now or datetime.now(UTC)
    async with transaction():
        head = (
            await CampaignBatch.select(CampaignBatch.campaign_id, CampaignBatch.status)
            .where(CampaignBatch.id == batch_id)
            .first()
        )
        if head is None or head["status"] != "pending":
            return {"status": "skipped"}
        # The campaign first (share lock), then the batch: the order every writer keeps.
        campaign = await locked(
            Campaign.select().where(Campaign.id == head["campaign_id"]), share=True
        ).first()
        batch = await locked(CampaignBatch.select().where(CampaignBatch.id == batch_id)).first()
        if batch is None or batch["status"] != "pending" or campaign is None:
            return {"status": "skipped"}
        if campaign["status"] != "running" or campaign["flow_version"] is None:
            return {"status": "held"}
        audience = await service.audience_of(campaign["workspace"], campaign)
        run_ids = await enroll_range(
            audience,
            flow_id=campaign["flow"],
            version_id=campaign["flow_version"],
            after=batch["after"],
            last=batch["last"],
            now=moment,
        )
        counts = hooks.Counts()
        counts.add(campaign["id"], "", "entered", len(run_ids))
        counts.add(campaign["id"], "", "runs:active", len(run_ids))
        await stats.add(counts)
        after = await engine.step_in_transaction(run_ids, now=moment)
        await CampaignBatch.update(
            {CampaignBatch.status: "done", CampaignBatch.started: len(run_ids), CampaignBatch.done_at: moment}
        ).where(CampaignBatch.id == batch_id)
        await _complete_if_done(batch["trigger"], moment)
    after.campaigns.add(campaign["id"])
    await after.dispatch(queue)
    return {"status": "done", "started": len(run_ids), **after.summary}


async def _complete_if_done(trigger_id: int, now: datetime) -> None:
    """An ``enrolled`` trigger with no pending batch left is ``done`` (caller's transaction)."""
    pending = await CampaignBatch.exists().where(
        (CampaignBatch.trigger == trigger_id) & (CampaignBatch.status == "pending")
    )
    if not pending:
        await CampaignTrigger.update(
            {CampaignTrigger.status: "done", CampaignTrigger.finished_at: now}
        ).where((CampaignTrigger.id == trigger_id) & (CampaignTrigger.status == "enrolled"))


async def pending_batches(
    campaign_id: int | None = None, older_than: datetime | None = None
) -> list[dict[str, Any]]:
    query = CampaignBatch.select(CampaignBatch.id, CampaignBatch.campaign_id).where(
        CampaignBatch.status == "pending"
    )
    if campaign_id is not None:
        query = query.where(CampaignBatch.campaign_id == campaign_id)
    if older_than is not None:
        query = query.where(CampaignBatch.created_at < older_than)
    return await query.order_by(CampaignBatch.id)


async def _set(trigger_id: int, **values: Any) -> None:
    await CampaignTrigger.update(
        {getattr(CampaignTrigger, key): value for key, value in values.items()}
    ).where(CampaignTrigger.id == trigger_id)
