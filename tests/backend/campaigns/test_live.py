"""The live feed over a real WebSocket, against a real `flowgate api` process: events a client receives
as a campaign runs, and who is refused."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from tests.backend.campaigns.helpers import (
    create_campaign,
    group_of,
    published_flow,
    sandbox_sender,
    start_and_work,
)


def _ws_url(live_api: str, campaign_id: int, query: str = "") -> str:
    return live_api.replace("http://", "ws://") + f"/api/v1/ws/campaigns/{campaign_id}{query}"


async def _next_stats(socket, predicate=lambda data: True, within: float = 10.0) -> dict:
    async def wait() -> dict:
        while True:
            event = json.loads(await socket.recv())
            if event["type"] == "stats" and predicate(event["data"]):
                return event["data"]

    return await asyncio.wait_for(wait(), within)


@pytest.fixture
async def running_setup(client, tenant):
    flow = await published_flow(client, tenant)
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 12, opted_out=2)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    return campaign


async def test_a_client_sees_the_counts_move_as_the_campaign_sends(
    live_api, tenant, redis_url, running_setup
):
    campaign = running_setup
    headers = {"Authorization": f"Bearer {tenant.keys['viewer']}"}
    async with websockets.connect(_ws_url(live_api, campaign["id"]), additional_headers=headers) as socket:
        first = await _next_stats(socket)
        assert first["status"] == "scheduled"
        assert first["totals"]["sent"] == 0
        await start_and_work(redis_url, campaign)
        moved = await _next_stats(socket, lambda data: data["totals"]["sent"] == 10)
    assert moved["status"] == "running"
    assert moved["totals"]["entered"] == 10
    assert moved["nodes"]["offer"]["waiting"] == 10
    assert moved["per_minute"][-1]["sent"] == 10


async def test_a_browser_connects_with_a_single_use_ticket(live_api, tenant, running_setup):
    campaign = running_setup
    async with httpx.AsyncClient(base_url=live_api) as http:
        response = await http.post(
            f"/api/v1/campaigns/{campaign['id']}/live-tickets",
            headers={"Authorization": f"Bearer {tenant.keys['viewer']}"},
        )
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert tenant.keys["viewer"] not in ticket["url"]  # never a key in a URL
    url = live_api.replace("http://", "ws://") + ticket["url"]
    async with websockets.connect(url) as socket:
        assert (await _next_stats(socket))["campaign_id"] == campaign["id"]
    with pytest.raises(websockets.exceptions.InvalidStatus) as used_twice:
        async with websockets.connect(url):
            pass
    assert used_twice.value.response.status_code == 401 or used_twice.value.response.status_code == 403


async def test_without_credentials_or_with_a_key_in_the_url_the_socket_is_refused(
    live_api, tenant, running_setup
):
    campaign = running_setup
    for query in ("", f"?token={tenant.keys['admin']}", "?ticket=fgt_made_up"):
        with pytest.raises(
            (websockets.exceptions.InvalidStatus, websockets.exceptions.ConnectionClosedError)
        ):
            async with websockets.connect(_ws_url(live_api, campaign["id"], query)) as socket:
                await socket.recv()


async def test_another_workspace_cannot_watch_the_campaign(live_api, make_tenant, running_setup):
    campaign = running_setup
    other = await make_tenant("Rival")
    headers = {"Authorization": f"Bearer {other.keys['admin']}"}
    for campaign_id in (campaign["id"], 999_999):  # not theirs, and no campaign at all: the same answer
        async with websockets.connect(_ws_url(live_api, campaign_id), additional_headers=headers) as socket:
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                await socket.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404


async def test_a_ticket_for_one_campaign_does_not_open_another(live_api, tenant, client, running_setup):
    campaign = running_setup
    flow = await published_flow(client, tenant, name="Other")
    sender = await sandbox_sender(client, tenant, name="Other sandbox", address="+351912345671")
    group = await group_of(tenant.id, 1, name="Few", first=500)
    second = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    async with httpx.AsyncClient(base_url=live_api) as http:
        ticket = (
            await http.post(
                f"/api/v1/campaigns/{campaign['id']}/live-tickets",
                headers={"Authorization": f"Bearer {tenant.keys['viewer']}"},
            )
        ).json()["ticket"]
    with pytest.raises((websockets.exceptions.InvalidStatus, websockets.exceptions.ConnectionClosedError)):
        async with websockets.connect(_ws_url(live_api, second["id"], f"?ticket={ticket}")) as socket:
            await socket.recv()
