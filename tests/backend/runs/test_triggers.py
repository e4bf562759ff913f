"""Flows that start without a campaign: on a keyword the contact texts, or through the API."""

from __future__ import annotations

import asyncio
import os

import pytest

from backend.inbound.processing import load_reply, process_events
from backend.inbound.tables import InboundEvent
from backend.runs.runtime import FlowRuntime
from tests.backend.campaigns.helpers import (
    create_campaign,
    group_of,
    phone,
    sandbox_sender,
    start_and_work,
    work,
)
from tests.backend.runs.helpers import (
    buttons,
    create_contact,
    edge,
    events_of,
    flow_graph,
    inbound,
    message,
    node,
    offer_graph,
    opt_outs,
    outbound_of,
    publish,
    queue_for,
    run_row,
    runs_of,
    start_api_run,
    started,
)
from tests.backend.senders.helpers import field_of

NEW_NUMBER = "+351939990001"
_SQLITE_RUN = not os.environ.get("FLOWGATE_TEST_DATABASE_URL")


def price_bot(*keywords: str, wait: bool = False) -> dict:
    """start (keyword) → prices (transactional) → end; with ``wait``, then waits for a question."""
    nodes = [
        node("start", "start", trigger="keyword", keywords=list(keywords or ["PRICE"])),
        message("prices", "A bag is 9.50 EUR, {{contact.name | 'friend'}}.", "transactional"),
        node("end", "end"),
    ]
    edges = [edge("start", "prices"), edge("prices", "end")]
    if wait:
        nodes += [
            node("wait_for_reply", "ask", timeout=1800, save_as="question"),
            message("answer", "You asked: {{vars.question}}", "transactional"),
        ]
        edges = [
            edge("start", "prices"),
            edge("prices", "ask"),
            edge("ask", "answer", "reply"),
            edge("ask", "end", "timeout"),
            edge("answer", "end"),
        ]
    return flow_graph(nodes, edges)


def api_graph(text: str = "Hi {{contact.name | 'there'}}, your plan is {{contact.plan | 'none'}}") -> dict:
    return flow_graph(
        [
            node("start", "start", trigger="api"),
            message("hello", text, "transactional", buttons=buttons("ok"), reply_timeout=600),
            node("end", "end"),
        ],
        [edge("start", "hello"), edge("hello", "end", "button:ok"), edge("hello", "end")],
    )


# --- keyword-triggered flows --------------------------------------------------------------------------


async def test_a_keyword_from_a_new_number_starts_the_flow(client, tenant, redis_url):
    from backend.audience.tables import Contact

    flow = await publish(client, tenant, price_bot("PRICE"), name="Price bot")
    sender = await sandbox_sender(client, tenant)

    await inbound(client, tenant, sender["id"], NEW_NUMBER, text="price please")
    await work(redis_url)

    contact = await Contact.select().where(Contact.phone == NEW_NUMBER).first()
    assert contact is not None and contact["workspace"] == tenant.id
    (run,) = await runs_of(contact["id"])
    assert (run["trigger"], run["flow"], run["campaign_id"], run["sender"]) == (
        "keyword",
        flow["id"],
        None,
        sender["id"],
    )
    assert run["status"] == "completed"
    (sent,) = await outbound_of(contact["id"])
    assert sent["text"] == "A bag is 9.50 EUR, friend."
    assert sent["kind"] == "conversational"
    assert sent["status"] == "sent"
    assert sent["address"] == NEW_NUMBER and sent["sender"] == sender["id"]

    listed = await client.get(f"/api/v1/contacts/{contact['id']}/runs", headers=tenant.headers("viewer"))
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert (item["trigger"], item["status"], item["flow_id"], item["flow_version"]) == (
        "keyword",
        "completed",
        flow["id"],
        1,
    )


