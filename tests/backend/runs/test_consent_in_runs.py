"""The consent gate inside flows: an opt-out stops a run's next marketing message, whichever way it came
(a manual entry, a STOP reply, the flow's own opt-out step), and a blocked message moves the run on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.consent.service import record_opt_out
from backend.runs import engine, inbox
from backend.runs.runtime import FlowRuntime
from tests.backend.campaigns.helpers import (
    campaign_messages,
    create_campaign,
    group_of,
    phone,
    sandbox_sender,
    start_and_work,
    tap,
    work,
)
from tests.backend.runs.helpers import (
    buttons,
    campaign_run,
    close_to,
    edge,
    flow_graph,
    inbound,
    inbound_of,
    message,
    node,
    offer_graph,
    opt_outs,
    outbound_of,
    patch_settings,
    ports,
    publish,
    queue_for,
    run_row,
    soon,
    started,
    timers_of,
)

ADDRESS = phone(0)


async def one_contact_campaign(client, tenant, redis_url, graph=None, **campaign_fields):
    flow = await publish(client, tenant, graph or offer_graph())
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 1)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"], **campaign_fields)
    await start_and_work(redis_url, campaign)
    return sender, group["contact_ids"][0], campaign


async def make_category(client, tenant, days: int) -> dict:
    response = await client.post(
        "/api/v1/marketing-categories",
        json={"name": f"Promotions {days}", "unsubscribe_days": days},
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_opt_out_between_two_steps_blocks_the_second(client, tenant, redis_url):
    sender, _contact_id, campaign = await one_contact_campaign(client, tenant, redis_url)
    (offer,) = await campaign_messages(campaign["id"])
    assert offer["status"] == "sent"

    await record_opt_out(tenant.id, channel="whatsapp", address=ADDRESS, source="manual", actor="test")
    await tap(client, tenant, sender["id"], offer, "yes")
    await work(redis_url)

    offer, code = await campaign_messages(campaign["id"])
    assert code["text"] == "Your code: SAVE20"
    assert (code["status"], code["failure_reason"]) == ("failed", "opted_out")
    assert code["sent_at"] is None and code["provider_message_id"] is None
    run = await campaign_run(campaign["id"])
    assert run["status"] == "completed"
    assert ports(run)[-2:] == [("code", "next"), ("done", None)]
    stats = (await client.get(f"/api/v1/campaigns/{campaign['id']}/stats", headers=tenant.headers())).json()
    assert stats["totals"]["failed:opted_out"] == 1
    assert stats["totals"]["sent"] == 1


async def test_an_opt_out_after_the_step_was_queued_still_stops_the_message(client, tenant, redis_url):
    """The tap is applied (the follow-up stored ``queued`` and handed to the queue); the opt-out comes
    before a worker sends it: the send path's gate stops it."""
    sender, contact_id, campaign = await one_contact_campaign(client, tenant, redis_url)
    (offer,) = await campaign_messages(campaign["id"])
    await tap(client, tenant, sender["id"], offer, "yes")
    # Process the inbound event here, without a worker: the tap is stored, not handed over.
    from backend.inbound.processing import load_reply, process_events
    from backend.inbound.tables import InboundEvent

    await process_events([row["id"] for row in await InboundEvent.select(InboundEvent.id)], queue=None)
    (received,) = await inbound_of(contact_id)
    async with queue_for(redis_url) as queue:
        await FlowRuntime(queue).on_inbound(await load_reply(sender["id"], received["provider_message_id"]))
    offer, code = await campaign_messages(campaign["id"])
    assert code["status"] == "queued"

    await record_opt_out(tenant.id, channel="whatsapp", address=ADDRESS, source="keyword", actor="test")
    await work(redis_url)
    offer, code = await campaign_messages(campaign["id"])
    assert (code["status"], code["failure_reason"]) == ("failed", "opted_out")
    assert code["sent_at"] is None


