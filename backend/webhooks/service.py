"""Outbound webhooks: which endpoints get an event, and handing deliveries to the worker.

Outbox pattern: :func:`emit` runs inside the caller's transaction and only writes delivery rows, so an
event and its deliveries commit together (or neither does); :func:`dispatch` runs after the commit and
enqueues them. A sweeper re-enqueues due deliveries, so a lost Redis job delays a delivery but never
loses it.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from datetime import UTC, datetime
from typing import Any

from backend.webhooks.tables import WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

DELIVER_JOB = "deliver_webhook"


def new_message_id() -> str:
    return f"msg_{secrets.token_urlsafe(18)}"


def subscribed(events: list[str], event_type: str) -> bool:
    return "*" in events or event_type in events


async def emit(workspace_id: int, event_type: str, data: dict[str, Any]) -> list[int]:
    """Create one pending delivery per enabled endpoint subscribed to ``event_type``; returns their ids.

    The payload follows the Standard Webhooks shape: ``{"type", "timestamp", "data"}``.
    """
    endpoints = (
        await WebhookEndpoint.select(WebhookEndpoint.id, WebhookEndpoint.events)
        .where(
            (WebhookEndpoint.workspace == workspace_id) & (WebhookEndpoint.enabled == True)  # noqa: E712
        )
        .output(load_json=True)
    )
    now = datetime.now(UTC)
    rows = [
        _pending(workspace_id, endpoint["id"], event_type, data, now)
        for endpoint in endpoints
        if subscribed(endpoint["events"] or [], event_type)
    ]
    if not rows:
        return []
    inserted = await WebhookDelivery.insert(*rows).returning(WebhookDelivery.id)
    return [row["id"] for row in inserted]


TEST_EVENT = "webhook.test"
"""The event of "send test event": sent to the one endpoint asked for, whatever it subscribed to."""


async def emit_test(workspace_id: int, endpoint_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """One pending test delivery to ``endpoint_id``, written like any event's (same signing, retries and
    log), so a test that succeeds proves the path real events take. Returns the delivery row."""
    row = _pending(workspace_id, endpoint_id, TEST_EVENT, data, datetime.now(UTC))
    inserted = await WebhookDelivery.insert(row).returning(*WebhookDelivery.all_columns())
    return inserted[0]


def _pending(
    workspace_id: int, endpoint_id: int, event_type: str, data: dict[str, Any], now: datetime
) -> WebhookDelivery:
    """A delivery due now; its payload follows the Standard Webhooks shape ``{"type", "timestamp", "data"}``."""
    return WebhookDelivery(
        workspace=workspace_id,
        endpoint=endpoint_id,
        message_id=new_message_id(),
        event_type=event_type,
        payload={"type": event_type, "timestamp": now.isoformat(), "data": data},
        status="pending",
        next_attempt_at=now,
    )


async def dispatch(queue: Any, delivery_ids: list[int]) -> None:
    """Enqueue delivery jobs for rows :func:`emit` created (call after the transaction commits).

    Failing to enqueue is logged, not raised: the rows are committed and the sweeper will find them.
    """
    if queue is None:
        return
    for delivery_id in delivery_ids:
        with contextlib.suppress(Exception):
            await queue.enqueue_job(DELIVER_JOB, delivery_id, _job_id=f"webhook:{delivery_id}:0")
