"""Idempotency-Key on POST /api/v1/messages: Stripe's semantics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.backend.messages.helpers import make_sender, send


async def _messages() -> int:
    from backend.messages.tables import Message

    return await Message.count()


async def test_same_key_and_body_replays_the_first_answer_without_a_second_message(client, tenant):
    sender = await make_sender(client, tenant)
    key = {"Idempotency-Key": "order-42"}
    first = await send(client, tenant, sender["id"], headers=key)
    again = await send(client, tenant, sender["id"], headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _messages() == 1


async def test_a_blocked_send_is_replayed_as_blocked(client, tenant):
    sender = await make_sender(client, tenant)
    optout = {"channel": "sms", "address": "+351911111111"}
    assert (await client.post("/api/v1/optouts", json=optout, headers=tenant.headers())).status_code == 201
    key = {"Idempotency-Key": "promo-1"}
    first = await send(client, tenant, sender["id"], headers=key, kind="marketing")
    again = await send(client, tenant, sender["id"], headers=key, kind="marketing")
    assert again.json() == first.json() and again.json()["failure_reason"] == "opted_out"
    assert await _messages() == 1


async def test_same_key_with_another_body_is_422_naming_the_header(client, tenant):
    sender = await make_sender(client, tenant)
    key = {"Idempotency-Key": "order-43"}
    assert (await send(client, tenant, sender["id"], headers=key, text="one")).status_code == 201
    other = await send(client, tenant, sender["id"], headers=key, text="two")
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await _messages() == 1


async def test_keys_are_per_workspace(client, tenant, make_tenant):
    other = await make_tenant("Other")
    mine, theirs = await make_sender(client, tenant), await make_sender(client, other)
    key = {"Idempotency-Key": "shared"}
    a = await send(client, tenant, mine["id"], headers=key)
    b = await send(client, other, theirs["id"], headers=key)
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers


async def test_too_long_key_is_refused_naming_the_header_and_a_refused_request_stores_no_key(client, tenant):
    sender = await make_sender(client, tenant)
    too_long = await send(client, tenant, sender["id"], headers={"Idempotency-Key": "k" * 256})
    assert too_long.status_code == 400 and too_long.json()["errors"][0]["field"] == "Idempotency-Key"
    key = {"Idempotency-Key": "fix-and-retry"}
    assert (await send(client, tenant, sender["id"], headers=key, to="nope")).status_code == 400
    fixed = await send(client, tenant, sender["id"], headers=key)
    assert fixed.status_code == 201 and "idempotent-replayed" not in fixed.headers
    assert await _messages() == 1


async def test_concurrent_duplicates_make_one_message(client, tenant):
    sender = await make_sender(client, tenant)
    key = {"Idempotency-Key": "burst"}
    answers = await asyncio.gather(*(send(client, tenant, sender["id"], headers=key) for _ in range(5)))
    assert {answer.status_code for answer in answers} <= {201, 409}
    ids = {answer.json()["id"] for answer in answers if answer.status_code == 201}
    assert len(ids) == 1
    assert await _messages() == 1


async def test_keys_older_than_a_day_are_purged_and_may_be_reused(client, tenant, redis):
    from backend.messages.reconcile import reconcile
    from backend.messages.tables import IdempotencyKey

    sender = await make_sender(client, tenant)
    key = {"Idempotency-Key": "yesterday"}
    first = await send(client, tenant, sender["id"], headers=key)
    await IdempotencyKey.update({IdempotencyKey.created_at: datetime.now(UTC) - timedelta(hours=25)}).where(
        IdempotencyKey.key == "yesterday"
    )
    assert (await reconcile(redis))["keys_purged"] == 1
    reused = await send(client, tenant, sender["id"], headers=key, text="a new message")
    assert reused.status_code == 201 and reused.json()["id"] != first.json()["id"]
