"""Replies and button taps resume the run they answer, once, and only when that run waits for them.

The contact of most tests here is in two campaigns on one sender, both waiting on the buttons of a
message of flows of the same shape (so the two messages even share their ``message_ref``, ``offer#1``):
only the replied message's run may move.
"""

from __future__ import annotations

from datetime import timedelta

from backend.inbound.processing import load_reply, process_events
from backend.inbound.tables import InboundEvent
from backend.runs import engine, inbox
from backend.runs.runtime import FlowRuntime
from flows.run import Reply
from tests.backend.campaigns.helpers import (
    at,
    campaign_messages,
    create_campaign,
    group_of,
    phone,
    sandbox_sender,
    tick,
    work,
)
from tests.backend.runs.helpers import (
    buttons,
    campaign_run,
    edge,
    events_of,
    flow_graph,
    inbound,
    inbound_of,
    message,
    node,
    offer_graph,
    outbound_of,
    ports,
    publish,
    queue_for,
    run_row,
    soon,
    started,
    timers_of,
)

ADDRESS = phone(0)


async def two_campaigns(client, tenant, redis_url, graph_a=None, graph_b=None):
    """One contact in campaign A (started first) and campaign B (started later)."""
    flow_a = await publish(client, tenant, graph_a or offer_graph(prefix="A: "), name="Flow A")
    flow_b = await publish(client, tenant, graph_b or offer_graph(prefix="B: "), name="Flow B")
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 1)
    a = await create_campaign(client, tenant, flow_a["id"], group["id"], sender["id"], name="Campaign A")
    b = await create_campaign(
        client,
        tenant,
        flow_b["id"],
        group["id"],
        sender["id"],
        name="Campaign B",
        start_at=soon(minutes=15).isoformat(),
    )
    await tick(redis_url, at(a["start_at"], seconds=1))
    await work(redis_url)
    await tick(redis_url, at(b["start_at"], seconds=1))
    await work(redis_url)
    return sender, group["contact_ids"][0], a, b


async def test_a_tap_resumes_the_run_of_the_message_it_answers(client, tenant, redis_url):
    sender, _contact_id, a, b = await two_campaigns(client, tenant, redis_url)
    (offer_a,) = await campaign_messages(a["id"])
    (offer_b,) = await campaign_messages(b["id"])
    assert (offer_a["text"], offer_b["text"]) == ("A: Want 20% off?", "B: Want 20% off?")
    assert offer_a["message_ref"] == offer_b["message_ref"]  # the same flow shape: refs alone cannot tell

    # B is the run that began waiting most recently; the tap still belongs to A's message.
    await inbound(client, tenant, sender["id"], ADDRESS, button_id="yes", in_reply_to=offer_a["id"])
    await work(redis_url)

    run_a, run_b = await campaign_run(a["id"]), await campaign_run(b["id"])
    assert run_a["status"] == "completed"
    assert ("offer", "button:yes") in ports(run_a)
    assert [m["text"] for m in await campaign_messages(a["id"])] == [
        "A: Want 20% off?",
        "A: Your code: SAVE20",
    ]
    assert run_b["status"] == "waiting" and run_b["waiting_kind"] == "buttons"
    assert [m["text"] for m in await campaign_messages(b["id"])] == ["B: Want 20% off?"]
    assert await events_of(run_b["id"]) == []


async def test_a_tap_on_the_other_campaigns_message_resumes_that_one(client, tenant, redis_url):
    sender, _, a, b = await two_campaigns(client, tenant, redis_url)
    (offer_b,) = await campaign_messages(b["id"])

    await inbound(client, tenant, sender["id"], ADDRESS, button_id="no", in_reply_to=offer_b["id"])
    await work(redis_url)

    run_a, run_b = await campaign_run(a["id"]), await campaign_run(b["id"])
    assert run_b["status"] == "completed" and ("offer", "button:no") in ports(run_b)
    assert [m["text"] for m in await campaign_messages(b["id"])][-1] == "B: No problem"
    assert run_a["status"] == "waiting"
    assert len(await campaign_messages(a["id"])) == 1


