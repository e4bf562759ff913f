"""No webhook delivery retries for ever (issue 14, item 4): one that cannot be signed fails at once, and
one whose attempts never recorded a result (a worker killed mid-attempt each time) fails when its
attempts are used up. Both end ``failed`` with the reason in the delivery log. A real worker on Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.webhooks.tables import WebhookDelivery, WebhookEndpoint
from tests.backend.webhooks.helpers import delivery_row, emit_event, run_worker


async def _log(client, tenant, endpoint_id: int) -> list[dict]:
    response = await client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_a_delivery_that_cannot_be_signed_fails_at_once(client, tenant, receiver, endpoint, redis_url):
    from backend.core.queue import connect_queue

    # A secret that is not a whsec_ key (damaged in the database): no attempt can ever be signed.
    await WebhookEndpoint.update({WebhookEndpoint.secret: "whsec_not*base64"}).where(
        WebhookEndpoint.id == endpoint["id"]
    )
    queue = await connect_queue(redis_url)
    [delivery_id] = await emit_event(tenant.id, queue)
    await queue.aclose()
    await run_worker(redis_url, retry_delays_s=[0, 0])

    assert receiver.received == []
    row = await delivery_row(delivery_id)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("failed", 0, None)
    [item] = await _log(client, tenant, endpoint["id"])
    assert item["status"] == "failed"
    assert item["last_error"].startswith("cannot be sent: not a whsec_ secret")


async def test_attempts_that_never_ended_use_up_the_budget_and_the_sweeper_ends_them(
    client, tenant, receiver, endpoint, redis_url
):
    from backend.core.queue import connect_queue

    [delivery_id] = await emit_event(tenant.id, None)
    # Three attempts claimed (two retry delays allow three), none recorded: each worker died mid-attempt.
    await WebhookDelivery.update(
        {
            WebhookDelivery.attempts: 3,
            WebhookDelivery.next_attempt_at: datetime.now(UTC) - timedelta(minutes=5),
        }
    ).where(WebhookDelivery.id == delivery_id)

    from backend.webhooks import delivery

    queue = await connect_queue(redis_url)
    try:
        assert await delivery.sweep(queue) == 1
    finally:
        await queue.aclose()
    await run_worker(redis_url, retry_delays_s=[0, 0])

    assert receiver.received == []  # no fourth attempt
    row = await delivery_row(delivery_id)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    [item] = await _log(client, tenant, endpoint["id"])
    assert item["last_error"] == "gave up after 3 attempts; the last ones ended without a result"