async def test_text_that_names_no_keyword_starts_nothing(client, tenant, redis_url):
    await publish(client, tenant, price_bot("PRICE"))
    sender = await sandbox_sender(client, tenant)
    await inbound(client, tenant, sender["id"], NEW_NUMBER, text="what does it cost? priceless")
    await work(redis_url)
    (stored,) = await _contact_messages(NEW_NUMBER)
    assert stored["direction"] == "inbound"
    assert await runs_of(stored["contact"]) == []


async def _contact_messages(address: str) -> list[dict]:
    from backend.messages.tables import Message

    return await Message.select().where(Message.address == address).order_by(Message.id)


@pytest.mark.parametrize("text", ["STOP", "stop price"])
async def test_an_opt_out_keyword_never_starts_a_flow(client, tenant, redis_url, text):
    """Even a bot listening for STOP (or a text naming both) is not started: STOP is the consent
    service's, and the person is opted out instead."""
    await publish(client, tenant, price_bot("STOP", "PRICE"))
    sender = await sandbox_sender(client, tenant)
    await inbound(client, tenant, sender["id"], NEW_NUMBER, text=text)
    await work(redis_url)

    (entry,) = await opt_outs(NEW_NUMBER)
    assert entry["source"] == "keyword" and entry["revoked_at"] is None
    (received, *_) = await _contact_messages(NEW_NUMBER)
    assert await runs_of(received["contact"]) == []
    assert all(m["origin"] != "flow" for m in await _contact_messages(NEW_NUMBER))


async def test_an_opted_out_contact_still_gets_the_bots_answer(client, tenant, redis_url):
    """The bot answers a conversation the person started: conversational messages pass the gate."""
    from backend.consent.service import record_opt_out

    await publish(client, tenant, price_bot("PRICE"))
    sender = await sandbox_sender(client, tenant)
    await record_opt_out(tenant.id, channel="whatsapp", address=NEW_NUMBER, source="manual", actor="test")
    await inbound(client, tenant, sender["id"], NEW_NUMBER, text="PRICE")
    await work(redis_url)
    (_received, answer) = await _contact_messages(NEW_NUMBER)
    assert (answer["kind"], answer["status"], answer["failure_reason"]) == ("conversational", "sent", None)


async def test_a_keyword_start_handed_over_twice_starts_one_run(client, tenant, redis_url):
    await publish(client, tenant, price_bot("PRICE"))
    sender = await sandbox_sender(client, tenant)
    await inbound(client, tenant, sender["id"], NEW_NUMBER, text="PRICE")
    await work(redis_url)
    (received,) = await _inbound_at(NEW_NUMBER)
    reply = await load_reply(sender["id"], received["provider_message_id"])
    assert reply is not None
    async with queue_for(redis_url) as queue:
        await FlowRuntime(queue).on_inbound(reply)
    await work(redis_url)

    (_run,) = await runs_of(received["contact"])
    assert len(await outbound_of(received["contact"])) == 1


async def test_a_repeated_hand_off_of_the_starting_keyword_is_not_taken_as_the_runs_reply(
    client, tenant, redis_url
):
    """The bot's first message is followed by a wait for the person's question; the keyword message that
    started it, handed over again (at least once delivery), must not answer that wait."""
    await publish(client, tenant, price_bot("PRICE", wait=True))
    sender = await sandbox_sender(client, tenant)
    await inbound(client, tenant, sender["id"], NEW_NUMBER, text="PRICE")
    await work(redis_url)
    (received,) = await _inbound_at(NEW_NUMBER)
    (run,) = await runs_of(received["contact"])
    assert (run["status"], run["waiting_kind"]) == ("waiting", "reply")

    reply = await load_reply(sender["id"], received["provider_message_id"])
    async with queue_for(redis_url) as queue:
        await FlowRuntime(queue).on_inbound(reply)
    await work(redis_url)

    row = await run_row(run["id"])
    assert (row["status"], row["waiting_kind"]) == ("waiting", "reply")
    assert [m["text"] for m in await outbound_of(received["contact"])] == ["A bag is 9.50 EUR, friend."]
    assert await events_of(run["id"]) != [] and all(e["kind"] == "start" for e in await events_of(run["id"]))


