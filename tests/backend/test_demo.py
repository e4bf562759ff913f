"""The demo ``flowgate dev`` seeds (backend/demo.py): what a newcomer finds, seen through the API as the
demo admin, and that its campaign's monitor moves once the sandbox's customers answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend import demo
from backend.devtree import DEMO_EMAIL, DEMO_PASSWORD, _prepare_database
from tests.backend.campaigns.helpers import at, tick, work


async def _login(client) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def _get(client, headers: dict[str, str], path: str) -> Any:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_demo_has_customers_some_opted_out_a_published_flow_and_a_scheduled_campaign(client):
    before = datetime.now(UTC)
    assert (await _prepare_database()) is not None
    headers = await _login(client)

    settings = await _get(client, headers, "/api/v1/settings")
    assert (settings["default_phone_region"], settings["timezone"]) == ("PT", "Europe/Lisbon")

    [sender] = (await _get(client, headers, "/api/v1/senders"))["items"]
    assert (sender["provider"], sender["channel"], sender["address"]) == (
        "sandbox",
        "whatsapp",
        demo.SANDBOX_NUMBER,
    )
    rates = {key: sender["config"]["auto_reply"][key] for key in ("delivered", "read", "reply", "stop")}
    assert rates == {"delivered": 0.97, "read": 0.75, "reply": 0.45, "stop": 0.01}

    [group] = (await _get(client, headers, "/api/v1/groups"))["items"]
    assert (group["name"], group["member_count"]) == ("Demo customers", 300)
    contacts = (await _get(client, headers, "/api/v1/contacts?limit=200"))["items"]
    assert all(contact["name"] and contact["email"] for contact in contacts)
    assert {"city", "favourite_roast", "last_order_days", "loyalty"} <= contacts[0]["attributes"].keys()

    optouts = (await _get(client, headers, "/api/v1/optouts?source=import&limit=100"))["items"]
    assert len(optouts) == 10
    assert {(entry["channel"], entry["category_id"], entry["sender_id"]) for entry in optouts} == {
        ("whatsapp", None, None)
    }
    history = (await _get(client, headers, "/api/v1/consent-events?limit=100"))["items"]
    assert sorted(event["address"] for event in history) == sorted(entry["address"] for entry in optouts)

    [flow] = (await _get(client, headers, "/api/v1/flows"))["items"]
    version = await _get(client, headers, f"/api/v1/flows/{flow['id']}/versions/1")
    nodes = {node["id"]: node for node in version["graph"]["nodes"]}
    assert nodes["start"]["trigger"] == "manual"
    assert [button["id"] for button in nodes["promo"]["buttons"]] == ["show", "later"]
    assert nodes["answer"]["kind"] == "wait_for_reply"
    assert (
        max(nodes["promo"]["reply_timeout"], nodes["wait_2_days"]["seconds"], nodes["answer"]["timeout"])
        <= 600
    )

    [campaign] = (await _get(client, headers, "/api/v1/campaigns"))["items"]
    assert (campaign["name"], campaign["status"], campaign["kind"]) == (
        "Summer sale (demo)",
        "scheduled",
        "marketing",
    )
    assert (campaign["flow_id"], campaign["group_id"], campaign["sender_id"]) == (
        flow["id"],
        group["id"],
        sender["id"],
    )
    assert campaign["every"] == {"unit": "minute", "count": 5}
    assert campaign["allow_reentry"] is True
    start_at = datetime.fromisoformat(campaign["start_at"])
    end_at = datetime.fromisoformat(campaign["end_at"])
    assert timedelta(seconds=50) < start_at - before < timedelta(seconds=90)
    assert end_at - start_at > timedelta(days=29)

    audience = await _get(client, headers, f"/api/v1/campaigns/{campaign['id']}/audience")
    assert (audience["members"], audience["eligible"]) == (300, 285)
    assert audience["excluded"]["opted_out"] == 10
    assert audience["excluded"]["no_address"] == 5

    # Seeded once: a second start finds the workspace and adds nothing.
    assert (await _prepare_database()) is None
    assert len((await _get(client, headers, "/api/v1/campaigns"))["items"]) == 1


async def test_an_interrupted_seed_leaves_nothing_behind_and_the_next_start_seeds_again(
    migrated, monkeypatch
):
    from backend.workspaces.tables import Workspace

    monkeypatch.setattr(demo, "START_AFTER", timedelta(minutes=-1))  # the campaign form refuses a past start
    with pytest.raises(Exception, match="start_at"):
        await _prepare_database()
    assert await Workspace.count() == 0

    monkeypatch.undo()
    assert (await _prepare_database()) is not None
    assert await Workspace.count() == 1


async def test_the_demo_campaign_monitor_moves_as_the_sandbox_customers_answer(client, redis_url):
    from backend.campaigns.stats import truth

    await _prepare_database()
    headers = await _login(client)
    [sender] = (await _get(client, headers, "/api/v1/senders"))["items"]
    # The demo's rates, without its seconds of delay: a burst worker sees every answer at once.
    patched = await client.patch(
        f"/api/v1/senders/{sender['id']}",
        json={"config": {"auto_reply": {**demo.AUTO_REPLY, "delay_seconds": [0, 0]}}},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    [campaign] = (await _get(client, headers, "/api/v1/campaigns"))["items"]

    await tick(redis_url, at(campaign["start_at"], seconds=1))
    await work(redis_url)

    stats = await _get(client, headers, f"/api/v1/campaigns/{campaign['id']}/stats")
    assert stats["status"] == "running"
    promo = stats["nodes"]["promo"]
    assert promo["sent"] == 285
    assert 285 >= promo["delivered"] > promo["read"] > promo["replied"] > 0
    left = {edge["port"]: edge["count"] for edge in stats["edges"] if edge["source"] == "promo"}
    taps = left["button:show"] + left["button:later"]
    assert taps > 0
    # Every reply moved its run on: a tap along its button, words (such as an answer to a STOP's
    # confirmation, which the contact's waiting run takes) along "next" (no timeout is due yet).
    assert sum(left.values()) == promo["replied"]
    assert stats["totals"]["completed"] == taps  # a tap leads straight to an end
    expected = await truth(campaign["id"])
    assert {key: stats["totals"].get(key, 0) for key in expected} == expected
