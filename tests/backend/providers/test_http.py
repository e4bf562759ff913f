"""The shared provider client: at most once when the pool is exhausted or a provider redirects."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from backend.providers.http import ProviderHttp, Timeouts
from backend.providers.registry import Providers
from tests.backend.providers.helpers import outgoing
from tests.fakes.providers import hang, reply


def _whatsapp(providers: Providers, fake_providers):
    row = {
        "id": 11,
        "provider": "whatsapp_cloud",
        "address": "+351912345678",
        "config": fake_providers.config("whatsapp_cloud"),
        "updated_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    return providers.for_sender(row)


async def test_waiting_for_a_pooled_connection_is_retried_because_nothing_was_sent(fake_providers):
    fake_providers.script("whatsapp", hang())
    timeouts = Timeouts(connect=2.0, read=1.0, pool=0.3)
    async with ProviderHttp(timeout=timeouts, max_connections=1) as http:
        whatsapp = _whatsapp(Providers(http, public_url="https://f.example"), fake_providers)
        hung = asyncio.create_task(whatsapp.send(outgoing(message_id=1)))
        await asyncio.sleep(0.1)  # the only connection is now taken by the hung send
        waiting = await whatsapp.send(outgoing(message_id=2))
        assert (await hung).outcome == "unknown"

    assert waiting.outcome == "retry"
    assert [request.body["biz_opaque_callback_data"] for request in fake_providers.sent("whatsapp")] == ["1"]


async def test_a_redirect_is_not_followed(http, fake_providers):
    fake_providers.script("whatsapp", reply(307, text="moved", headers={"Location": "/elsewhere"}))
    result = await _whatsapp(Providers(http, public_url="https://f.example"), fake_providers).send(outgoing())

    assert (result.outcome, result.error_code) == ("rejected", "307")
    assert len(fake_providers.requests) == 1


async def test_the_session_opens_on_first_use_and_closes_with_the_registry(fake_providers):
    providers = Providers(public_url="https://f.example")  # built before any request, as a worker does
    result = await _whatsapp(providers, fake_providers).send(outgoing())
    assert result.outcome == "accepted"

    await providers.aclose()
    assert providers.http.is_closed
