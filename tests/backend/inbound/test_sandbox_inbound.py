"""POST /api/v1/senders/{id}/sandbox/inbound: a simulated reply goes through the same pipeline as a webhook."""

from __future__ import annotations

import pytest

from backend.inbound.runtime import set_runtime
from tests.backend.inbound.helpers import (
    CONTACT,
    RecordingRuntime,
    contacts,
    events,
    make_sender,
    messages,
    opt_outs,
    run_worker,
)
from tests.backend.senders.helpers import field_of


@pytest.fixture
def runtime():
    recorder = RecordingRuntime()
    set_runtime(recorder)
    yield recorder
    set_runtime(None)


def _path(sender_id: int) -> str:
    return f"/api/v1/senders/{sender_id}/sandbox/inbound"


async def test_text_reply_is_stored_processed_and_handed_to_the_runtime(client, tenant, redis_url, runtime):
    sender = await make_sender(client, tenant, "sandbox")
    response = await client.post(
        _path(sender["id"]),
        json={"from": "+351 912 000 001", "text": "hello"},
        headers=tenant.headers("marketer"),
    )
    assert response.status_code == 202, response.text
    event_id = response.json()["event_id"]

    await run_worker(redis_url)

    [event] = await events(sender["id"])
    assert (event["id"], event["state"], event["attempts"]) == (event_id, "processed", 0)
    [contact] = await contacts()
    assert contact["phone"] == CONTACT
    [inbound] = await messages(direction="inbound")
    assert (inbound["text"], inbound["status"], inbound["contact"]) == ("hello", "received", contact["id"])
    [reply] = runtime.replies
    assert (reply.message_id, reply.contact_id, reply.text, reply.address) == (
        inbound["id"],
        contact["id"],
        "hello",
        CONTACT,
    )


async def test_button_tap_carries_the_replied_message_and_its_flow_ref(client, tenant, redis_url, runtime):
    from backend.messages.tables import Message

    sender = await make_sender(client, tenant, "sandbox", channel="whatsapp")
    sent = await client.post(
        "/api/v1/messages",
        json={
            "sender_id": sender["id"],
            "to": CONTACT,
            "kind": "transactional",
            "text": "Your order shipped. Track it?",
            "buttons": [{"id": "track", "title": "Track"}, {"id": "later", "title": "Later"}],
        },
        headers=tenant.headers("marketer"),
    )
    assert sent.status_code == 201, sent.text
    ours = sent.json()["id"]
    # A flow's message carries its run and node reference: the runtime must get them back with the tap.
    await Message.update({Message.run_id: "run-1", Message.message_ref: "ask#1"}).where(Message.id == ours)
    await run_worker(redis_url)  # the sandbox "sends" it

    response = await client.post(
        _path(sender["id"]),
        json={"from": CONTACT, "button_id": "track", "in_reply_to": ours},
        headers=tenant.headers("marketer"),
    )
    assert response.status_code == 202, response.text
    await run_worker(redis_url)

    [tap] = await messages(direction="inbound")
    assert (tap["button_id"], tap["in_reply_to"], tap["text"]) == ("track", ours, "Track")
    [reply] = runtime.replies
    assert (reply.button_id, reply.in_reply_to, reply.run_id, reply.message_ref) == (
        "track",
        ours,
        "run-1",
        "ask#1",
    )


async def test_stop_through_the_sandbox_opts_out_and_is_not_a_flow_reply(client, tenant, redis_url, runtime):
    sender = await make_sender(client, tenant, "sandbox")
    response = await client.post(
        _path(sender["id"]), json={"from": CONTACT, "text": "STOP"}, headers=tenant.headers("marketer")
    )
    assert response.status_code == 202
    await run_worker(redis_url)

    [entry] = await opt_outs()
    assert (entry["source"], entry["sender"], entry["channel"]) == ("keyword", sender["id"], "sms")
    confirmation = [m for m in await messages(direction="outbound")]
    assert [(m["kind"], m["origin"], m["text"]) for m in confirmation] == [
        ("transactional", "keyword_reply", "You are unsubscribed. Reply START to opt back in.")
    ]
    assert confirmation[0]["status"] == "sent"  # the worker sent it through the sandbox provider
    assert runtime.replies == []


async def test_a_client_id_makes_a_repeated_post_a_duplicate(client, tenant, redis_url, runtime):
    sender = await make_sender(client, tenant, "sandbox")
    body = {"from": CONTACT, "text": "hi", "id": "evt-1"}
    first = await client.post(_path(sender["id"]), json=body, headers=tenant.headers("marketer"))
    again = await client.post(_path(sender["id"]), json=body, headers=tenant.headers("marketer"))
    assert first.json() == {"event_id": first.json()["event_id"], "duplicate": False}
    assert again.json() == {"event_id": first.json()["event_id"], "duplicate": True}
    await run_worker(redis_url)
    assert len(await messages(direction="inbound")) == 1
    assert len(runtime.replies) == 1


BAD_BODIES = [
    ({"text": "hi"}, "from"),
    ({"from": CONTACT}, "text"),
    ({"from": CONTACT, "text": "hi", "button_id": "b"}, "text"),
    ({"from": "not a number", "text": "hi"}, "from"),
    ({"from": CONTACT, "button_id": "b", "in_reply_to": 999999}, "in_reply_to"),
    ({"from": CONTACT, "text": ""}, "text"),
    ({"from": CONTACT, "text": "hi", "colour": "red"}, "colour"),
]


async def test_bad_bodies_name_the_field_and_store_nothing(client, tenant):
    sender = await make_sender(client, tenant, "sandbox")
    for body, field in BAD_BODIES:
        response = await client.post(_path(sender["id"]), json=body, headers=tenant.headers("marketer"))
        assert response.status_code == 400, (body, response.text)
        assert field_of(response) == field, body
    assert await events() == []


async def test_only_sandbox_senders_take_simulated_replies(client, tenant):
    sender = await make_sender(client, tenant, "sms_http")
    response = await client.post(
        _path(sender["id"]), json={"from": CONTACT, "text": "hi"}, headers=tenant.headers("marketer")
    )
    assert response.status_code == 409
    assert field_of(response) == "provider"
    assert await events() == []


async def test_another_workspace_cannot_reach_the_sender_and_viewers_cannot_post(client, make_tenant):
    owner, other = await make_tenant("Owner"), await make_tenant("Other")
    sender = await make_sender(client, owner, "sandbox")
    body = {"from": CONTACT, "text": "hi"}
    assert (await client.post(_path(sender["id"]), json=body, headers=other.headers())).status_code == 404
    assert (
        await client.post(_path(sender["id"]), json=body, headers=owner.headers("viewer"))
    ).status_code == 403
    assert await events() == []
