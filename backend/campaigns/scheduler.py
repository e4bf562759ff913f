"""The scheduler: starts campaigns at their start, fires their triggers on plan, ends them at their end.

:func:`tick` runs every second in every worker (a ticker, :mod:`backend.core.ticker`); the database is
the truth and every step is a conditional write on a locked campaign row, so any number of workers may
tick at once and each thing happens once:

- **start**: a ``scheduled`` campaign whose start has come runs. The first time, its flow version is
  pinned. A resumed campaign's held messages go back to the queue and its waiting work is woken.
- **trigger**: a ``running`` campaign whose next slot has come gets one trigger for the latest slot
  (after downtime: one catch-up, never a burst), unless its previous trigger is still enrolling (never
  two at once); the next slot is set strictly after now.
- **end**: any campaign whose end has come ends: nothing more is sent (unsent messages fail with
  ``campaign_ended``), unfinished runs expire, enrollment stops.

:func:`revive` (every minute) enqueues again a trigger or batch whose job was lost.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.audit import service as audit
from backend.campaigns import plan, triggers
from backend.campaigns.service import close_campaign, latest_manual_version, zone_of
from backend.campaigns.tables import Campaign, CampaignTrigger
from backend.core.database import locked, transaction
from backend.messages import service as messages
from backend.runs import service as runs
from backend.workspaces.tables import Workspace

log = logging.getLogger(__name__)

TRIGGER_JOB = "run_trigger"
UNFINISHED = ("running", "enrolled")
"""Trigger statuses that keep the next trigger of the campaign waiting (never two at once)."""
STALE_TRIGGER = timedelta(seconds=60)
ACTOR = "Flowgate scheduler"


async def tick(queue: Any, now: datetime | None = None) -> dict[str, int]:
    """One pass of the scheduler; counts of what it did."""
    moment = now or datetime.now(UTC)
    ended = await end_due(moment)
    started = await start_due(queue, moment)
    fired = await fire_due(queue, moment)
    return {"ended": ended, "started": started, "fired": fired}


async def _due(status: tuple[str, ...], column: Any, now: datetime) -> list[int]:
    rows = await Campaign.select(Campaign.id).where(Campaign.status.is_in(list(status)) & (column <= now))
    return [row["id"] for row in rows]


async def _zone(workspace_id: int):
    row = await Workspace.select(Workspace.timezone).where(Workspace.id == workspace_id).first()
    return zone_of(row["timezone"] if row else None)


# --- start ------------------------------------------------------------------------------------------


async def start_due(queue: Any, now: datetime) -> int:
    started = 0
    for campaign_id in await _due(("scheduled",), Campaign.start_at, now):
        async with transaction():
            row = await locked(Campaign.select().where(Campaign.id == campaign_id)).first()
            if row is None or row["status"] != "scheduled" or row["start_at"] > now:
                continue
            if row["end_at"] <= now:
                continue  # end_due ends it; the whole period passed while nothing ran
            version_id = row["flow_version"]
            if version_id is None:
                version = await latest_manual_version(row["flow"])
                if version is None:
                    await _end(row, now, "its flow has no manually triggered published version any more")
                    continue
                version_id = version["id"]
            zone = await _zone(row["workspace"])
            await Campaign.update(
                {
                    Campaign.status: "running",
                    Campaign.flow_version: version_id,
                    Campaign.started_at: row["started_at"] or now,
                    Campaign.next_trigger_at: plan.due_slot(
                        row["anchor_at"], row["every_unit"], row["every_count"], now, zone
                    )
                    or row["anchor_at"],
                    Campaign.updated_at: now,
                }
            ).where(Campaign.id == campaign_id)
            if row["started_at"] is not None:
                # Resumed: its messages may leave again. Dropped under the campaign's lock, so a suspend
                # (which holds it too) comes wholly before or after.
                await messages.drop_hold(campaign_id)
            await audit.record_system(
                row["workspace"],
                "campaign.started" if row["started_at"] is None else "campaign.restarted",
                actor_label=ACTOR,
                target_type="campaign",
                target_id=campaign_id,
                data={"flow_version_id": version_id},
            )
        started += 1
        if row["started_at"] is not None:  # a resumed campaign: messages, batches and runs wait
            suffix = f":resumed{int(now.timestamp())}"
            # Fresh job ids: the original send jobs' results are still kept, and arq refuses a known id.
            await messages.release_campaign_messages(campaign_id, queue, now, suffix=suffix)
            for trigger_id in await _triggers_with_pending_batches(campaign_id):
                await triggers.start_lanes(queue, trigger_id, suffix)
            await runs.wake_campaign(campaign_id, queue, now)
    return started


# --- end --------------------------------------------------------------------------------------------


async def end_due(now: datetime) -> int:
    ended = 0
    for campaign_id in await _due(("scheduled", "running", "paused"), Campaign.end_at, now):
        async with transaction():
            row = await locked(Campaign.select().where(Campaign.id == campaign_id)).first()
            if row is None or row["status"] == "ended" or row["end_at"] > now:
                continue
            await _end(row, now, "its end time came")
        ended += 1
    return ended


async def _end(row: dict[str, Any], now: datetime, why: str) -> None:
    """End a locked campaign: it sends nothing more, its unfinished runs expire (caller's transaction)."""
    campaign_id = row["id"]
    cancelled, expired = await close_campaign(campaign_id, now)
    await audit.record_system(
        row["workspace"],
        "campaign.ended",
        actor_label=ACTOR,
        target_type="campaign",
        target_id=campaign_id,
        data={"why": why, "unsent_messages": cancelled, "expired_runs": expired},
    )
    log.info(
        "campaign %s ended (%s): %d unsent messages, %d runs expired", campaign_id, why, cancelled, expired
    )


# --- triggers ---------------------------------------------------------------------------------------


async def fire_due(queue: Any, now: datetime) -> int:
    fired: list[int] = []
    for campaign_id in await _due(("running",), Campaign.next_trigger_at, now):
        async with transaction():
            row = await locked(Campaign.select().where(Campaign.id == campaign_id)).first()
            if row is None or row["status"] != "running" or row["next_trigger_at"] is None:
                continue
            if row["next_trigger_at"] > now:
                continue
            if await CampaignTrigger.exists().where(
                (CampaignTrigger.campaign == campaign_id) & CampaignTrigger.status.is_in(list(UNFINISHED))
            ):
                continue  # never two triggers of one campaign at once: this one waits its turn
            zone = await _zone(row["workspace"])
            unit, every = row["every_unit"], row["every_count"]
            slot = plan.due_slot(row["anchor_at"], unit, every, now, zone) or row["anchor_at"]
            following = plan.next_slot_after(row["anchor_at"], unit, every, now, zone)
            inserted = await CampaignTrigger.insert(
                CampaignTrigger(
                    campaign=campaign_id, slot_at=slot, status="running", started_at=now, heartbeat_at=now
                )
            ).returning(CampaignTrigger.id)
            await Campaign.update(
                {
                    Campaign.next_trigger_at: following
                    if following is not None and following < row["end_at"]
                    else None,
                    Campaign.last_trigger_at: slot,
                    Campaign.triggers_fired: row["triggers_fired"] + 1,
                    Campaign.updated_at: now,
                }
            ).where(Campaign.id == campaign_id)
            fired.append(inserted[0]["id"])
    for trigger_id in fired:
        await enqueue_trigger(queue, trigger_id)
    return len(fired)


async def enqueue_trigger(queue: Any, trigger_id: int, suffix: str = "") -> None:
    if queue is not None:
        await queue.enqueue_job(TRIGGER_JOB, trigger_id, _job_id=f"trigger:{trigger_id}{suffix}")


async def revive(queue: Any, now: datetime | None = None) -> dict[str, int]:
    """Enqueue again what lost its job (a killed worker, a flushed Redis): triggers whose selection
    stopped beating, the lanes of running campaigns' triggers that have pending batches but finished
    none for :data:`triggers.STALE_LANES`, and messages a running campaign still holds."""
    moment = now or datetime.now(UTC)
    bucket = f":revived{int(moment.timestamp()) // 60}"
    stale = await CampaignTrigger.select(CampaignTrigger.id).where(
        (CampaignTrigger.status == "running") & (CampaignTrigger.heartbeat_at < moment - STALE_TRIGGER)
    )
    for row in stale:
        await enqueue_trigger(queue, row["id"], bucket)
    idle = await CampaignTrigger.raw(
        'SELECT t.id FROM "campaign_triggers" t JOIN "campaigns" c ON c.id = t.campaign '
        "WHERE c.status = 'running' AND t.status IN ('enrolled', 'stopped') AND t.heartbeat_at < {} "
        "AND EXISTS (SELECT 1 FROM \"campaign_batches\" b WHERE b.trigger = t.id AND b.status = 'pending')",
        moment - triggers.STALE_LANES,
    )
    for row in idle:
        await triggers.start_lanes(queue, row["id"], bucket)
    holding = await Campaign.raw(
        'SELECT DISTINCT m.campaign_id AS id FROM "messages" m JOIN "campaigns" c ON c.id = m.campaign_id '
        "WHERE m.status = 'held' AND c.status = 'running'"
    )
    released = 0
    for row in holding:  # a resume whose release was cut short
        async with transaction():
            current = await locked(Campaign.select(Campaign.status).where(Campaign.id == row["id"])).first()
            if current is None or current["status"] != "running":
                continue  # suspended (or ended) since: its messages stay held
            await messages.drop_hold(row["id"])
        released += await messages.release_campaign_messages(row["id"], queue, moment, suffix=bucket)
    return {"triggers": len(stale), "lanes": len(idle), "released": released}


async def _triggers_with_pending_batches(campaign_id: int) -> list[int]:
    rows = await CampaignTrigger.raw(
        "SELECT DISTINCT b.trigger AS id FROM \"campaign_batches\" b WHERE b.campaign_id = {} AND b.status = 'pending'",
        campaign_id,
    )
    return [row["id"] for row in rows]