@pytest.mark.parametrize(("category_days", "workspace_days"), [(10, None), (None, None), (None, 45)])
async def test_a_stop_reply_to_a_campaign_lasts_the_categorys_or_the_workspaces_days(
    client, tenant, redis_url, category_days, workspace_days
):
    if workspace_days is not None:
        await patch_settings(client, tenant, marketing_unsubscription_days=workspace_days)
    fields = {}
    category = None
    if category_days is not None:
        category = await make_category(client, tenant, category_days)
        fields["category_id"] = category["id"]
    sender, _contact_id, campaign = await one_contact_campaign(client, tenant, redis_url, **fields)
    (offer,) = await campaign_messages(campaign["id"])
    assert offer["category"] == (category["id"] if category else None)

    await inbound(client, tenant, sender["id"], ADDRESS, text="STOP", in_reply_to=offer["id"])
    await work(redis_url)

    (entry,) = await opt_outs(ADDRESS)
    days = category_days or workspace_days or 30
    assert entry["source"] == "campaign_reply"
    assert entry["category"] == (category["id"] if category else None)
    assert entry["channel"] == "whatsapp" and entry["revoked_at"] is None
    assert entry["valid_until"] is not None
    assert close_to(entry["valid_until"], datetime.now(UTC) + timedelta(days=days))

    # STOP is not the run's answer: the run still waits on the offer's buttons...
    run = await campaign_run(campaign["id"])
    assert run["status"] == "waiting" and run["waiting_kind"] == "buttons"
    # ...and when it times out, its next marketing message is blocked.
    async with queue_for(redis_url) as queue:
        fired = await inbox.fire_due_timers(now=soon(hours=2))
        assert fired == [run["id"]]
        await engine.drive(fired, queue=queue)
    await work(redis_url)
    texts = {m["text"]: (m["status"], m["failure_reason"]) for m in await campaign_messages(campaign["id"])}
    assert texts["We did not get that"] == ("failed", "opted_out")
    assert (await campaign_run(campaign["id"]))["status"] == "completed"


def opt_out_graph() -> dict:
    """start → "Sorry to see you go" → opt out → a promotion (marketing) → end."""
    return flow_graph(
        [
            node("start", "start", trigger="api"),
            message("ack", "Sorry to see you go", "transactional"),
            node("opt_out", "unsubscribe"),
            message("promo", "Last chance: 50% off!", "marketing"),
            node("end", "end"),
        ],
        [
            edge("start", "ack"),
            edge("ack", "unsubscribe"),
            edge("unsubscribe", "promo"),
            edge("promo", "end"),
        ],
    )


async def test_an_opt_out_step_records_an_opt_out_for_the_contact(client, tenant, redis_url):
    from backend.consent.tables import ConsentEvent

    flow = await publish(client, tenant, opt_out_graph())
    sender = await sandbox_sender(client, tenant)
    run = await started(client, tenant, flow["id"], sender["id"], to=ADDRESS)
    await work(redis_url)

    (entry,) = await opt_outs(ADDRESS)
    assert (entry["source"], entry["channel"], entry["sender"], entry["category"]) == (
        "flow",
        "whatsapp",
        sender["id"],
        None,
    )
    assert entry["workspace"] == tenant.id and entry["revoked_at"] is None
    (event,) = await ConsentEvent.select().where(ConsentEvent.address == ADDRESS).output(load_json=True)
    assert (event["kind"], event["source"]) == ("opt_out", "flow")
    assert event["evidence"]["run_id"] == run["id"]
    assert (await run_row(run["id"]))["status"] == "completed"

    # The gate knows it: a marketing check for this address on this sender is blocked.
    check = await client.get(
        "/api/v1/optouts/check",
        params={"channel": "whatsapp", "address": ADDRESS, "sender_id": sender["id"]},
        headers=tenant.headers(),
    )
    assert check.status_code == 200, check.text
    assert check.json()["opted_out"] is True


async def test_a_marketing_step_after_the_opt_out_step_is_never_sent(client, tenant, redis_url):
    flow = await publish(client, tenant, opt_out_graph())
    sender = await sandbox_sender(client, tenant)
    run = await started(client, tenant, flow["id"], sender["id"], to=ADDRESS)
    await work(redis_url)
    ack, promo = await outbound_of(run["contact_id"])
    assert (ack["status"], ack["kind"]) == ("sent", "transactional")
    assert (promo["status"], promo["failure_reason"]) == ("failed", "opted_out")
    assert promo["sent_at"] is None and promo["provider_message_id"] is None