async def test_concurrent_hand_offs_of_one_keyword_message_start_one_run(client, tenant, redis_url):
    await publish(client, tenant, price_bot("PRICE"))
    sender = await sandbox_sender(client, tenant)
    await inbound(client, tenant, sender["id"], NEW_NUMBER, text="PRICE")
    # Stored and processed here, where no runtime is installed: nothing handed over yet.
    await process_events([row["id"] for row in await InboundEvent.select(InboundEvent.id)], queue=None)
    (received,) = await _inbound_at(NEW_NUMBER)
    reply = await load_reply(sender["id"], received["provider_message_id"])
    async with queue_for(redis_url) as queue:
        runtime = FlowRuntime(queue)
        await asyncio.gather(*(runtime.on_inbound(reply) for _ in range(3)))
    await work(redis_url)
    assert len(await runs_of(received["contact"])) == 1
    assert len(await outbound_of(received["contact"])) == 1


async def _inbound_at(address: str) -> list[dict]:
    return [m for m in await _contact_messages(address) if m["direction"] == "inbound"]


async def test_a_reply_to_a_waiting_keyword_run_answers_it_instead_of_starting_another(
    client, tenant, redis_url
):
    await publish(client, tenant, price_bot("PRICE", wait=True))
    sender = await sandbox_sender(client, tenant)
    await inbound(client, tenant, sender["id"], NEW_NUMBER, text="PRICE")
    await work(redis_url)
    await inbound(client, tenant, sender["id"], NEW_NUMBER, text="price of the decaf?")
    await work(redis_url)
    (received, _) = await _inbound_at(NEW_NUMBER)
    (run,) = await runs_of(received["contact"])
    assert run["status"] == "completed"
    texts = [m["text"] for m in await outbound_of(received["contact"])]
    assert texts == ["A bag is 9.50 EUR, friend.", "You asked: price of the decaf?"]


# --- API-triggered flows ------------------------------------------------------------------------------


async def test_an_api_start_answers_with_the_run_and_sends_its_message(client, tenant, redis_url):
    flow = await publish(client, tenant, api_graph(), name="Onboarding")
    sender = await sandbox_sender(client, tenant)
    contact = await create_contact(client, tenant, phone=phone(1), name="Ana", attributes={"plan": "basic"})

    response = await start_api_run(
        client, tenant, flow["id"], sender["id"], contact_id=contact["id"], attributes={"plan": "gold"}
    )
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["status"] == "waiting"
    assert run["waiting"]["kind"] == "buttons" and run["waiting"]["node_id"] == "hello"
    assert run["waiting"]["until"] is not None
    assert (run["flow_id"], run["flow_version"], run["trigger"]) == (flow["id"], 1, "api")
    assert (run["contact_id"], run["sender_id"], run["campaign_id"]) == (contact["id"], sender["id"], None)
    assert run["current_node"] == "hello" and run["ended_at"] is None

    await work(redis_url)
    (sent,) = await outbound_of(contact["id"])
    assert sent["text"] == "Hi Ana, your plan is gold"
    assert (sent["kind"], sent["status"], sent["run_id"]) == ("transactional", "sent", str(run["id"]))
    # The attributes were the run's, not saved on the contact.
    stored = (await client.get(f"/api/v1/contacts/{contact['id']}", headers=tenant.headers())).json()
    assert stored["attributes"] == {"plan": "basic"}


async def test_an_api_start_by_address_finds_or_creates_the_contact(client, tenant, redis_url):
    flow = await publish(client, tenant, api_graph())
    sender = await sandbox_sender(client, tenant)
    first = await started(client, tenant, flow["id"], sender["id"], to="+351 93 999 0001")
    second = await started(client, tenant, flow["id"], sender["id"], to=NEW_NUMBER)
    assert first["contact_id"] == second["contact_id"]
    contact = (await client.get(f"/api/v1/contacts/{first['contact_id']}", headers=tenant.headers())).json()
    assert contact["phone"] == NEW_NUMBER
    await work(redis_url)
    assert [m["text"] for m in await outbound_of(contact["id"])] == [
        "Hi there, your plan is none",
        "Hi there, your plan is none",
    ]


