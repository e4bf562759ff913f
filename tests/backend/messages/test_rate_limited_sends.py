"""A rate-limited sender under load: a chunk never holds its claim long, and what it waits for is checked
again before it leaves (real worker, real Redis bucket, the fake WhatsApp server).

A sender's token bucket is shared by every chunk of every worker process, so a chunk may wait a long time
for its turn. It waits for at most ``RATE_WAIT_BUDGET_S`` and hands the rest back to the queue, so no
message outlives its lease or its job (they ended ``unknown`` before: sent, or not, nobody knew). And an
opt-out recorded while a chunk waits stops its message, as invariant 2 says; a campaign paused meanwhile
holds it for its resume.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from tests.backend.messages.helpers import make_sender, message_row, queued_messages, run_worker


async def _sender(client, tenant, fake, rate: int) -> dict:
    return await make_sender(
        client, tenant, "whatsapp_cloud", config=fake.config("whatsapp_cloud"), rate_limit_per_second=rate
    )


async def _enqueue(redis_url: str, ids: list[int]) -> None:
    from backend.core.queue import connect_queue
    from backend.messages.service import enqueue_sends

    queue = await connect_queue(redis_url)
    try:
        await enqueue_sends(queue, ids)
    finally:
        await queue.aclose()


async def _meanwhile(redis_url: str, fake, sent: int, act: Callable[[], Awaitable[object]]) -> None:
    """Run the worker until the queue is empty; once the fake has ``sent`` requests, ``act`` (an opt-out,
    a pause, an end) while the chunk waits for its sender's next token."""
    worker = asyncio.create_task(run_worker(redis_url))
    try:
        for _ in range(200):
            if len(fake.sent("whatsapp")) >= sent:
                break
            await asyncio.sleep(0.02)
        await act()
        await asyncio.wait_for(worker, timeout=60)
    finally:
        if not worker.done():
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker


async def test_an_opt_out_recorded_while_the_chunk_waits_for_its_turn_stops_the_message(
    client, tenant, redis_url, fake_providers
):
    from backend.consent.service import record_opt_out

    sender = await _sender(client, tenant, fake_providers, rate=2)  # one send every half second
    ids = await queued_messages(tenant.id, sender["id"], 5, first=11_000_000)  # one chunk, in id order
    last = await message_row(ids[-1])
    await _enqueue(redis_url, ids)

    # The chunk claimed and checked all five a moment ago; the last goes out in about 1.5 s.
    await _meanwhile(
        redis_url,
        fake_providers,
        2,
        lambda: record_opt_out(
            tenant.id, channel="whatsapp", address=last["address"], source="keyword", actor="test"
        ),
    )

    reached = {request.body["to"].lstrip("+") for request in fake_providers.sent("whatsapp")}
    assert last["address"].lstrip("+") not in reached
    assert len(reached) == 4
    row = await message_row(ids[-1])
    assert (row["status"], row["failure_reason"]) == ("failed", "opted_out")


async def test_a_slow_sender_sends_everything_once_and_no_chunk_outlives_its_budget(
    client, tenant, redis_url, fake_providers
):
    """Thirty messages at 5 a second take six seconds, longer than a chunk may hold them: the chunk sends
    what its budget allows and hands the rest back, due when the rate lets them go; all arrive once, none
    ends ``unknown``, and the rate holds."""
    from backend.messages.dispatch import RATE_WAIT_BUDGET_S
    from backend.messages.ratelimit import capacity_for

    rate = 5
    sender = await _sender(client, tenant, fake_providers, rate=rate)
    ids = await queued_messages(tenant.id, sender["id"], 30)
    await _enqueue(redis_url, ids)
    await run_worker(redis_url)

    sent = fake_providers.sent("whatsapp")
    per_address: dict[str, int] = {}
    for request in sent:
        per_address[request.body["to"]] = per_address.get(request.body["to"], 0) + 1
    assert len(per_address) == 30 and set(per_address.values()) == {1}
    statuses = {(await message_row(message_id))["status"] for message_id in ids}
    assert statuses == {"sent"}
    times = sorted(request.at for request in sent)
    assert times[-1] - times[0] > RATE_WAIT_BUDGET_S  # so a chunk did hand some back
    worst = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert worst <= rate + int(capacity_for(rate)) + 2, worst


async def test_a_campaign_paused_while_its_chunk_waits_holds_the_rest_until_it_is_released(
    client, tenant, redis_url, fake_providers
):
    """The messages domain knows the campaign by its id only: the hold is what the pause leaves for it."""
    from backend.core.queue import connect_queue
    from backend.messages.service import drop_hold, hold_campaign_messages, release_campaign_messages

    sender = await _sender(client, tenant, fake_providers, rate=2)
    ids = await queued_messages(tenant.id, sender["id"], 5, first=11_000_000, campaign_id=777)
    await _enqueue(redis_url, ids)

    # The campaign is suspended while its chunk waits.
    await _meanwhile(redis_url, fake_providers, 2, lambda: hold_campaign_messages(777))

    statuses = [(await message_row(message_id))["status"] for message_id in ids]
    sent_while_running = len(fake_providers.sent("whatsapp"))
    assert sent_while_running in (2, 3)  # a third may have been on its way
    assert statuses == ["sent"] * sent_while_running + ["held"] * (5 - sent_while_running)

    queue = await connect_queue(redis_url)
    try:
        assert await release_campaign_messages(777, queue) == 0  # still held: nothing leaves
        await drop_hold(777)  # resumed (the campaign does it under its lock)
        assert await release_campaign_messages(777, queue) == 5 - sent_while_running
    finally:
        await queue.aclose()
    await run_worker(redis_url)
    assert [(await message_row(message_id))["status"] for message_id in ids] == ["sent"] * 5
    reached = [request.body["to"] for request in fake_providers.sent("whatsapp")]
    assert len(reached) == len(set(reached)) == 5


async def test_a_campaign_ended_while_its_chunk_waits_sends_nothing_more_now_or_later(
    client, tenant, redis_url, fake_providers
):
    """Ended (or deleted) with messages claimed by a waiting chunk: they fail with the campaign's reason at
    the chunk's next check, and what the chunk hands back fails when it is claimed again."""
    from backend.messages.service import cancel_campaign_messages

    sender = await _sender(client, tenant, fake_providers, rate=1)  # 5 messages need 4 s and more
    ids = await queued_messages(tenant.id, sender["id"], 5, first=11_000_000, campaign_id=778)
    await _enqueue(redis_url, ids)

    # The campaign ends while its chunk waits.
    await _meanwhile(redis_url, fake_providers, 1, lambda: cancel_campaign_messages(778, "campaign_ended"))

    sent = len(fake_providers.sent("whatsapp"))
    assert sent in (1, 2)  # a second may have been on its way
    rows = [await message_row(message_id) for message_id in ids]
    assert [row["status"] for row in rows] == ["sent"] * sent + ["failed"] * (5 - sent)
    assert {row["failure_reason"] for row in rows[sent:]} == {"campaign_ended"}
