"""Shared pieces of the provider tests: a short-timeout shared client and providers built from rows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from backend.config import ProviderHttpClient
from backend.providers.base import Provider
from backend.providers.http import ProviderHttp, Timeouts
from backend.providers.registry import Providers, make_http_client

PUBLIC_URL = "https://flowgate.example.com"
SENDER_ID = 7


CLIENTS: tuple[ProviderHttpClient, ...] = ("pyreqwest", "aiohttp")
"""Both transports of ``provider_http_client``: every provider test runs over each, so switching back to
aiohttp is a tested path, not a hope."""


@pytest_asyncio.fixture(loop_scope="session", params=CLIENTS)
async def http(request: pytest.FixtureRequest) -> AsyncIterator[ProviderHttp]:
    """The production client with a short read timeout, so a hung provider shows up in a second."""
    timeouts = Timeouts(connect=0.5, read=1.0, pool=2.0)
    async with make_http_client(timeout=timeouts, client=request.param) as client:
        yield client


@pytest.fixture
def providers(http: ProviderHttp) -> Providers:
    return Providers(http, public_url=PUBLIC_URL)


@pytest.fixture
def provider_for(providers: Providers) -> Callable[..., Provider]:
    """A provider for a senders row like ``service.load_sender`` returns."""

    def build(provider: str, config: dict[str, Any], address: str = "+351912345678", **row: Any) -> Provider:
        sender = {
            "id": SENDER_ID,
            "provider": provider,
            "address": address,
            "config": config,
            "updated_at": datetime(2025, 1, 1, tzinfo=UTC),
            **row,
        }
        return providers.for_sender(sender)

    return build
