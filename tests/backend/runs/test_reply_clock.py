"""A tap timeout counts from when the message left: a message that sat two hours in the queue (a large
campaign behind a sender's rate limit) still gives the contact the whole hour to tap."""

from __future__ import annotations

from datetime import timedelta

from tests.backend.campaigns.helpers import phone, requeue_queued, sandbox_sender, work, work_without_sending
from tests.backend.runs.helpers import offer_graph, outbound_of, publish, started, timers_of


async def _backdate(message_id: int, by: timedelta) -> None:
    from backend.messages.tables import Message

    row = await Message.select(Message.created_at).where(Message.id == message_id).first()
    await Message.update({Message.created_at: row["created_at"] - by}).where(Message.id == message_id)


async def test_a_message_that_waited_in_the_queue_moves_its_tap_deadline_on(client, tenant, redis_url):
    flow = await publish(client, tenant, offer_graph(trigger="api", kind="transactional"))  # an hour to tap
    sender = await sandbox_sender(client, tenant)
    run = await started(client, tenant, flow["id"], sender["id"], to=phone(0))
    await work_without_sending(redis_url)
    (offer,) = await outbound_of(run["contact_id"])
    assert offer["status"] == "queued"
    (timer,) = await timers_of(run["id"])
    await _backdate(offer["id"], timedelta(hours=2))  # stored two hours ago, and only now leaving

    assert await requeue_queued(redis_url) == 1
    await work(redis_url)
    (offer,) = await outbound_of(run["contact_id"])
    assert offer["status"] == "sent"
    (moved,) = await timers_of(run["id"])
    assert abs(moved["fire_at"] - (timer["fire_at"] + timedelta(hours=2))) < timedelta(minutes=1)


async def test_a_message_that_left_at_once_keeps_its_deadline(client, tenant, redis_url):
    flow = await publish(client, tenant, offer_graph(trigger="api", kind="transactional"))
    sender = await sandbox_sender(client, tenant)
    run = await started(client, tenant, flow["id"], sender["id"], to=phone(0))
    await work_without_sending(redis_url)
    (timer,) = await timers_of(run["id"])
    assert await requeue_queued(redis_url) == 1
    await work(redis_url)
    assert (await outbound_of(run["contact_id"]))[0]["status"] == "sent"
    assert [row["fire_at"] for row in await timers_of(run["id"])] == [timer["fire_at"]]
