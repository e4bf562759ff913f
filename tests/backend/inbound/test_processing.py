"""The processing job's guarantees: once in effect, retries that end in `failed`, nothing half-written,
lost jobs found by the sweeper, and at-least-once hand-off to the conversation runtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.inbound import processing
from backend.inbound.runtime import set_runtime
from backend.inbound.tables import InboundEvent
from tests.backend.inbound.helpers import (
    CONTACT,
    RecordingRuntime,
    contacts,
    events,
    make_sender,
    messages,
    opt_outs,
    post_webhook,
    run_worker,
)
from tests.fakes import webhooks as wa


async def test_an_event_processed_twice_has_its_effects_once(client, tenant, fake_providers):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "STOP")))
    [event] = await events()

    # As arq may do: the same job runs again (a retry after a lost acknowledgement).
    first = await processing.process_events([event["id"]], queue=None)
    again = await processing.process_events([event["id"], event["id"]], queue=None)

    assert (first, again) == ({"processed": 1}, {"skipped": 1})
    assert len(await messages(direction="inbound")) == 1
    assert len(await messages(direction="outbound")) == 1  # one confirmation


async def test_one_new_contact_for_several_messages_in_one_webhook(client, tenant, redis_url, fake_providers):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    hook = wa.whatsapp_webhook(*(wa.wa_text(CONTACT, f"message {n}") for n in range(3)))
    await post_webhook(client, sender["id"], hook)
    await run_worker(redis_url)
    assert len(await contacts()) == 1
    assert len(await messages(direction="inbound")) == 3


async def test_an_address_that_is_none_fails_at_once_and_leaves_nothing_behind(
    client, tenant, redis_url, fake_providers
):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text("12", "STOP")))
    await run_worker(redis_url)

    [event] = await events()
    assert (event["state"], event["attempts"]) == ("failed", 1)
    assert "from" in event["error"]
    assert await contacts() == [] and await messages() == []


async def test_a_failing_event_is_retried_then_failed_keeping_the_error(
    client, tenant, redis_url, fake_providers
):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "hi")))
    # A payload this code cannot read (as if written by a newer version): every attempt fails.
    await InboundEvent.update({InboundEvent.payload: {"type": "message"}}).where(InboundEvent.id > 0)
    await run_worker(redis_url)

    [event] = await events()
    assert (event["state"], event["attempts"]) == ("failed", processing.MAX_ATTEMPTS)
    assert "provider_event_id" in event["error"]
    assert await messages() == []


async def test_the_runtime_gets_the_reply_again_after_it_failed(client, tenant, redis_url, fake_providers):
    class FlakyRuntime(RecordingRuntime):
        async def on_inbound(self, reply) -> None:
            await super().on_inbound(reply)
            if len(self.replies) == 1:
                raise RuntimeError("flow engine unavailable")

    runtime = FlakyRuntime()
    set_runtime(runtime)
    try:
        sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
        await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "Yes, book it")))
        await run_worker(redis_url)
    finally:
        set_runtime(None)

    [inbound] = await messages(direction="inbound")
    assert [reply.message_id for reply in runtime.replies] == [inbound["id"], inbound["id"]]
    [event] = await events()
    assert (event["state"], event["attempts"]) == ("processed", 1)


async def test_the_sweeper_finds_events_whose_job_was_lost(client, tenant, redis, redis_url, fake_providers):
    from backend.core.queue import connect_queue

    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "hello?")))
    await redis.flushdb()  # Redis lost the job
    await InboundEvent.update({InboundEvent.received_at: datetime.now(UTC) - timedelta(minutes=2)}).where(
        InboundEvent.id > 0
    )
    queue = await connect_queue(redis_url)
    try:
        await queue.enqueue_job("sweep_inbound_events")
    finally:
        await queue.aclose()
    await run_worker(redis_url)

    [event] = await events()
    assert event["state"] == "processed"
    assert len(await messages(direction="inbound")) == 1


async def test_a_status_that_overtakes_the_send_write_back_is_retried(client, tenant, fake_providers):
    from backend.messages.tables import Message

    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    body = {"sender_id": sender["id"], "to": CONTACT, "kind": "transactional", "text": "Receipt"}
    ours = (await client.post("/api/v1/messages", json=body, headers=tenant.headers("marketer"))).json()
    # The worker has sent it but not yet written the answer back: still `sending`, no provider id.
    await Message.update({Message.status: "sending"}).where(Message.id == ours["id"])
    wamid = wa.wamid()
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_status(wamid, "delivered", CONTACT)))
    [event] = await events()

    assert await processing.process_event(event["id"], queue=None) == "retry"
    await Message.update({Message.status: "sent", Message.provider_message_id: wamid}).where(
        Message.id == ours["id"]
    )
    assert await processing.process_event(event["id"], queue=None) == "processed"

    [row] = await messages(id=ours["id"])
    assert row["status"] == "delivered"


async def test_a_stop_and_a_start_are_processed_in_order_before_the_send_jobs_queued_ahead_of_them(
    client, tenant, redis_url, fake_providers
):
    """arq takes due jobs oldest first and has no priorities: a STOP arriving during a campaign waited
    until every send job queued before it had been taken (seconds on a large send), and the gate let
    them through meanwhile. A worker taking one job at a time takes the STOP first, and the START the
    person sent after it second: jumping the queue keeps the order of what jumped it."""
    from arq.jobs import Job

    from backend.core.queue import connect_queue
    from backend.inbound.store import job_id
    from backend.inbound.tasks import RETRY_DELAYS_KEY
    from backend.worker import build_worker

    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    queue = await connect_queue(redis_url)
    backlog = [f"send:backlog-{n}" for n in range(20)]
    for n, name in enumerate(backlog):  # send jobs of messages that do not exist: each does nothing
        await queue.enqueue_job("send_messages", [10**12 + n], _job_id=name)
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "STOP")))
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "START")))
    stop_event, start_event = await events()

    worker = build_worker(redis_url, burst=True, max_jobs=1, ctx={"db_pool_size": 5, RETRY_DELAYS_KEY: [0]})
    try:
        await worker.main()
    finally:
        await worker.close()
    stop = await Job(job_id(stop_event["id"], 0), queue).result_info()
    start = await Job(job_id(start_event["id"], 0), queue).result_info()
    sends = [await Job(name, queue).result_info() for name in backlog]
    await queue.aclose()

    assert stop is not None and stop.success and start is not None and start.success
    assert all(send is not None and send.success for send in sends)
    assert stop.start_time < start.start_time < min(send.start_time for send in sends)
    assert [event["state"] for event in await events()] == ["processed", "processed"]
    assert await opt_outs() == []  # the START, sent last, has the last word
