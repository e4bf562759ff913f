"""One trigger's work: select the group's eligible members and hand them to the workers in batches.

**Selecting** (the ``run_trigger`` job) pages through the members (:mod:`backend.campaigns.audience`,
keyset pages of 10,000: memory stays flat whatever the group's size) and stores the eligible ones as
batches of :data:`BATCH` consecutive members, committed with the trigger's cursor; once the group is done
it enqueues one job per batch. A trigger that dies resumes after its last committed page.

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

from backend.campaigns import service
from backend.campaigns.audience import eligible_contacts, eligible_page
from backend.campaigns.tables import Campaign, CampaignBatch, CampaignTrigger
from backend.core.database import locked, transaction
from backend.runs import engine

log = logging.getLogger(__name__)

BATCH = engine.RUN_BATCH
BATCH_JOB = "start_batch"
STALE_BATCH = timedelta(minutes=2)


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
            # Every batch of the trigger, also those a dead job of it stored: the database gives itself
            # to the selection first (seconds for a million members), then the batches start.
            pending = (
                await CampaignBatch.select(CampaignBatch.id)
                .where((CampaignBatch.trigger == trigger_id) & (CampaignBatch.status == "pending"))
                .order_by(CampaignBatch.id)
            )
            await enqueue_batches(queue, [row["id"] for row in pending])
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
        contacts = await eligible_contacts(audience, after=batch["after"], last=batch["last"], now=moment)
        after = await engine.start_new(
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
        ).where(CampaignBatch.id == batch_id)
        await _complete_if_done(batch["trigger"], moment)
    after.campaigns.add(campaign["id"])
    await after.dispatch(queue)
    return {"status": "done", **after.summary}


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
