"""Webhook endpoints and their delivery log, as the admin API sees them.

Every function takes the caller and filters by its workspace, so another workspace's endpoint is
simply not found (404). Changes are audited in the transaction that makes them.
"""

from __future__ import annotations

from typing import Any

from backend.audit import service as audit
from backend.core.database import transaction
from backend.core.errors import Conflict, InvalidInput, NotFound
from backend.core.outbound import RefusedURL, check_url
from backend.webhooks import service, signing
from backend.webhooks.tables import WebhookDelivery, WebhookEndpoint
from backend.workspaces.auth import Principal
from backend.workspaces.tables import Workspace

PUBLIC_COLUMNS = (
    WebhookEndpoint.id,
    WebhookEndpoint.url,
    WebhookEndpoint.events,
    WebhookEndpoint.description,
    WebhookEndpoint.enabled,
    WebhookEndpoint.disabled_reason,
    WebhookEndpoint.created_at,
)
"""Everything but the secret, which only the creating response and the worker ever read."""


def endpoints_query(workspace_id: int):
    return (
        WebhookEndpoint.select(*PUBLIC_COLUMNS)
        .where(WebhookEndpoint.workspace == workspace_id)
        .output(load_json=True)
    )


async def get_endpoint(principal: Principal, endpoint_id: int) -> dict[str, Any]:
    row = await endpoints_query(principal.workspace_id).where(WebhookEndpoint.id == endpoint_id).first()
    if row is None:
        raise NotFound("webhook", endpoint_id)
    return row


async def allows_private_urls(workspace_id: int) -> bool:
    row = await Workspace.select(Workspace.allow_private_urls).where(Workspace.id == workspace_id).first()
    return bool(row and row["allow_private_urls"])


async def checked_url(workspace_id: int, url: str) -> str:
    """The URL if the workspace may call it: refused at creation here, and again at every delivery,
    because DNS answers and the workspace's setting can change in between."""
    url = url.strip()
    try:
        await check_url(url, allow_private=await allows_private_urls(workspace_id))
    except RefusedURL as exc:
        raise InvalidInput("url", str(exc)) from None
    return url


def normalised_events(events: list[str]) -> list[str]:
    """``*`` swallows the rest; duplicates go; the order given is kept."""
    if "*" in events:
        return ["*"]
    return list(dict.fromkeys(events))


async def create_endpoint(
    principal: Principal, url: str, events: list[str], description: str
) -> dict[str, Any]:
    """A new endpoint with a fresh secret; the returned row is the only place the secret is shown."""
    url = await checked_url(principal.workspace_id, url)
    events = normalised_events(events)
    async with transaction():
        row = (
            await WebhookEndpoint.insert(
                WebhookEndpoint(
                    workspace=principal.workspace_id,
                    url=url,
                    events=events,
                    secret=signing.new_secret(),
                    description=description.strip(),
                )
            ).returning(*PUBLIC_COLUMNS, WebhookEndpoint.secret)
        )[0]
        await audit.record(
            principal,
            "webhook.created",
            target_type="webhook",
            target_id=row["id"],
            data={"url": url, "events": events},
        )
    row["events"] = events
    return row


async def delete_endpoint(principal: Principal, endpoint_id: int) -> None:
    """Remove an endpoint and its delivery log; queued jobs for it then find nothing and stop."""
    async with transaction():
        row = await get_endpoint(principal, endpoint_id)
        await WebhookEndpoint.delete().where(WebhookEndpoint.id == endpoint_id)
        await audit.record(
            principal,
            "webhook.deleted",
            target_type="webhook",
            target_id=endpoint_id,
            data={"url": row["url"]},
        )


async def enable_endpoint(principal: Principal, endpoint_id: int) -> dict[str, Any]:
    """Resume deliveries to an endpoint that was disabled (after a 410); events from now on reach it."""
    async with transaction():
        row = await get_endpoint(principal, endpoint_id)
        if not row["enabled"]:
            await WebhookEndpoint.update(
                {WebhookEndpoint.enabled: True, WebhookEndpoint.disabled_reason: ""}
            ).where(WebhookEndpoint.id == endpoint_id)
            await audit.record(
                principal,
                "webhook.enabled",
                target_type="webhook",
                target_id=endpoint_id,
                data={"was_disabled_because": row["disabled_reason"]},
            )
    return await get_endpoint(principal, endpoint_id)


async def send_test(principal: Principal, endpoint_id: int) -> dict[str, Any]:
    """A signed test event for one endpoint, through the outbox like every event: the worker sends it,
    retries it on failure and records each attempt in the delivery log. The caller enqueues it after
    this commits (:func:`backend.webhooks.service.dispatch`). A disabled endpoint is refused: the worker
    would fail the delivery at once without sending anything."""
    async with transaction():
        row = await get_endpoint(principal, endpoint_id)
        if not row["enabled"]:
            raise Conflict(
                f"webhook {endpoint_id} is disabled ({row['disabled_reason'] or 'no reason recorded'}); "
                "enable it before sending a test event"
            )
        delivery = await service.emit_test(
            principal.workspace_id,
            endpoint_id,
            {
                "webhook_id": endpoint_id,
                "text": "A test event from Flowgate: this endpoint receives signed consent events.",
            },
        )
        await audit.record(
            principal,
            "webhook.tested",
            target_type="webhook",
            target_id=endpoint_id,
            data={"url": row["url"], "delivery_id": delivery["id"]},
        )
    return (
        await deliveries_query(principal.workspace_id, endpoint_id)
        .where(WebhookDelivery.id == delivery["id"])
        .first()
    )


def deliveries_query(workspace_id: int, endpoint_id: int, status: str | None = None):
    query = (
        WebhookDelivery.select(*WebhookDelivery.all_columns())
        .where((WebhookDelivery.workspace == workspace_id) & (WebhookDelivery.endpoint == endpoint_id))
        .output(load_json=True)
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return query


def delivery_out(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "endpoint_id": row["endpoint"]}
