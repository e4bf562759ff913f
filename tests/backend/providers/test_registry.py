"""The per-process provider registry and the sandbox provider."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.providers.registry import Providers
from backend.providers.sandbox import SandboxProvider
from backend.providers.whatsapp_cloud import WhatsAppCloudProvider
from tests.backend.providers.helpers import outgoing, webhook_request


def _row(provider="sandbox", config=None, updated=1, **fields):
    row = {
        "id": 3,
        "provider": provider,
        "address": "+351912345670",
        "config": config or {},
        "updated_at": datetime(2025, 1, updated, tzinfo=UTC),
    }
    row.update(fields)
    return row


async def test_provider_is_cached_until_the_sender_row_changes(http, fake_providers):
    providers = Providers(http, public_url="https://f.example/")
    first = providers.for_sender(_row())
    assert providers.for_sender(_row()) is first

    edited = providers.for_sender(_row(updated=2))
    assert edited is not first

    switched = providers.for_sender(
        _row("whatsapp_cloud", fake_providers.config("whatsapp_cloud"), updated=2)
    )
    assert isinstance(switched, WhatsAppCloudProvider)
    await providers.aclose()
    assert not http.is_closed  # a client passed in belongs to the caller


async def test_webhook_urls_point_at_the_public_url(http, fake_providers):
    providers = Providers(http, public_url="https://f.example/")
    sms = providers.for_sender(_row("sms_http", fake_providers.config("sms_http")))
    assert sms.status_callback(outgoing()) == "https://f.example/webhooks/3?ref=42"


def test_unknown_provider_is_an_error(http):
    with pytest.raises(ValueError, match="unknown provider"):
        Providers(http, public_url="https://f.example").for_sender(_row("carrier_pigeon"))


async def test_sandbox_accepts_everything_and_takes_no_webhooks(http):
    sandbox = Providers(http, public_url="https://f.example").for_sender(_row())
    assert isinstance(sandbox, SandboxProvider)

    result = await sandbox.send(outgoing(message_id=9))
    assert (result.outcome, result.provider_message_id) == ("accepted", "sandbox-9")
    request = webhook_request(body=b'{"anything": 1}')
    assert sandbox.handshake(request) is None
    assert sandbox.verify(request) is False
    assert sandbox.parse(request) == []
    assert sandbox.acknowledge().status_code == 200


async def test_own_client_is_closed_with_the_registry():
    providers = Providers(public_url="https://f.example")
    await providers.aclose()
    assert providers.http.is_closed
