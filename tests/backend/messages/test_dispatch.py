"""The send job against the fake WhatsApp and Twilio servers: outcomes, retries, consent re-check, limits."""

from __future__ import annotations

import httpx

from tests.backend.messages.helpers import CONTACT, make_sender, message_row, run_worker, send
from tests.fakes.providers import hang, reply, whatsapp_error


async def _wa_sender(client, tenant, fake, **extra) -> dict:
    return await make_sender(client, tenant, "whatsapp_cloud", config=fake.config("whatsapp_cloud"), **extra)


async def test_a_message_reaches_whatsapp_once_and_is_marked_sent(client, tenant, redis_url, fake_providers):
    sender = await _wa_sender(client, tenant, fake_providers)
    message = (
        await send(client, tenant, sender["id"], text="Hello", buttons=[{"id": "yes", "title": "Yes"}])
    ).json()

    await run_worker(redis_url)
    await run_worker(redis_url)  # a second run (at-least-once delivery) sends nothing again

    requests = fake_providers.sent("whatsapp")
    assert len(requests) == 1
    body = requests[0].body
    assert body["to"].lstrip("+") == CONTACT.lstrip("+") and body["type"] == "interactive"
    assert body["biz_opaque_callback_data"] == str(message["id"])
    row = await message_row(message["id"])
    assert row["status"] == "sent" and row["provider_message_id"].startswith("wamid.")
    assert row["attempts"] == 1


async def test_429_waits_for_retry_after_then_succeeds(client, tenant, redis_url, fake_providers):
    sender = await _wa_sender(client, tenant, fake_providers)
    fake_providers.script(
        "whatsapp", whatsapp_error(130429, "rate", status=429, headers={"Retry-After": "1"})
    )
    message = (await send(client, tenant, sender["id"])).json()

    await run_worker(redis_url, ctx={"send_backoff_base_s": 0.01})

    first, second = fake_providers.sent("whatsapp")
    assert second.at - first.at >= 1.0
    row = await message_row(message["id"])
    assert row["status"] == "sent" and row["attempts"] == 2


async def test_5xx_is_retried_and_a_definite_rejection_is_not(client, tenant, redis_url, fake_providers):
    sender = await _wa_sender(client, tenant, fake_providers)
    fake_providers.script("whatsapp", reply(503, {"error": {"code": 2, "message": "down"}}))
    flaky = (await send(client, tenant, sender["id"], to="+351911111111")).json()
    await run_worker(redis_url, ctx={"send_backoff_base_s": 0.01})
    assert (await message_row(flaky["id"]))["status"] == "sent"
    assert len(fake_providers.sent("whatsapp")) == 2

    fake_providers.script("whatsapp", whatsapp_error(131026, "Message undeliverable"))
    bad = (await send(client, tenant, sender["id"], to="+351922222222")).json()
    await run_worker(redis_url, ctx={"send_backoff_base_s": 0.01})
    row = await message_row(bad["id"])
    assert row["status"] == "failed" and row["failure_reason"] == "rejected" and row["error_code"] == "131026"
    assert len(fake_providers.sent("whatsapp")) == 3


async def test_retries_run_out(client, tenant, redis_url, fake_providers):
    from backend.messages.dispatch import MAX_ATTEMPTS

    sender = await _wa_sender(client, tenant, fake_providers)
    fake_providers.script("whatsapp", *[reply(500, {"error": {"code": 1}}) for _ in range(MAX_ATTEMPTS)])
    message = (await send(client, tenant, sender["id"])).json()
    await run_worker(redis_url, ctx={"send_backoff_base_s": 0.001})
    row = await message_row(message["id"])
    assert row["status"] == "failed" and row["failure_reason"] == "retries_exhausted"
    assert len(fake_providers.sent("whatsapp")) == MAX_ATTEMPTS == row["attempts"]