async def test_a_marketing_campaigns_messages_are_marketing_whatever_the_node_says(client, tenant, redis_url):
    category = await make_category(client, tenant, 14)
    sender, _contact_id, campaign = await one_contact_campaign(
        client, tenant, redis_url, graph=offer_graph(kind="transactional"), category_id=category["id"]
    )
    (offer,) = await campaign_messages(campaign["id"])
    assert (offer["kind"], offer["category"], offer["origin"]) == ("marketing", category["id"], "campaign")

    # Being marketing, the next one is blocked by an opt-out of the campaign's category.
    await record_opt_out(
        tenant.id,
        channel="whatsapp",
        address=ADDRESS,
        source="manual",
        category_id=category["id"],
        actor="test",
    )
    await tap(client, tenant, sender["id"], offer, "yes")
    await work(redis_url)
    offer, code = await campaign_messages(campaign["id"])
    assert (code["kind"], code["status"], code["failure_reason"]) == ("marketing", "failed", "opted_out")


async def test_a_transactional_campaigns_transactional_steps_pass_an_opt_out(client, tenant, redis_url):
    sender, _contact_id, campaign = await one_contact_campaign(
        client, tenant, redis_url, graph=offer_graph(kind="transactional"), kind="transactional"
    )
    (offer,) = await campaign_messages(campaign["id"])
    assert offer["kind"] == "transactional"
    await record_opt_out(tenant.id, channel="whatsapp", address=ADDRESS, source="keyword", actor="test")
    await tap(client, tenant, sender["id"], offer, "yes")
    await work(redis_url)
    offer, code = await campaign_messages(campaign["id"])
    assert (code["kind"], code["status"]) == ("transactional", "sent")


def chained_buttons_graph() -> dict:
    """offer (yes) → details (buttons "buy", timeout a day) → buy: thanks; next (no tap): tag 'skipped'."""
    return flow_graph(
        [
            node("start", "start"),
            message("offer", "Want 20% off?", buttons=buttons("yes"), reply_timeout=3600),
            message("details", "Pick a size", buttons=buttons("buy"), reply_timeout=86_400),
            message("thanks", "Thanks!"),
            node("add_tag", "skipped", tag="skipped_details"),
            node("end", "done"),
        ],
        [
            edge("start", "offer"),
            edge("offer", "details", "button:yes"),
            edge("offer", "done"),
            edge("details", "thanks", "button:buy"),
            edge("details", "skipped"),
            edge("thanks", "done"),
            edge("skipped", "done"),
        ],
    )


async def test_a_blocked_button_message_moves_the_run_on_at_once(client, tenant, redis_url):
    """Seed 002: the contact is moved to the next step, not left waiting a day on a message never sent."""
    from backend.audience.tables import Contact

    sender, contact_id, campaign = await one_contact_campaign(
        client, tenant, redis_url, graph=chained_buttons_graph()
    )
    (offer,) = await campaign_messages(campaign["id"])
    await record_opt_out(tenant.id, channel="whatsapp", address=ADDRESS, source="manual", actor="test")
    await tap(client, tenant, sender["id"], offer, "yes")
    await work(redis_url)

    offer, details = await campaign_messages(campaign["id"])
    assert (details["status"], details["failure_reason"]) == ("failed", "opted_out")
    run = await campaign_run(campaign["id"])
    assert run["status"] == "completed"
    assert ("details", "next") in ports(run)
    assert await timers_of(run["id"]) == []
    contact = await Contact.select(Contact.tags).where(Contact.id == contact_id).first()
    assert "skipped_details" in contact["tags"]


async def test_an_api_run_whose_first_button_message_is_blocked_ends_at_once(client, tenant, redis_url):
    graph = flow_graph(
        [
            node("start", "start", trigger="api"),
            message("promo", "Flash sale!", "marketing", buttons=buttons("shop"), reply_timeout=86_400),
            message("shop", "Here is the link"),
            node("end", "end"),
        ],
        [
            edge("start", "promo"),
            edge("promo", "shop", "button:shop"),
            edge("promo", "end"),
            edge("shop", "end"),
        ],
    )
    flow = await publish(client, tenant, graph)
    sender = await sandbox_sender(client, tenant)
    await record_opt_out(tenant.id, channel="whatsapp", address=ADDRESS, source="keyword", actor="test")
    run = await started(client, tenant, flow["id"], sender["id"], to=ADDRESS)
    assert run["status"] == "completed" and run["waiting"] is None
    assert run["ended_reason"] == "end"
    (promo,) = await outbound_of(run["contact_id"])
    assert (promo["status"], promo["failure_reason"]) == ("failed", "opted_out")
    assert await timers_of(run["id"]) == []


