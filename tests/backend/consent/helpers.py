"""Rows the consent tests stand on: senders, categories, webhook endpoints and contacts, written straight to
the tables so these tests depend only on the consent code (the senders, categories and webhooks APIs are
tested in their own packages)."""

from __future__ import annotations

from typing import Any

PHONE_A = "+351912000001"
PHONE_B = "+351912000002"
EMAIL_A = "ana@example.com"


async def make_sender(
    workspace_id: int,
    *,
    name: str = "Shop SMS",
    channel: str = "sms",
    address: str = "+351910000000",
    scope: str = "sender",
    **fields: Any,
) -> dict[str, Any]:
    """A sandbox sender; returns its row as the gateway would load it (JSON columns decoded)."""
    from backend.senders.tables import Sender

    inserted = await Sender.insert(
        Sender(
            workspace=workspace_id,
            name=name,
            channel=channel,
            provider="sandbox",
            address=address,
            opt_out_scope=scope,
            **fields,
        )
    ).returning(Sender.id)
    return await Sender.select().where(Sender.id == inserted[0]["id"]).output(load_json=True).first()


async def make_category(workspace_id: int, name: str = "Promotions", days: int = 30) -> dict[str, Any]:
    from backend.consent.tables import MarketingCategory

    inserted = await MarketingCategory.insert(
        MarketingCategory(workspace=workspace_id, name=name, unsubscribe_days=days)
    ).returning(MarketingCategory.id)
    return {"id": inserted[0]["id"], "name": name, "unsubscribe_days": days}


async def make_webhook_endpoint(workspace_id: int, events: list[str] | None = None) -> int:
    from backend.webhooks.tables import WebhookEndpoint

    inserted = await WebhookEndpoint.insert(
        WebhookEndpoint(
            workspace=workspace_id,
            url="https://hooks.example.com/consent",
            events=events or ["*"],
            secret="whsec_dGVzdC1zZWNyZXQtZm9yLWNvbnNlbnQ=",
        )
    ).returning(WebhookEndpoint.id)
    return inserted[0]["id"]


async def post_optout(client, tenant, role: str = "marketer", **body: Any):
    return await client.post("/api/v1/optouts", json=body, headers=tenant.headers(role))


async def check(client, tenant, role: str = "viewer", **params: Any) -> dict[str, Any]:
    response = await client.get(
        "/api/v1/optouts/check",
        params={key: value for key, value in params.items() if value is not None},
        headers=tenant.headers(role),
    )
    assert response.status_code == 200, response.text
    return response.json()
