"""The webhook URL a sender's page tells the admin to give the provider: the one the gateway verifies."""

from __future__ import annotations

import pytest

from backend.config import get_settings
from tests.backend.senders.helpers import create_sender


@pytest.mark.parametrize("preset", ["whatsapp_cloud", "sms_http", "viber"])
async def test_providers_that_call_back_get_the_public_webhook_url(client, tenant, preset):
    sender = await create_sender(client, tenant, preset)
    expected = f"{get_settings().base_public_url}/webhooks/{sender['id']}"
    assert sender["webhook_url"] == expected
    fetched = await client.get(f"/api/v1/senders/{sender['id']}", headers=tenant.headers("viewer"))
    assert fetched.json()["webhook_url"] == expected


@pytest.mark.parametrize("preset", ["smtp", "sandbox"])
async def test_providers_without_webhooks_have_none(client, tenant, preset):
    assert (await create_sender(client, tenant, preset))["webhook_url"] is None


async def test_an_sms_senders_configured_public_url_is_the_one_shown(client, tenant):
    public = "https://hooks.acme.example/sms/7"
    sender = await create_sender(
        client,
        tenant,
        "sms_http",
        config={"account_sid": "AC0123456789", "auth_token": "t", "public_webhook_url": public},
    )
    assert sender["webhook_url"] == public
