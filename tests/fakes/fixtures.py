"""pytest fixtures for the fake providers (registered in tests/conftest.py through ``pytest_plugins``).

Both run in the session event loop the rest of the suite uses, so a test can call the API, a worker
function and the fake in one loop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.fakes.providers import FakeProviders
from tests.fakes.smtp import FakeSmtp


@pytest_asyncio.fixture(loop_scope="session")
async def fake_providers() -> AsyncIterator[FakeProviders]:
    """Fake WhatsApp Cloud, Twilio and Viber APIs on a free 127.0.0.1 port (see tests/fakes/providers.py)."""
    fake = await FakeProviders().start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def fake_smtp() -> AsyncIterator[FakeSmtp]:
    """A fake SMTP relay without AUTH; build ``FakeSmtp(username=.., password=..)`` for one with it."""
    fake = await FakeSmtp().start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def fake_smtp_auth() -> AsyncIterator[FakeSmtp]:
    """A fake SMTP relay that requires AUTH as ``mailer`` / ``smtp-pass-SECRET-6666``."""
    fake = await FakeSmtp(username="mailer", password="smtp-pass-SECRET-6666").start()
    try:
        yield fake
    finally:
        await fake.stop()