async def test_a_text_without_context_goes_to_the_run_that_most_recently_began_waiting(
    client, tenant, redis_url
):
    """A (enrolled first, lower run id) sits in a delay while B begins waiting on its buttons; then A's
    delay ends and A begins waiting on its buttons: A is now the most recent waiter and gets the text."""
    delayed = flow_graph(
        [
            node("start", "start"),
            node("delay", "pause", seconds=600),
            message("offer", "A: Want 20% off?", buttons=buttons("yes"), reply_timeout=3600),
            message("code", "A: Your code: SAVE20"),
            message("other", "A: We did not get that"),
            node("end", "done"),
        ],
        [
            edge("start", "pause"),
            edge("pause", "offer"),
            edge("offer", "code", "button:yes"),
            edge("offer", "other"),
            edge("code", "done"),
            edge("other", "done"),
        ],
    )
    sender, _contact_id, a, b = await two_campaigns(client, tenant, redis_url, graph_a=delayed)
    run_a, run_b = await campaign_run(a["id"]), await campaign_run(b["id"])
    assert run_a["id"] < run_b["id"]
    assert (run_a["waiting_kind"], run_b["waiting_kind"]) == ("timer", "buttons")

    # While A waits on its delay, a text goes to B (the only run waiting for a reply on this sender).
    await inbound(client, tenant, sender["id"], ADDRESS, text="hello?")
    await work(redis_url)
    run_b = await campaign_run(b["id"])
    assert run_b["status"] == "completed" and ("offer", "next") in ports(run_b)
    assert [m["text"] for m in await campaign_messages(b["id"])][-1] == "B: We did not get that"
    assert (await campaign_run(a["id"]))["waiting_kind"] == "timer"

    # A third campaign's run (C, on the same flow as B) begins waiting now; A's delay ends after it.
    flow_c = await publish(client, tenant, offer_graph(prefix="C: "), name="Flow C")
    c = await create_campaign(
        client,
        tenant,
        flow_c["id"],
        (await _group_of_campaign(a["id"])),
        sender["id"],
        name="Campaign C",
        start_at=soon(minutes=20).isoformat(),
    )
    await tick(redis_url, at(c["start_at"], seconds=1))
    await work(redis_url)
    assert (await campaign_run(c["id"]))["waiting_kind"] == "buttons"
    async with queue_for(redis_url) as queue:
        fired = await inbox.fire_due_timers(now=soon(minutes=11))  # A's delay, not C's button timeout
        assert fired == [run_a["id"]]
        await engine.drive(fired, queue=queue)
    await work(redis_url)
    assert (await campaign_run(a["id"]))["waiting_kind"] == "buttons"

    await inbound(client, tenant, sender["id"], ADDRESS, text="what is this about")
    await work(redis_url)
    run_a, run_c = await campaign_run(a["id"]), await campaign_run(c["id"])
    assert run_a["status"] == "completed" and ("offer", "next") in ports(run_a)
    assert [m["text"] for m in await campaign_messages(a["id"])][-1] == "A: We did not get that"
    assert run_c["status"] == "waiting" and await events_of(run_c["id"]) == []


async def _group_of_campaign(campaign_id: int) -> int:
    from backend.campaigns.tables import Campaign

    row = await Campaign.select(Campaign.group).where(Campaign.id == campaign_id).first()
    return row["group"]


