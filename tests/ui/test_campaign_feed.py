"""The ui process's live feed of a campaign through an api restart: it says it is reconnecting, comes
back by itself, and catches up with what happened while the api was down."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.backend.campaigns.helpers import (
    create_campaign,
    group_of,
    published_flow,
    sandbox_sender,
    start_and_work,
)
from tests.conftest import _TMP, Tenant, flowgate_command, free_port, subprocess_env, wait_for_http
from ui.backend import api
from ui.campaign_feed import CampaignFeed, start_feed

PATIENCE_S = 20.0


@pytest.fixture
def api_process(redis_url: str, migrated) -> Iterator[Callable[[], subprocess.Popen]]:
    """Start (and restart) a `flowgate api` of our own on one port, so it can be stopped mid-test."""
    port = free_port()
    processes: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        process = subprocess.Popen(
            flowgate_command("api", "--port", str(port)),
            env=subprocess_env(FLOWGATE_REDIS_URL=redis_url),
            cwd=_TMP,
        )
        processes.append(process)
        wait_for_http(f"http://127.0.0.1:{port}/health", process=process)
        return process

    previous = api.base_url
    api.configure(f"http://127.0.0.1:{port}")
    try:
        yield start
    finally:
        api.configure(previous)
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(10)


class Heard:
    """What the feed told its page, and a way to wait until it has told something in particular."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.states: list[str] = []
        self._news = asyncio.Event()

    def stats(self, stats: dict) -> None:
        self.sent.append(stats["totals"]["sent"])
        self._news.set()

    def state(self, state: str) -> None:
        self.states.append(state)
        self._news.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(PATIENCE_S):
            while not condition():
                self._news.clear()
                await self._news.wait()


async def test_the_feed_comes_back_after_an_api_restart_with_what_it_missed(
    client: httpx.AsyncClient, tenant: Tenant, redis_url: str, api_process
) -> None:
    flow = await published_flow(client, tenant)
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 12, opted_out=2)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    server = api_process()
    await api.close()  # a fresh client for the new address

    heard = Heard()
    feed = CampaignFeed(tenant.keys["viewer"], campaign["id"], on_stats=heard.stats, on_state=heard.state)
    task = start_feed(feed)
    try:
        await heard.until(lambda: heard.states[-1:] == ["live"] and heard.sent[-1:] == [0])

        server.terminate()
        server.wait(10)
        await heard.until(lambda: heard.states[-1:] == ["reconnecting"])
        await start_and_work(redis_url, campaign)  # sends while the api is down
        api_process()

        await heard.until(lambda: heard.sent[-1:] == [10] and heard.states[-1:] == ["live"])
        assert feed.connections == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await api.close()
    assert task.cancelled()


async def test_the_feed_ends_when_the_campaign_is_deleted(
    client: httpx.AsyncClient, tenant: Tenant, api_process
) -> None:
    flow = await published_flow(client, tenant)
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 3)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    api_process()
    await api.close()
    heard = Heard()
    feed = CampaignFeed(tenant.keys["admin"], campaign["id"], on_stats=heard.stats, on_state=heard.state)
    task = start_feed(feed)
    try:
        await heard.until(lambda: heard.states[-1:] == ["live"])
        response = await client.delete(f"/api/v1/campaigns/{campaign['id']}", headers=tenant.headers())
        assert response.status_code == 204
        async with asyncio.timeout(PATIENCE_S):
            await task  # the feed stops by itself
        assert heard.states[-1] == "deleted"
    finally:
        task.cancel()
        await api.close()
