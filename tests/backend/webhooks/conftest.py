"""Fixtures of the webhook tests: a live receiver and an endpoint pointing at it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backend.webhooks.helpers import create_endpoint
from tests.backend.webhooks.receiver import Receiver


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
async def endpoint(client, tenant, receiver) -> dict[str, Any]:
    """An endpoint pointing at the receiver, which knows its secret."""
    created = await create_endpoint(client, tenant, receiver.url)
    receiver.secret = created["secret"]
    return created