async def test_the_same_reply_handed_over_twice_is_applied_once(client, tenant, redis_url):
    """The gateway hands a reply over at least once. The second hand-off must not resume anything, in
    particular not A, which still waits after B consumed the reply."""
    sender, contact_id, a, b = await two_campaigns(client, tenant, redis_url)
    posted = await inbound(client, tenant, sender["id"], ADDRESS, text="tell me more", id="wamid.reply-1")
    await work(redis_url)
    assert (await campaign_run(b["id"]))["status"] == "completed"
    assert (await campaign_run(a["id"]))["status"] == "waiting"
    messages_before = await outbound_of(contact_id)

    (stored,) = await inbound_of(contact_id)
    reply = await load_reply(sender["id"], stored["provider_message_id"])
    assert reply is not None and reply.message_id == stored["id"]
    async with queue_for(redis_url) as queue:
        runtime = FlowRuntime(queue)
        await runtime.on_inbound(reply)
        await runtime.on_inbound(reply)
    await work(redis_url)

    run_a, run_b = await campaign_run(a["id"]), await campaign_run(b["id"])
    assert run_a["status"] == "waiting" and await events_of(run_a["id"]) == []
    assert [e["key"] for e in await events_of(run_b["id"])] == [f"reply:{stored['id']}"]
    assert len(await outbound_of(contact_id)) == len(messages_before)

    # The provider delivering the same webhook again (same event id) stores and does nothing.
    again = await inbound(client, tenant, sender["id"], ADDRESS, text="tell me more", id="wamid.reply-1")
    await work(redis_url)
    assert again["duplicate"] is True and again["event_id"] == posted["event_id"]
    assert len(await inbound_of(contact_id)) == 1
    assert (await campaign_run(a["id"]))["status"] == "waiting"
    assert len(await outbound_of(contact_id)) == len(messages_before)


async def test_a_tap_handed_over_twice_moves_the_run_once(client, tenant, redis_url):
    """Two hand-offs of one tap while the run waits: the second finds the tap already taken."""
    sender, contact_id, a, b = await two_campaigns(client, tenant, redis_url)
    (offer_a,) = await campaign_messages(a["id"])
    # Stored and processed here, where no runtime is installed (the worker installs one): not handed on.
    await inbound(client, tenant, sender["id"], ADDRESS, button_id="yes", in_reply_to=offer_a["id"])
    ids = [row["id"] for row in await InboundEvent.select(InboundEvent.id)]
    assert await process_events(ids, queue=None) == {"processed": 1}
    assert len(await campaign_messages(a["id"])) == 1
    (tap,) = await inbound_of(contact_id)
    reply = await load_reply(sender["id"], tap["provider_message_id"])
    assert reply is not None and reply.run_id == str((await campaign_run(a["id"]))["id"])
    async with queue_for(redis_url) as queue:
        runtime = FlowRuntime(queue)
        await runtime.on_inbound(reply)
        await runtime.on_inbound(reply)
    await work(redis_url)

    texts_a = [m["text"] for m in await campaign_messages(a["id"])]
    assert texts_a == ["A: Want 20% off?", "A: Your code: SAVE20"]
    assert (await campaign_run(b["id"]))["status"] == "waiting"
    assert len(await campaign_messages(b["id"])) == 1


async def test_a_late_tap_on_an_older_message_of_the_same_run_is_ignored(client, tenant, redis_url):
    """The run sent its offer twice (a loop through "more"); a tap on the first one answers nothing."""
    looping = flow_graph(
        [
            node("start", "start", trigger="api"),
            message(
                "offer", "Pick one", "transactional", buttons=buttons("more", "done"), reply_timeout=3600
            ),
            message("thanks", "Thanks!", "transactional"),
            node("end", "end"),
        ],
        [
            edge("start", "offer"),
            edge("offer", "offer", "button:more"),
            edge("offer", "thanks", "button:done"),
            edge("offer", "end"),
            edge("thanks", "end"),
        ],
    )
    flow = await publish(client, tenant, looping)
    sender = await sandbox_sender(client, tenant)
    run = await started(client, tenant, flow["id"], sender["id"], to=ADDRESS)
    await work(redis_url)
    (first,) = await outbound_of(run["contact_id"])

    await inbound(client, tenant, sender["id"], ADDRESS, button_id="more", in_reply_to=first["id"])
    await work(redis_url)
    first, second = await outbound_of(run["contact_id"])
    assert (first["message_ref"], second["message_ref"]) == ("offer#1", "offer#2")
    assert (await run_row(run["id"]))["waiting_ref"] == "offer#2"

    # Late: "done" on the first message. Ignored: no thanks, still waiting on the second message.
    await inbound(client, tenant, sender["id"], ADDRESS, button_id="done", in_reply_to=first["id"])
    await work(redis_url)
    row = await run_row(run["id"])
    assert row["status"] == "waiting" and row["waiting_ref"] == "offer#2"
    assert [m["text"] for m in await outbound_of(run["contact_id"])] == ["Pick one", "Pick one"]
    assert [e["status"] for e in await events_of(run["id"])] == ["applied", "ignored"]

    # The same button on the current message works.
    await inbound(client, tenant, sender["id"], ADDRESS, button_id="done", in_reply_to=second["id"])
    await work(redis_url)
    row = await run_row(run["id"])
    assert row["status"] == "completed"
    assert [m["text"] for m in await outbound_of(run["contact_id"])][-1] == "Thanks!"


