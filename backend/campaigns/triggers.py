"""One trigger's work: enroll the group's eligible members, a keyset page per transaction, and hand the
new runs to the workers in batch jobs.

Each page is one ``INSERT … SELECT`` of runs (:func:`backend.campaigns.audience.enroll_page`) committed
with the trigger's cursor and the live counters, so a trigger that dies resumes after its last page and
enrolls no one twice (the unique ``(campaign, contact, entry)`` would refuse it anyway). Memory stays
flat: a page is 5,000 members, whatever the group's size. A trigger stops when its campaign no longer
runs; whoever it did not reach is enrolled by the next one.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from backend.campaigns import service, stats
from backend.campaigns.audience import enroll_page
from backend.campaigns.tables import Campaign, CampaignTrigger
from backend.core.database import locked, transaction
from backend.runs import hooks
from backend.runs import service as runs

log = logging.getLogger(__name__)


async def run_trigger(trigger_id: int, *, queue: Any, now: datetime | None = None) -> dict[str, Any]:
    """Enroll page after page until the group is done or the campaign stops; what it did."""
    enrolled = 0
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
                return {"status": "gone", "enrolled": enrolled}
            campaign = await locked(
                Campaign.select().where(Campaign.id == head["campaign"]), share=True
            ).first()
            trigger = await locked(CampaignTrigger.select().where(CampaignTrigger.id == trigger_id)).first()
            if trigger is None or trigger["status"] != "running":
                return {"status": trigger["status"] if trigger else "gone", "enrolled": enrolled}
            if campaign is None or campaign["status"] != "running" or campaign["flow_version"] is None:
                await _finish(trigger_id, "stopped", moment)
                return {"status": "stopped", "enrolled": enrolled}
            audience = await service.audience_of(campaign["workspace"], campaign)
            run_ids, last = await enroll_page(
                audience,
                flow_id=campaign["flow"],
                version_id=campaign["flow_version"],
                after=trigger["cursor"],
                now=moment,
            )
            counts = hooks.Counts()
            counts.add(campaign["id"], "", "entered", len(run_ids))
            counts.add(campaign["id"], "", "runs:active", len(run_ids))
            await stats.add(counts)
            enrolled += len(run_ids)
            elapsed_ms = trigger["enroll_ms"] or 0
            if last is None:
                await _finish(
                    trigger_id,
                    "done",
                    moment,
                    enrolled=trigger["enrolled"] + len(run_ids),
                    enroll_ms=elapsed_ms + int((time.perf_counter() - clock) * 1000),
                )
            else:
                await CampaignTrigger.update(
                    {
                        CampaignTrigger.cursor: last,
                        CampaignTrigger.enrolled: trigger["enrolled"] + len(run_ids),
                        CampaignTrigger.heartbeat_at: moment,
                        CampaignTrigger.enroll_ms: elapsed_ms + int((time.perf_counter() - clock) * 1000),
                    }
                ).where(CampaignTrigger.id == trigger_id)
            clock = time.perf_counter()
        await runs.enqueue_drive(queue, run_ids)
        hooks.bridge().changed({campaign["id"]})
        if last is None:
            log.info("trigger %s of campaign %s enrolled %d contacts", trigger_id, campaign["id"], enrolled)
            return {"status": "done", "enrolled": enrolled}


async def _finish(trigger_id: int, status: str, now: datetime, **values: Any) -> None:
    changes: dict[Any, Any] = {
        CampaignTrigger.status: status,
        CampaignTrigger.finished_at: now,
        CampaignTrigger.heartbeat_at: now,
    }
    for name, value in values.items():
        changes[getattr(CampaignTrigger, name)] = value
    await CampaignTrigger.update(changes).where(CampaignTrigger.id == trigger_id)
