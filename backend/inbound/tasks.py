"""Worker jobs of the inbound pipeline (registered in backend/worker.py through FUNCTIONS and CRON_JOBS).

``process_inbound`` processes the events a webhook (or the sandbox endpoint) stored; it re-enqueues
itself, deferred, for an event's retries. ``sandbox_answer`` stores a sandbox sender's simulated status
or answer when it is due (:mod:`backend.inbound.sandbox`). ``sweep_inbound_events`` runs every minute
(arq skips unique crons more frequent than that) and re-enqueues events still waiting after a minute, so
a job lost in Redis delays an event by a minute or two but never loses it. The sweeper's job ids are the
ones a retry would use, so an event whose retry is already scheduled is not enqueued twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import cron

from backend.core.queue import enqueue_ahead
from backend.inbound import processing, sandbox
from backend.inbound.store import PROCESS_JOB, job_id
from backend.inbound.tables import InboundEvent

log = logging.getLogger(__name__)

RETRY_DELAYS_KEY = "inbound_retry_delays"
"""Optional worker ctx entry: seconds between attempts, replacing :data:`processing.RETRY_DELAYS` (tests)."""
SWEEP_AFTER = timedelta(minutes=1)
SWEEP_BATCH = 500


def _delays(ctx: dict[str, Any]) -> tuple[float, ...]:
    configured = ctx.get(RETRY_DELAYS_KEY)
    return processing.RETRY_DELAYS if configured is None else tuple(float(s) for s in configured)


async def process_inbound(ctx: dict[str, Any], event_ids: list[int]) -> dict[str, int]:
    return await processing.process_events(event_ids, queue=ctx.get("redis"), delays=_delays(ctx))


async def sandbox_answer(ctx: dict[str, Any], sender_id: int, payload: dict[str, Any]) -> str:
    """A sandbox customer's due status or answer (``auto_reply``), stored like a webhook's event."""
    return await sandbox.deliver_answer(sender_id, payload, ctx["redis"])


async def sweep_inbound_events(ctx: dict[str, Any], older_than: float | None = None) -> int:
    """Enqueue events left ``pending`` or ``handoff`` for more than a minute; how many."""
    age = SWEEP_AFTER if older_than is None else timedelta(seconds=older_than)
    rows = (
        await InboundEvent.select(InboundEvent.id, InboundEvent.attempts)
        .where(
            InboundEvent.state.is_in(["pending", "handoff"])
            & (InboundEvent.received_at < datetime.now(UTC) - age)
        )
        .order_by(InboundEvent.id)
        .limit(SWEEP_BATCH)
    )
    queue = ctx["redis"]
    enqueued = 0
    for row in rows:
        job = await enqueue_ahead(queue, PROCESS_JOB, [row["id"]], _job_id=job_id(row["id"], row["attempts"]))
        enqueued += job is not None
    if enqueued:
        log.info("re-enqueued %d waiting inbound events", enqueued)
    return enqueued


FUNCTIONS: list = [process_inbound, sandbox_answer, sweep_inbound_events]
CRON_JOBS: list = [cron(sweep_inbound_events, second={40}, unique=True, timeout=50)]