async def test_a_late_tap_on_a_finished_runs_message_does_not_resume_another_run(client, tenant, redis_url):
    """A's run already took the tap and finished. A second (late, duplicate) tap on A's message must
    not be handed to B's run, even though B waits on a message with the same ``message_ref``."""
    sender, _contact_id, a, b = await two_campaigns(client, tenant, redis_url)
    (offer_a,) = await campaign_messages(a["id"])
    await inbound(client, tenant, sender["id"], ADDRESS, button_id="yes", in_reply_to=offer_a["id"])
    await work(redis_url)
    assert (await campaign_run(a["id"]))["status"] == "completed"

    await inbound(client, tenant, sender["id"], ADDRESS, button_id="yes", in_reply_to=offer_a["id"])
    await work(redis_url)

    run_b = await campaign_run(b["id"])
    assert run_b["status"] == "waiting" and run_b["waiting_kind"] == "buttons"
    assert [m["text"] for m in await campaign_messages(b["id"])] == ["B: Want 20% off?"]


async def test_a_reply_while_the_run_waits_on_a_delay_does_not_move_it(client, tenant, redis_url):
    graph = flow_graph(
        [
            node("start", "start", trigger="api"),
            node("delay", "pause", seconds=3600),
            message("ask", "Still there?", "transactional"),
            node("wait_for_reply", "answer", timeout=600, save_as="answer"),
            message("echo", "You said {{vars.answer}}", "transactional"),
            message("gone", "Bye", "transactional"),
            node("end", "end"),
        ],
        [
            edge("start", "pause"),
            edge("pause", "ask"),
            edge("ask", "answer"),
            edge("answer", "echo", "reply"),
            edge("answer", "gone", "timeout"),
            edge("echo", "end"),
            edge("gone", "end"),
        ],
    )
    flow = await publish(client, tenant, graph)
    sender = await sandbox_sender(client, tenant)
    run = await started(client, tenant, flow["id"], sender["id"], to=ADDRESS)
    assert run["status"] == "waiting" and run["waiting"]["kind"] == "timer"
    (timer,) = await timers_of(run["id"])

    await inbound(client, tenant, sender["id"], ADDRESS, text="too early")
    await work(redis_url)
    row = await run_row(run["id"])
    assert row["status"] == "waiting" and row["waiting_kind"] == "timer" and row["current_node"] == "pause"
    assert await outbound_of(run["contact_id"]) == []
    assert [(t["timer_id"], t["fire_at"]) for t in await timers_of(run["id"])] == [
        (timer["timer_id"], timer["fire_at"])
    ]

    # Fed to the run anyway (e.g. a reply routed by id), it is stored and marked ignored.
    async with queue_for(redis_url) as queue:
        await inbox.deliver([(run["id"], "reply:test-direct", Reply(text="direct"))])
        await engine.drive([run["id"]], queue=queue)
    (event,) = await events_of(run["id"])
    assert (event["key"], event["status"]) == ("reply:test-direct", "ignored")
    assert (await run_row(run["id"]))["current_node"] == "pause"

    # The delay ends as planned; the early reply does not answer the question asked afterwards.
    async with queue_for(redis_url) as queue:
        fired = await inbox.fire_due_timers(now=timer["fire_at"] + timedelta(seconds=1))
        await engine.drive(fired, queue=queue)
    row = await run_row(run["id"])
    assert row["status"] == "waiting" and row["waiting_kind"] == "reply"
    await inbound(client, tenant, sender["id"], ADDRESS, text="yes I am")
    await work(redis_url)
    texts = [m["text"] for m in await outbound_of(run["contact_id"])]
    assert texts == ["Still there?", "You said yes I am"]