async def test_runs_finish_on_their_version_and_new_ones_take_the_latest(client, tenant, redis_url):
    flow = await publish(client, tenant, api_graph("Version one"))
    sender = await sandbox_sender(client, tenant)
    old = await started(client, tenant, flow["id"], sender["id"], to=NEW_NUMBER)
    saved = await client.put(
        f"/api/v1/flows/{flow['id']}",
        json={"graph": api_graph("Version two"), "revision": flow["revision"]},
        headers=tenant.headers(),
    )
    assert saved.status_code == 200, saved.text
    assert (
        await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    ).status_code in (
        200,
        201,
    )
    new = await started(client, tenant, flow["id"], sender["id"], to=NEW_NUMBER)
    assert (old["flow_version"], new["flow_version"]) == (1, 2)
    await work(redis_url)
    assert [m["text"] for m in await outbound_of(new["contact_id"])] == ["Version one", "Version two"]


async def test_api_start_errors_name_the_problem_and_start_nothing(client, tenant, make_tenant, redis_url):
    sender = await sandbox_sender(client, tenant)
    api_flow = await publish(client, tenant, api_graph(), name="API")
    manual = await publish(client, tenant, offer_graph(), name="Manual")
    keyword = await publish(client, tenant, price_bot("PRICE"), name="Keyword")
    draft = await client.post(
        "/api/v1/flows", json={"name": "Draft", "graph": api_graph()}, headers=tenant.headers()
    )
    assert draft.status_code == 201
    with_phone = await create_contact(client, tenant, phone=phone(1))
    email_only = await create_contact(client, tenant, email="ana@example.com")
    other = await make_tenant("Other")
    other_flow = await publish(client, other, api_graph(), name="Theirs")
    other_sender = await sandbox_sender(client, other)
    other_contact = await create_contact(client, other, phone=phone(2))

    async def start(flow_id: int, **fields):
        return await start_api_run(client, tenant, flow_id, fields.pop("sender_id", sender["id"]), **fields)

    for flow_id in (manual["id"], keyword["id"], draft.json()["id"]):
        response = await start(flow_id, contact_id=with_phone["id"])
        assert response.status_code == 409, response.text
    both = await start(api_flow["id"], contact_id=with_phone["id"], to=phone(1))
    neither = await start(api_flow["id"])
    assert (both.status_code, field_of(both)) == (400, "contact_id")
    assert (neither.status_code, field_of(neither)) == (400, "contact_id")
    for sender_id in (999_999, other_sender["id"]):
        response = await start(api_flow["id"], contact_id=with_phone["id"], sender_id=sender_id)
        assert (response.status_code, field_of(response)) == (400, "sender_id"), response.text
    no_phone = await start(api_flow["id"], contact_id=email_only["id"])
    assert (no_phone.status_code, field_of(no_phone)) == (400, "contact_id"), no_phone.text
    theirs = await start(api_flow["id"], contact_id=other_contact["id"])
    assert (theirs.status_code, field_of(theirs)) == (400, "contact_id")
    bad_address = await start(api_flow["id"], to="not a number")
    assert (bad_address.status_code, field_of(bad_address)) == (400, "to")
    assert (await start(other_flow["id"], contact_id=with_phone["id"])).status_code == 404
    assert (await start(999_999, contact_id=with_phone["id"])).status_code == 404
    viewer = await client.post(
        f"/api/v1/flows/{api_flow['id']}/runs",
        json={"sender_id": sender["id"], "contact_id": with_phone["id"]},
        headers=tenant.headers("viewer"),
    )
    assert viewer.status_code == 403

    from backend.runs.tables import Run

    assert await Run.count() == 0
    await work(redis_url)
    assert await outbound_of(with_phone["id"]) == []


