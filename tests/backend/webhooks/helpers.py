"""What the webhook tests share: endpoints made through the API, events, a burst worker, rows."""

from __future__ import annotations

from typing import Any


async def allow_private_urls(client, tenant) -> None:
    response = await client.patch(
        "/api/v1/settings", json={"allow_private_urls": True}, headers=tenant.headers()
    )
    assert response.status_code == 200, response.text


async def create_endpoint(client, tenant, url: str, events: list[str] | None = None) -> dict[str, Any]:
    """An endpoint at ``url`` (private addresses allowed first, as the receiver is on 127.0.0.1)."""
    await allow_private_urls(client, tenant)
    body: dict[str, Any] = {"url": url, "description": "CRM sync"}
    if events is not None:
        body["events"] = events
    response = await client.post("/api/v1/webhooks", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()


async def run_worker(redis_url: str, retry_delays_s: list[float] | None = None) -> None:
    """A real burst worker: runs every queued job (deferred ones included) and stops when none is left."""
    from backend.webhooks.tasks import RETRY_DELAYS_KEY
    from backend.worker import build_worker

    ctx: dict[str, Any] = {"db_pool_size": 5}
    if retry_delays_s is not None:
        ctx[RETRY_DELAYS_KEY] = retry_delays_s
    worker = build_worker(redis_url, burst=True, ctx=ctx)
    try:
        await worker.main()
    finally:
        await worker.close()


async def emit_event(workspace_id: int, queue, address: str = "+351912000001") -> list[int]:
    """A consent event's deliveries, written and dispatched the way the consent service does it."""
    from backend.webhooks import service

    ids = await service.emit(
        workspace_id, "consent.opted_out", {"channel": "sms", "address": address, "source": "api"}
    )
    await service.dispatch(queue, ids)
    return ids


async def delivery_row(delivery_id: int) -> dict[str, Any]:
    from backend.webhooks.tables import WebhookDelivery

    return (
        await WebhookDelivery.select().where(WebhookDelivery.id == delivery_id).output(load_json=True).first()
    )
