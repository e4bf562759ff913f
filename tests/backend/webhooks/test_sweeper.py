"""The sweeper: a delivery whose job was lost (Redis restarted without persistence, a worker died
mid-attempt) is enqueued again from the database, and a job still queued is not duplicated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.backend.webhooks.helpers import delivery_row, emit_event, run_worker


async def _webhook_jobs(redis) -> list[str]:
    return [job.decode() for job in await redis.zrange("arq:queue", 0, -1) if job.startswith(b"webhook:")]


async def _overdue(delivery_id: int, by: timedelta, attempts: int = 0) -> None:
    from backend.webhooks.tables import WebhookDelivery

    await WebhookDelivery.update(
        {WebhookDelivery.next_attempt_at: datetime.now(UTC) - by, WebhookDelivery.attempts: attempts}
    ).where(WebhookDelivery.id == delivery_id)


async def test_a_lost_job_is_enqueued_again_and_delivered(tenant, receiver, endpoint, redis, redis_url):
    from backend.core.queue import connect_queue

    [lost] = await emit_event(tenant.id, None)  # written, never enqueued: as if Redis lost the job
    [recent] = await emit_event(tenant.id, None, "+351912000002")
    await _overdue(lost, timedelta(minutes=2))
    await _overdue(recent, timedelta(seconds=10))
    assert await _webhook_jobs(redis) == []

    queue = await connect_queue(redis_url)
    await queue.enqueue_job("sweep_webhook_deliveries")
    await queue.aclose()
    await run_worker(redis_url)

    assert [r.json()["data"]["address"] for r in receiver.received] == ["+351912000001"]
    assert receiver.received[0].verified
    assert (await delivery_row(lost))["status"] == "succeeded"
    assert (await delivery_row(recent))["status"] == "pending"  # due, but its job may still come


async def test_a_worker_that_died_mid_attempt_is_taken_over_after_its_lease(
    tenant, endpoint, redis, redis_url
):
    from backend.core.queue import connect_queue
    from backend.webhooks import delivery

    [delivery_id] = await emit_event(tenant.id, None)
    # Attempt 1 was claimed (attempts=1), then its worker died: the lease ran out three minutes ago.
    await _overdue(delivery_id, timedelta(minutes=3), attempts=1)
    queue = await connect_queue(redis_url)
    try:
        assert await delivery.sweep(queue) == 1
    finally:
        await queue.aclose()
    assert await _webhook_jobs(redis) == [f"webhook:{delivery_id}:1"]


async def test_sweeping_twice_does_not_queue_the_attempt_twice(tenant, endpoint, redis, redis_url):
    from backend.core.queue import connect_queue
    from backend.webhooks import delivery

    [delivery_id] = await emit_event(tenant.id, None)
    await _overdue(delivery_id, timedelta(minutes=5))
    queue = await connect_queue(redis_url)
    try:
        assert await delivery.sweep(queue) == 1
        assert await delivery.sweep(queue) == 0
    finally:
        await queue.aclose()
    assert await _webhook_jobs(redis) == [f"webhook:{delivery_id}:0"]


async def test_finished_deliveries_are_left_alone(tenant, endpoint, redis_url):
    from backend.core.queue import connect_queue
    from backend.webhooks import delivery
    from backend.webhooks.tables import WebhookDelivery

    ids = [(await emit_event(tenant.id, None, f"+35191200000{n}"))[0] for n in range(2)]
    for delivery_id, status in zip(ids, ("succeeded", "failed"), strict=True):
        await _overdue(delivery_id, timedelta(hours=1))
        await WebhookDelivery.update({WebhookDelivery.status: status}).where(
            WebhookDelivery.id == delivery_id
        )
    queue = await connect_queue(redis_url)
    try:
        assert await delivery.sweep(queue) == 0
    finally:
        await queue.aclose()


def test_the_sweeper_runs_every_minute_and_the_job_is_registered():
    from backend.webhooks.service import DELIVER_JOB
    from backend.worker import CRON_JOBS, job_names

    sweeper = next(job for job in CRON_JOBS if job.name == "cron:sweep_webhook_deliveries")
    assert sweeper.minute is None  # every minute
    assert sweeper.unique
    assert DELIVER_JOB in job_names()