async def test_a_contacts_runs_are_listed_newest_first_page_by_page(client, tenant, make_tenant, redis_url):
    flow = await publish(client, tenant, api_graph())
    manual = await publish(client, tenant, offer_graph(), name="Campaign flow")
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 1)
    contact_id = group["contact_ids"][0]
    campaign = await create_campaign(client, tenant, manual["id"], group["id"], sender["id"])
    await start_and_work(redis_url, campaign)
    ids = [
        (await started(client, tenant, flow["id"], sender["id"], contact_id=contact_id))["id"]
        for _ in range(4)
    ]
    other_contact = await create_contact(client, tenant, phone=phone(7))
    await started(client, tenant, flow["id"], sender["id"], contact_id=other_contact["id"])

    seen: list[dict] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get(
            f"/api/v1/contacts/{contact_id}/runs", params=params, headers=tenant.headers("viewer")
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert [item["id"] for item in seen] == sorted([*ids, seen[-1]["id"]], reverse=True)
    assert [item["trigger"] for item in seen] == ["api"] * 4 + ["campaign"]
    assert seen[-1]["campaign_id"] == campaign["id"]
    assert {item["contact_id"] for item in seen} == {contact_id}

    other = await make_tenant("Other")
    hidden = await client.get(f"/api/v1/contacts/{contact_id}/runs", headers=other.headers())
    assert hidden.status_code == 404
    missing = await client.get("/api/v1/contacts/999999/runs", headers=tenant.headers())
    assert missing.status_code == 404


async def test_a_new_flow_never_runs_a_deleted_flows_graph(client, tenant, make_tenant, redis_url):
    """Workspace A starts a run of its flow (the api process compiles and caches it) and deletes the
    flow; workspace B publishes a flow of its own. B's runs say B's words."""
    sender = await sandbox_sender(client, tenant)
    theirs = await publish(client, tenant, api_graph("A's confidential offer"), name="A")
    await started(client, tenant, theirs["id"], sender["id"], to=phone(1))
    deleted = await client.delete(f"/api/v1/flows/{theirs['id']}", headers=tenant.headers())
    assert deleted.status_code == 204, deleted.text

    other = await make_tenant("B")
    other_sender = await sandbox_sender(client, other)
    ours = await publish(client, other, api_graph("Welcome to B"), name="B")
    run = await started(client, other, ours["id"], other_sender["id"], to=phone(2))
    await work(redis_url)
    assert [m["text"] for m in await outbound_of(run["contact_id"])] == ["Welcome to B"]


async def test_another_workspaces_keyword_flow_is_never_started(client, tenant, make_tenant, redis_url):
    other = await make_tenant("Other")
    await publish(client, other, price_bot("PRICE"), name="Their bot")
    await sandbox_sender(client, other)
    sender = await sandbox_sender(client, tenant)
    await inbound(client, tenant, sender["id"], NEW_NUMBER, text="PRICE")
    await work(redis_url)
    (received,) = await _contact_messages(NEW_NUMBER)
    assert received["workspace"] == tenant.id and received["direction"] == "inbound"
    assert await runs_of(received["contact"]) == []


async def test_the_longest_matching_keyword_picks_the_flow(client, tenant, redis_url):
    await publish(client, tenant, price_bot("PRICE"), name="Prices")
    special = price_bot("PRICE LIST")
    special["nodes"][1]["text"] = "Here is the full list"
    chosen = await publish(client, tenant, special, name="Price list")
    sender = await sandbox_sender(client, tenant)
    await inbound(client, tenant, sender["id"], NEW_NUMBER, text="Price list, please!")
    await work(redis_url)
    (received, answer) = await _contact_messages(NEW_NUMBER)
    (run,) = await runs_of(received["contact"])
    assert run["flow"] == chosen["id"]
    assert answer["text"] == "Here is the full list"