async def test_131050_records_an_opt_out_that_blocks_the_next_marketing_send(
    client, tenant, redis_url, fake_providers
):
    sender = await _wa_sender(client, tenant, fake_providers)
    fake_providers.script("whatsapp", whatsapp_error(131050, "User stopped marketing messages"))
    first = (await send(client, tenant, sender["id"], kind="marketing", text="Sale")).json()
    await run_worker(redis_url)
    row = await message_row(first["id"])
    assert row["status"] == "failed" and row["failure_reason"] == "opted_out"

    entries = await client.get("/api/v1/optouts", headers=tenant.headers("viewer"))
    (entry,) = entries.json()["items"]
    assert (
        entry["address"] == CONTACT and entry["source"] == "provider" and entry["sender_id"] == sender["id"]
    )
    nxt = (await send(client, tenant, sender["id"], kind="marketing", text="Sale 2")).json()
    assert nxt["status"] == "failed" and nxt["failure_reason"] == "opted_out"
    txn = (await send(client, tenant, sender["id"], kind="transactional", text="Receipt")).json()
    await run_worker(redis_url)
    assert (await message_row(txn["id"]))["status"] == "sent"
    assert len(fake_providers.sent("whatsapp")) == 2


async def test_an_opt_out_after_acceptance_stops_the_message_at_dispatch(
    client, tenant, redis_url, fake_providers
):
    sender = await _wa_sender(client, tenant, fake_providers)
    message = (await send(client, tenant, sender["id"], kind="marketing", text="Sale")).json()
    assert message["status"] == "queued"
    optout = {"channel": "whatsapp", "address": CONTACT, "sender_id": sender["id"]}
    assert (await client.post("/api/v1/optouts", json=optout, headers=tenant.headers())).status_code == 201

    await run_worker(redis_url)

    row = await message_row(message["id"])
    assert row["status"] == "failed" and row["failure_reason"] == "opted_out" and row["attempts"] == 0
    assert fake_providers.sent("whatsapp") == []


async def test_no_answer_after_sending_is_unknown_and_never_resent(client, tenant, redis, fake_providers):
    from datetime import UTC, datetime, timedelta

    from backend.messages.dispatch import Dispatcher
    from backend.messages.reconcile import reconcile
    from backend.providers.registry import Providers, make_http_client

    sender = await _wa_sender(client, tenant, fake_providers)
    fake_providers.script("whatsapp", hang())
    message = (await send(client, tenant, sender["id"])).json()
    providers = Providers(make_http_client(timeout=httpx.Timeout(5.0, read=0.5)), public_url="http://x")
    try:
        await Dispatcher(providers=providers, queue=redis, limiter=None).run([message["id"]])
        assert (await message_row(message["id"]))["status"] == "unknown"
        await reconcile(redis, now=datetime.now(UTC) + timedelta(hours=1))
        await Dispatcher(providers=providers, queue=redis, limiter=None).run([message["id"]])
    finally:
        await providers.aclose()
    assert len(fake_providers.sent("whatsapp")) == 1
    assert (await message_row(message["id"]))["status"] == "unknown"


async def test_a_deleted_sender_fails_its_queued_messages(client, tenant, redis_url):
    sender = await make_sender(client, tenant)
    message = (await send(client, tenant, sender["id"])).json()
    assert (
        await client.delete(f"/api/v1/senders/{sender['id']}", headers=tenant.headers())
    ).status_code == 204
    await run_worker(redis_url)
    row = await message_row(message["id"])
    assert row["status"] == "failed" and row["failure_reason"] == "sender_unavailable"


async def test_the_rate_limit_holds_under_a_burst(client, tenant, redis_url, fake_providers):
    """Sixty messages queued at once to a sender of 20 a second: no one-second window at the provider
    sees more than the rate and a tenth of it, and the whole takes the time the rate says."""
    from backend.messages.ratelimit import capacity_for
    from backend.messages.service import enqueue_sends

    rate = 20
    sender = await _wa_sender(client, tenant, fake_providers, rate_limit_per_second=rate)
    ids = []
    for i in range(60):
        ids.append((await send(client, tenant, sender["id"], to=f"+3519111{i:05d}")).json()["id"])
    from backend.core.queue import connect_queue

    queue = await connect_queue(redis_url)
    await enqueue_sends(queue, ids)  # one batch job besides the 60 single ones: all compete
    await queue.aclose()
    await run_worker(redis_url)

    times = sorted(request.at for request in fake_providers.sent("whatsapp"))
    assert len(times) == 60
    worst = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    burst = int(capacity_for(rate))
    # rate + capacity in any second, plus 2 for the moments between the bucket's grant and the arrival
    assert worst <= rate + burst + 2, worst
    assert times[-1] - times[0] >= (60 - burst) / rate * 0.9
