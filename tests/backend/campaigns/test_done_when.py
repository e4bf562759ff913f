"""The campaign engine's "done when", end to end with real worker processes.

A 1000-contact group (10 opted out) gets a two-step flow (an offer with buttons, a follow-up for those who
tap "Yes please") over the WhatsApp Cloud API (a local fake that speaks its wire format). Mid-campaign the
worker is killed with SIGKILL and Redis loses every job (a restart without persistence); the campaign is
suspended and resumed; a second worker finishes it. In the end: no contact got a step twice, every
eligible contact got the offer (but those whose request was on the wire at the kill: the provider may or
may not have them, so they are ``unknown``, never re-sent), no opted-out contact got anything, every tap
got exactly one follow-up, the live counters equal the database, and the report names every failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.backend.campaigns.helpers import create_campaign, group_of, phone, published_flow
from tests.backend.inbound.helpers import make_sender, post_webhook
from tests.conftest import _TMP, flowgate_command, subprocess_env
from tests.fakes.providers import reply
from tests.fakes.webhooks import wamid

pytestmark = pytest.mark.slow


async def _until(condition, seconds: float = 60.0, every: float = 0.1) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await condition():
            return
        await asyncio.sleep(every)
    raise AssertionError(f"not reached within {seconds}s")


async def _worker(redis_url: str):
    return await asyncio.create_subprocess_exec(
        *flowgate_command("worker"),
        env=subprocess_env(FLOWGATE_REDIS_URL=redis_url),
        cwd=_TMP,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _stop(process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _messages(campaign_id: int, node: str) -> list[dict]:
    from backend.messages.tables import Message

    return (
        await Message.select()
        .where((Message.campaign_id == campaign_id) & Message.message_ref.like(f"{node}#%"))
        .order_by(Message.id)
    )


async def test_a_campaign_survives_a_kill_a_redis_restart_and_a_pause(
    client, tenant, redis, redis_url, fake_providers
):
    from backend.campaigns.stats import truth
    from backend.core.queue import connect_queue
    from backend.messages.reconcile import reconcile
    from backend.runs.service import sweep

    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    flow = await published_flow(client, tenant)
    await group_of(tenant.id, 1000, opted_out=10)
    group_id = (await client.get("/api/v1/groups", headers=tenant.headers())).json()["items"][0]["id"]
    opted_out = {phone(i).lstrip("+") for i in range(10)}
    # The first sends answer slowly, so the kill finds requests on the wire and work still queued.
    fake_providers.script(
        "whatsapp",
        *[
            reply(200, {"messaging_product": "whatsapp", "messages": [{"id": wamid()}]}, delay=1.5)
            for _ in range(300)
        ],
    )
    now = datetime.now(UTC)
    campaign = await create_campaign(
        client,
        tenant,
        flow["id"],
        group_id,
        sender["id"],
        start_at=(now + timedelta(seconds=1)).isoformat(),
        end_at=(now + timedelta(hours=2)).isoformat(),
        every={"unit": "hour", "count": 1},
    )
    campaign_id = campaign["id"]

    first = await _worker(redis_url)
    try:
        await _until(lambda: _true(len(fake_providers.sent("whatsapp")) >= 100))
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    reached_at_kill = Counter(request.body["to"] for request in fake_providers.sent("whatsapp"))
    await redis.flushdb()  # Redis restarted without persistence: every queued job is gone

    suspended = await client.post(f"/api/v1/campaigns/{campaign_id}/suspend", headers=tenant.headers())
    assert suspended.status_code == 200, suspended.text
    resume_at = datetime.now(UTC) + timedelta(seconds=2)
    resumed = await client.post(
        f"/api/v1/campaigns/{campaign_id}/resume",
        json={"start_at": resume_at.isoformat()},
        headers=tenant.headers(),
    )
    assert resumed.json()["status"] == "scheduled"
    # The minute-long repairs, run now with a clock past their thresholds: leases of the killed worker's
    # claims run out (those become ``unknown``), queued messages whose job Redis lost are enqueued again.
    queue = await connect_queue(redis_url)
    await reconcile(queue, now=datetime.now(UTC) + timedelta(minutes=5))

    second = await _worker(redis_url)
    try:
        await _until(lambda: _status_is(client, tenant, campaign_id, "running"), 30)
        await sweep(queue, now=datetime.now(UTC) + timedelta(minutes=5), older_than=timedelta(0))

        async def offers_settled() -> bool:
            offers = await _messages(campaign_id, "offer")
            return len(offers) == 990 and all(m["status"] in ("sent", "unknown") for m in offers)

        await _until(offers_settled, 90)
        offers = await _messages(campaign_id, "offer")
        tappers = [m for m in offers if m["status"] == "sent"][:50]
        for message in tappers:
            webhook = fake_providers.whatsapp_webhook(
                fake_providers.wa_button_reply(
                    message["address"], "yes", "Yes please", context_id=message["provider_message_id"]
                )
            )
            response = await post_webhook(client, sender["id"], webhook)
            assert response.status_code == 200, response.text

        async def follow_ups_sent() -> bool:
            sent = [m for m in await _messages(campaign_id, "follow_up") if m["status"] == "sent"]
            return len(sent) == 50

        await _until(follow_ups_sent, 60)
        await _until(lambda: _stats_settled(client, tenant, campaign_id), 20)
    finally:
        await _stop(second)
        await queue.aclose()

    requests = fake_providers.sent("whatsapp")
    per_address = Counter(request.body["to"] for request in requests)
    offers_by_address = Counter(
        request.body["to"] for request in requests if request.body.get("type") == "interactive"
    )
    follow_ups = Counter(request.body["to"] for request in requests if request.body.get("type") == "text")
    assert max(offers_by_address.values()) == 1, "a contact got the offer twice"
    assert max(follow_ups.values()) == 1, "a contact got the follow-up twice"
    assert not opted_out & set(per_address), "an opted-out contact was messaged"
    offers = await _messages(campaign_id, "offer")
    assert len(offers) == 990  # one offer per eligible contact, stored once
    unknown = {m["address"].lstrip("+") for m in offers if m["status"] == "unknown"}
    sent = {m["address"].lstrip("+") for m in offers if m["status"] == "sent"}
    assert all(offers_by_address[address] == 1 for address in sent)  # exactly once for every sent offer
    # Requests on the wire at the kill had no answer yet: they stay ``unknown`` (only the provider's status
    # callback settles them), never sent again.
    assert set(reached_at_kill) <= unknown
    assert len(sent) + len(unknown) == 990
    assert set(follow_ups) == {m["address"].lstrip("+") for m in tappers}

    stats = (await client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=tenant.headers())).json()
    expected = await truth(campaign_id)
    assert {key: stats["totals"].get(key, 0) for key in expected} == expected
    assert stats["nodes"]["follow_up"]["sent"] == 50
    assert stats["totals"]["replied"] == 50

    report = await client.get(f"/api/v1/campaigns/{campaign_id}/report?format=csv", headers=tenant.headers())
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert len(rows) == 990
    assert sum(int(row["sent"]) for row in rows) == len(sent) + 50


def _true(value: bool):
    async def check() -> bool:
        return value

    return check()


async def _status_is(client, tenant, campaign_id: int, status: str) -> bool:
    response = await client.get(f"/api/v1/campaigns/{campaign_id}", headers=tenant.headers())
    return response.json()["status"] == status


async def _stats_settled(client, tenant, campaign_id: int) -> bool:
    from backend.campaigns.stats import truth

    stats = (await client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=tenant.headers())).json()
    expected = await truth(campaign_id)
    with contextlib.suppress(KeyError):
        return all(stats["totals"].get(key, 0) == value for key, value in expected.items())
    return False
