"""The reconciler: the database is the truth, Redis only a hint (FIELD-NOTES "arq").

Every minute (and callable directly): ``queued`` messages overdue by more than :data:`STALE_AFTER` lost
their job (Redis flushed, a job dropped) and are enqueued again; ``sending`` messages whose lease ran out
were in the hands of a worker that died mid-send: the provider may have them, so they become ``unknown``
(settled by the status webhook, never re-sent); idempotency keys older than 24 hours are deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from backend.messages import idempotency
from backend.messages.service import BATCH_SIZE, SEND_FUNCTION, batch_job_id
from backend.messages.tables import Message

STALE_AFTER = timedelta(seconds=60)
MAX_PER_RUN = 100_000


async def requeue_lost(queue: Any, now: datetime, stale_after: timedelta = STALE_AFTER) -> int:
    rows = (
        await Message.select(Message.id)
        .where(
            (Message.status == "queued")
            & (Message.direction == "outbound")
            & (Message.next_attempt_at < now - stale_after)
        )
        .order_by(Message.id)
        .limit(MAX_PER_RUN)
    )
    ids = [row["id"] for row in rows]
    # A fresh job id per run: the lost job's id may still be held by its kept result.
    suffix = f":reconcile{int(now.timestamp())}"
    for start in range(0, len(ids), BATCH_SIZE):
        batch = ids[start : start + BATCH_SIZE]
        await queue.enqueue_job(SEND_FUNCTION, batch, _job_id=batch_job_id(batch, suffix))
    return len(ids)


async def expire_leases(now: datetime) -> int:
    settled = (
        await Message.update(
            {
                Message.status: "unknown",
                Message.lease_until: None,
                Message.updated_at: now,
                Message.error_message: "the worker stopped while sending; awaiting the provider's status",
            }
        )
        .where((Message.status == "sending") & (Message.lease_until < now))
        .returning(Message.id)
    )
    return len(settled)


async def reconcile(queue: Any, now: datetime | None = None, stale_after: timedelta = STALE_AFTER) -> dict:
    """One pass; ``now`` and ``stale_after`` are parameters so tests need not wait a minute."""
    moment = now or datetime.now(UTC)
    return {
        "unknown": await expire_leases(moment),
        "requeued": await requeue_lost(queue, moment, stale_after),
        "keys_purged": await idempotency.purge(moment),
    }
