"""Delivery by the worker to a real receiver that verifies signatures per the Standard Webhooks spec:
success, retries with backoff, 410 disabling, giving up, SSRF at delivery, and at-most-once per attempt."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import msgspec

from tests.backend.webhooks.helpers import create_endpoint, delivery_row, emit_event, run_worker

NO_DELAYS = (timedelta(0), timedelta(0))


async def test_an_opt_out_reaches_the_receiver_signed(client, tenant, receiver, endpoint, redis_url):
    from backend.consent.service import record_opt_out
    from backend.core.queue import connect_queue

    queue = await connect_queue(redis_url)
    try:
        result = await record_opt_out(
            tenant.id, channel="sms", address="+351912000001", source="api", actor="test", queue=queue
        )
    finally:
        await queue.aclose()
    await run_worker(redis_url)

    assert len(receiver.received) == 1
    request = receiver.received[0]
    assert request.verified, request.problem
    assert request.headers["content-type"] == "application/json"
    payload = request.json()
    assert payload["type"] == "consent.opted_out"
    assert payload["data"]["address"] == "+351912000001"
    assert payload["data"]["channel"] == "sms"
    assert payload["data"]["id"] == result.event["id"]

    log = (await client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=tenant.headers())).json()
    delivery = log["items"][0]
    assert delivery["status"] == "succeeded"
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] == 200
    assert delivery["delivered_at"] is not None
    assert delivery["next_attempt_at"] is None
    assert request.headers["webhook-id"] == delivery["message_id"]
    # The signed bytes are the stored payload, byte for byte.
    assert request.body == msgspec.json.encode(delivery["payload"])


async def test_a_receiver_with_the_wrong_secret_refuses_the_delivery(
    client, tenant, receiver, redis, redis_url
):
    await create_endpoint(client, tenant, receiver.url)
    receiver.secret = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
    from backend.core.queue import connect_queue

    queue = await connect_queue(redis_url)
    [delivery_id] = await emit_event(tenant.id, queue)
    await queue.aclose()
    await run_worker(redis_url, retry_delays_s=[0.1])
    assert [r.problem for r in receiver.received] == ["no signature matches"] * 2
    row = await delivery_row(delivery_id)
    assert row["status"] == "failed"
    assert row["attempts"] == 2
    assert row["last_status_code"] == 401


async def test_a_500_is_retried_with_the_same_id_and_then_succeeds(tenant, receiver, endpoint, redis_url):
    receiver.statuses = [500]
    from backend.core.queue import connect_queue

    queue = await connect_queue(redis_url)
    [delivery_id] = await emit_event(tenant.id, queue)
    await queue.aclose()
    await run_worker(redis_url, retry_delays_s=[0.2, 0.2])

    assert [r.answered for r in receiver.received] == [500, 200]
    assert all(r.verified for r in receiver.received)
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    assert receiver.received[0].body == receiver.received[1].body
    row = await delivery_row(delivery_id)
    assert row["status"] == "succeeded"
    assert row["attempts"] == 2
    assert row["last_status_code"] == 200
    assert row["last_error"] == ""


async def test_a_failure_schedules_the_next_attempt_as_a_deferred_job(
    tenant, receiver, endpoint, redis, redis_url
):
    from backend.core.queue import connect_queue
    from backend.webhooks import delivery

    receiver.default = 503
    [delivery_id] = await emit_event(tenant.id, None)
    before = datetime.now(UTC)
    queue = await connect_queue(redis_url)
    async with httpx.AsyncClient() as http:
        outcome = await delivery.deliver(delivery_id, client=http, queue=queue, rand=lambda: 0.5)
    await queue.aclose()

    assert outcome.status == "retrying"
    row = await delivery_row(delivery_id)
    assert row["status"] == "pending"
    assert row["attempts"] == 1
    assert row["last_status_code"] == 503
    assert row["last_error"].startswith("HTTP 503")
    # First retry after 5 s (jitter at its middle), as a deferred job with the attempt's own id.
    assert timedelta(seconds=4) < row["next_attempt_at"] - before < timedelta(seconds=7)
    score = await redis.zscore("arq:queue", f"webhook:{delivery_id}:1")
    assert score is not None
    assert abs(score / 1000 - row["next_attempt_at"].timestamp()) < 1


async def test_retries_back_off_and_then_give_up(tenant, receiver, endpoint):
    from backend.webhooks import delivery

    receiver.default = 500
    [delivery_id] = await emit_event(tenant.id, None)
    async with httpx.AsyncClient() as http:
        outcomes = [
            await delivery.deliver(delivery_id, client=http, queue=None, delays=NO_DELAYS) for _ in range(4)
        ]
    assert [o.status for o in outcomes] == ["retrying", "retrying", "failed", "skipped"]
    assert len(receiver.received) == 3
    row = await delivery_row(delivery_id)
    assert row["status"] == "failed"
    assert row["attempts"] == 3
    assert row["next_attempt_at"] is None
    assert row["last_error"].startswith("HTTP 500")


def test_the_default_schedule_spans_about_three_days_with_jitter():
    from backend.webhooks.delivery import RETRY_DELAYS, retry_delay

    assert RETRY_DELAYS[0] == timedelta(seconds=5)
    assert list(RETRY_DELAYS) == sorted(RETRY_DELAYS)
    assert timedelta(days=2.5) < sum(RETRY_DELAYS, timedelta()) < timedelta(days=3.5)
    assert retry_delay(1, RETRY_DELAYS, lambda: 0.0) == timedelta(seconds=4.5)
    assert retry_delay(1, RETRY_DELAYS, lambda: 1.0) == timedelta(seconds=5.5)
    assert retry_delay(len(RETRY_DELAYS) + 1, RETRY_DELAYS, lambda: 0.5) is None


async def test_410_disables_the_endpoint_and_fails_what_is_pending(client, tenant, receiver, endpoint):
    from backend.webhooks import delivery

    receiver.statuses = [410]
    first, second = [(await emit_event(tenant.id, None, a))[0] for a in ("+351912000001", "+351912000002")]
    async with httpx.AsyncClient() as http:
        outcome = await delivery.deliver(first, client=http, queue=None)
        later = await delivery.deliver(second, client=http, queue=None)
    assert outcome.status == "disabled"
    assert later.status == "skipped"
    assert len(receiver.received) == 1

    shown = (await client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=tenant.headers())).json()
    assert shown["enabled"] is False
    assert "410" in shown["disabled_reason"]
    assert (await delivery_row(first))["status"] == "failed"
    assert (await delivery_row(first))["last_status_code"] == 410
    assert (await delivery_row(second))["status"] == "failed"
    assert await emit_event(tenant.id, None) == []  # a disabled endpoint gets no new deliveries
    audit = (await client.get("/api/v1/audit-log", headers=tenant.headers())).json()["items"]
    assert "webhook.disabled" in [event["action"] for event in audit]

    enabled = await client.post(f"/api/v1/webhooks/{endpoint['id']}/enable", headers=tenant.headers())
    assert enabled.status_code == 200
    assert enabled.json()["enabled"] is True
    assert enabled.json()["disabled_reason"] == ""
    [third] = await emit_event(tenant.id, None)
    async with httpx.AsyncClient() as http:
        assert (await delivery.deliver(third, client=http, queue=None)).status == "succeeded"


async def test_a_private_url_is_refused_at_delivery_once_the_setting_is_off(
    client, tenant, receiver, endpoint
):
    from backend.webhooks import delivery

    await client.patch("/api/v1/settings", json={"allow_private_urls": False}, headers=tenant.headers())
    [delivery_id] = await emit_event(tenant.id, None)
    async with httpx.AsyncClient() as http:
        outcome = await delivery.deliver(delivery_id, client=http, queue=None)
    assert outcome.status == "retrying"
    assert receiver.received == []
    row = await delivery_row(delivery_id)
    assert row["status"] == "pending"
    assert row["last_status_code"] is None
    assert "refused" in row["last_error"] and "private address" in row["last_error"]


async def test_redirects_are_not_followed(tenant, receiver, endpoint):
    from backend.webhooks import delivery

    receiver.statuses = [302]
    [delivery_id] = await emit_event(tenant.id, None)
    async with httpx.AsyncClient() as http:
        outcome = await delivery.deliver(delivery_id, client=http, queue=None)
    assert outcome.status == "retrying"
    assert len(receiver.received) == 1
    assert (await delivery_row(delivery_id))["last_status_code"] == 302


async def test_a_connection_error_is_retried(client, tenant):
    from backend.webhooks import delivery
    from tests.conftest import free_port

    await create_endpoint(client, tenant, f"http://127.0.0.1:{free_port()}/nobody-listens")
    [delivery_id] = await emit_event(tenant.id, None)
    async with httpx.AsyncClient() as http:
        outcome = await delivery.deliver(delivery_id, client=http, queue=None)
    assert outcome.status == "retrying"
    row = await delivery_row(delivery_id)
    assert row["status"] == "pending"
    assert row["last_status_code"] is None
    assert "ConnectError" in row["last_error"]


async def test_two_workers_never_send_the_same_attempt_twice(tenant, receiver, endpoint):
    from backend.webhooks import delivery

    [delivery_id] = await emit_event(tenant.id, None)
    async with httpx.AsyncClient() as http:
        outcomes = await asyncio.gather(
            *(delivery.deliver(delivery_id, client=http, queue=None) for _ in range(5))
        )
    assert sorted(o.status for o in outcomes) == ["skipped"] * 4 + ["succeeded"]
    assert len(receiver.received) == 1
    assert (await delivery_row(delivery_id))["attempts"] == 1


async def test_jobs_for_finished_or_not_yet_due_deliveries_do_nothing(tenant, receiver, endpoint):
    from backend.webhooks import delivery
    from backend.webhooks.tables import WebhookDelivery

    done, later = [(await emit_event(tenant.id, None, a))[0] for a in ("+351912000001", "+351912000002")]
    await WebhookDelivery.update(
        {WebhookDelivery.next_attempt_at: datetime.now(UTC) + timedelta(hours=1)}
    ).where(WebhookDelivery.id == later)
    async with httpx.AsyncClient() as http:
        assert (await delivery.deliver(done, client=http, queue=None)).status == "succeeded"
        assert (await delivery.deliver(done, client=http, queue=None)).status == "skipped"
        assert (await delivery.deliver(later, client=http, queue=None)).status == "skipped"
        assert (await delivery.deliver(999_999, client=http, queue=None)).status == "skipped"
        # A stale job made for an earlier attempt does not make a later one.
        await WebhookDelivery.update({WebhookDelivery.next_attempt_at: datetime.now(UTC)}).where(
            WebhookDelivery.id == later
        )
        assert (await delivery.deliver(later, client=http, queue=None, attempts_made=3)).status == "skipped"
    assert len(receiver.received) == 1
    assert (await delivery_row(later))["attempts"] == 0


async def test_a_deleted_endpoint_stops_its_queued_jobs(client, tenant, receiver, endpoint, redis_url):
    from backend.core.queue import connect_queue

    queue = await connect_queue(redis_url)
    await emit_event(tenant.id, queue)
    await queue.aclose()
    await client.delete(f"/api/v1/webhooks/{endpoint['id']}", headers=tenant.headers())
    await run_worker(redis_url)
    assert receiver.received == []


async def test_every_job_of_a_worker_uses_the_client_made_at_start_up(redis_url):
    """arq copies the context per job: a client made by a job would be that job's alone (and leak)."""
    from backend.webhooks.tasks import HTTP_CLIENT_KEY
    from tests.backend.worker_probe import shared_objects

    first, second, closed = await shared_objects(redis_url, HTTP_CLIENT_KEY)
    assert first == second  # the same client object in both jobs
    assert closed  # and the worker closed it on shutdown