def offer_then_question() -> dict:
    """offer (button yes) → "Which size?" → wait for the reply (saved as size) → "Noted: {{vars.size}}"."""
    return flow_graph(
        [
            node("start", "start", trigger="api"),
            message(
                "offer", "Want a free T-shirt?", "transactional", buttons=buttons("yes"), reply_timeout=3600
            ),
            message("ask", "Which size?", "transactional"),
            node("wait_for_reply", "size", timeout=3600, save_as="size"),
            message("noted", "Noted: {{vars.size}}", "transactional"),
            node("end", "end"),
        ],
        [
            edge("start", "offer"),
            edge("offer", "ask", "button:yes"),
            edge("offer", "end"),
            edge("ask", "size"),
            edge("size", "noted", "reply"),
            edge("size", "end", "timeout"),
            edge("noted", "end"),
        ],
    )


async def test_a_second_tap_on_an_answered_message_is_not_the_answer_to_the_next_question(
    client, tenant, redis_url
):
    """The person taps "Yes" twice (or the tap arrives twice under two ids): the second, on a message
    the run has left, must not be taken as the size the run asks for next."""
    flow = await publish(client, tenant, offer_then_question())
    sender = await sandbox_sender(client, tenant)
    run = await started(client, tenant, flow["id"], sender["id"], to=ADDRESS)
    await work(redis_url)
    (offer,) = await outbound_of(run["contact_id"])
    await inbound(client, tenant, sender["id"], ADDRESS, button_id="yes", in_reply_to=offer["id"])
    await work(redis_url)
    assert (await run_row(run["id"]))["waiting_kind"] == "reply"

    await inbound(client, tenant, sender["id"], ADDRESS, button_id="yes", in_reply_to=offer["id"])
    await work(redis_url)
    row = await run_row(run["id"])
    assert (row["status"], row["waiting_kind"]) == ("waiting", "reply")
    assert [m["text"] for m in await outbound_of(run["contact_id"])] == [
        "Want a free T-shirt?",
        "Which size?",
    ]

    await inbound(client, tenant, sender["id"], ADDRESS, text="L")
    await work(redis_url)
    assert [m["text"] for m in await outbound_of(run["contact_id"])][-1] == "Noted: L"


async def test_a_reply_on_another_sender_does_not_resume_the_run(client, tenant, redis_url):
    flow = await publish(client, tenant, offer_then_question())
    sender = await sandbox_sender(client, tenant)
    other_sender = await sandbox_sender(client, tenant, name="Support line", address="+351912345699")
    run = await started(client, tenant, flow["id"], sender["id"], to=ADDRESS)
    await work(redis_url)

    await inbound(client, tenant, other_sender["id"], ADDRESS, text="hello support")
    await work(redis_url)
    row = await run_row(run["id"])
    assert (row["status"], row["waiting_kind"]) == ("waiting", "buttons")
    assert await events_of(run["id"]) == []

    await inbound(client, tenant, sender["id"], ADDRESS, text="hello shop")
    await work(redis_url)
    assert (await run_row(run["id"]))["status"] == "completed"  # a text leaves the buttons through next