async def test_a_stop_without_reply_context_right_after_a_campaign_message_is_a_campaign_reply(
    client, tenant, redis_url
):
    category = await make_category(client, tenant, 7)
    sender, _contact_id, _campaign = await one_contact_campaign(
        client, tenant, redis_url, category_id=category["id"]
    )
    await inbound(client, tenant, sender["id"], ADDRESS, text="Stop.")
    await work(redis_url)
    (entry,) = await opt_outs(ADDRESS)
    assert (entry["source"], entry["category"]) == ("campaign_reply", category["id"])
    assert close_to(entry["valid_until"], datetime.now(UTC) + timedelta(days=7))


async def _keyword_and_manual_opt_outs(client, tenant, sender_id: int) -> None:
    await record_opt_out(
        tenant.id, channel="whatsapp", address=ADDRESS, source="keyword", sender_id=sender_id, actor="test"
    )
    await record_opt_out(
        tenant.id,
        channel="whatsapp",
        address=ADDRESS,
        source="manual",
        sender_id=sender_id,
        category_id=(await make_category(client, tenant, 30))["id"],
        actor="admin",
    )


async def test_an_opt_in_step_after_the_contacts_yes_undoes_only_what_the_person_said(
    client, tenant, redis_url
):
    """The contact answers "yes" to coming back: the step reverses their keyword opt-out on its sender,
    never an admin's manual entry."""
    graph = flow_graph(
        [
            node("start", "start", trigger="api"),
            message(
                "ask",
                "Get our news again?",
                "transactional",
                buttons=buttons("yes", "no"),
                reply_timeout=3600,
            ),
            node("opt_in", "welcome_back"),
            message("hi", "Welcome back", "transactional"),
            node("end", "end"),
        ],
        [
            edge("start", "ask"),
            edge("ask", "welcome_back", "button:yes"),
            edge("ask", "end", "button:no"),
            edge("ask", "end"),
            edge("welcome_back", "hi"),
            edge("hi", "end"),
        ],
    )
    flow = await publish(client, tenant, graph)
    sender = await sandbox_sender(client, tenant)
    await _keyword_and_manual_opt_outs(client, tenant, sender["id"])
    run = await started(client, tenant, flow["id"], sender["id"], to=ADDRESS)
    await work(redis_url)
    assert all(entry["revoked_at"] is None for entry in await opt_outs(ADDRESS))  # asked, not yet answered

    (ask,) = await outbound_of(run["contact_id"])
    await inbound(client, tenant, sender["id"], ADDRESS, button_id="yes", in_reply_to=ask["id"])
    await work(redis_url)
    by_source = {entry["source"]: entry for entry in await opt_outs(ADDRESS)}
    assert by_source["keyword"]["revoked_at"] is not None
    assert by_source["manual"]["revoked_at"] is None


async def test_an_opt_in_step_the_contact_did_not_ask_for_reverses_nothing(client, tenant, redis_url):
    """A flow started by a program (or a campaign) cannot take back a person's STOP: only they can, or an
    admin with a reason (a marketer's own API-triggered flow was a way around that)."""
    graph = flow_graph(
        [
            node("start", "start", trigger="api"),
            node("opt_in", "welcome_back"),
            message("hi", "Welcome back", "marketing"),
            node("end", "end"),
        ],
        [edge("start", "welcome_back"), edge("welcome_back", "hi"), edge("hi", "end")],
    )
    flow = await publish(client, tenant, graph)
    sender = await sandbox_sender(client, tenant)
    await _keyword_and_manual_opt_outs(client, tenant, sender["id"])
    run = await started(client, tenant, flow["id"], sender["id"], to=ADDRESS)
    await work(redis_url)
    assert all(entry["revoked_at"] is None for entry in await opt_outs(ADDRESS))
    (hi,) = await outbound_of(run["contact_id"])
    assert (hi["status"], hi["failure_reason"]) == ("failed", "opted_out")
