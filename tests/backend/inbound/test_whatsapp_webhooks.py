"""WhatsApp Cloud webhooks end to end: signed bodies from the fakes posted to /webhooks/{sender_id},
processed by an in-process worker, with sends going to the fake WhatsApp server."""

from __future__ import annotations

import time

from backend.inbound.runtime import set_runtime
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


async def _send(client, tenant, sender_id: int, kind: str = "transactional", **extra) -> dict:
    body = {"sender_id": sender_id, "to": CONTACT, "kind": kind, "text": "Hello from Acme", **extra}
    response = await client.post("/api/v1/messages", json=body, headers=tenant.headers("marketer"))
    assert response.status_code == 201, response.text
    return response.json()


async def _message(message_id: int) -> dict:
    [row] = await messages(id=message_id)
    return row


async def test_inbound_text_is_stored_with_a_new_contact(client, tenant, redis_url, fake_providers):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    hook = wa.whatsapp_webhook(wa.wa_text(CONTACT, "Do you ship to Porto?", name="Ana Lima"))

    response = await post_webhook(client, sender["id"], hook)
    assert response.status_code == 200
    [event] = await events()
    assert (event["kind"], event["state"]) == ("message", "pending")  # stored before the answer

    await run_worker(redis_url)
    [contact] = await contacts()
    assert (contact["phone"], contact["name"], contact["workspace"]) == (CONTACT, "Ana Lima", tenant.id)
    [inbound] = await messages(direction="inbound")
    assert (inbound["text"], inbound["contact"], inbound["sender"]) == (
        "Do you ship to Porto?",
        contact["id"],
        sender["id"],
    )
    assert (await events())[0]["state"] == "processed"


async def test_stop_opts_out_and_the_confirmation_goes_out_as_transactional(
    client, tenant, redis_url, fake_providers
):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "stop please")))
    await run_worker(redis_url)

    [entry] = await opt_outs()
    assert (entry["channel"], entry["sender"], entry["source"], entry["valid_until"]) == (
        "whatsapp",
        sender["id"],
        "keyword",
        None,
    )
    [reply] = await messages(direction="outbound")
    assert (reply["kind"], reply["origin"], reply["status"]) == ("transactional", "keyword_reply", "sent")
    [call] = fake_providers.sent("whatsapp")
    assert call.body["to"].lstrip("+") == CONTACT.lstrip("+")
    assert call.body["text"]["body"] == "You are unsubscribed. Reply START to opt back in."


async def test_help_gets_the_help_reply_and_start_reverses_a_stop(client, tenant, redis_url, fake_providers):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "HELP")))
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "STOP")))
    await run_worker(redis_url)
    assert len(await opt_outs()) == 1

    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "Start")))
    await run_worker(redis_url)

    assert await opt_outs() == []
    replies = [(m["origin"], m["kind"], m["text"]) for m in await messages(direction="outbound")]
    # HELP and STOP were two webhooks processed by concurrent jobs: their replies may come in either order.
    assert sorted(replies[:2]) == [
        ("help_reply", "conversational", "Acme help: call 800 000 000."),
        ("keyword_reply", "transactional", "You are unsubscribed. Reply START to opt back in."),
    ]
    assert replies[2] == ("keyword_reply", "transactional", "Welcome back!")
    assert len(fake_providers.sent("whatsapp")) == 3


async def test_a_start_written_before_a_processed_stop_does_not_undo_it(
    client, tenant, redis_url, fake_providers
):
    """Webhooks can arrive, and be processed, out of order: the provider's timestamps decide."""
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    now = int(time.time())
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "STOP", timestamp=now)))
    await run_worker(redis_url)
    late_start = wa.whatsapp_webhook(wa.wa_text(CONTACT, "START", timestamp=now - 60))
    await post_webhook(client, sender["id"], late_start)
    await run_worker(redis_url)

    assert len(await opt_outs()) == 1
    start_event = (await events(sender["id"]))[-1]
    assert (start_event["state"], "superseded" in start_event["error"]) == ("processed", True)
    replies = [m["text"] for m in await messages(direction="outbound")]
    assert replies == ["You are unsubscribed. Reply START to opt back in."]  # no "Welcome back!"


async def test_stop_replying_to_a_campaign_message_lasts_the_category_days(
    client, tenant, redis_url, fake_providers
):
    from backend.consent.tables import MarketingCategory
    from backend.messages.tables import Message

    category = await client.post(
        "/api/v1/marketing-categories",
        json={"name": "Promotions", "unsubscribe_days": 10},
        headers=tenant.headers(),
    )
    assert category.status_code == 201, category.text
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    ours = await _send(client, tenant, sender["id"], kind="marketing", category_id=category.json()["id"])
    await Message.update({Message.campaign_id: 77}).where(Message.id == ours["id"])
    await run_worker(redis_url)
    wamid = (await _message(ours["id"]))["provider_message_id"]

    await post_webhook(
        client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "STOP", context_id=wamid))
    )
    await run_worker(redis_url)

    [entry] = await opt_outs()
    assert entry["source"] == "campaign_reply"
    assert entry["category"] == category.json()["id"]
    assert entry["valid_until"] is not None and (entry["valid_until"] - entry["created_at"]).days in (9, 10)
    assert await MarketingCategory.exists()


async def test_statuses_move_forward_only(client, tenant, redis_url, fake_providers):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    ours = await _send(client, tenant, sender["id"])
    await run_worker(redis_url)
    sent = await _message(ours["id"])
    assert sent["status"] == "sent"
    wamid = sent["provider_message_id"]

    # read overtakes delivered: the late delivered must not downgrade it
    hook = wa.whatsapp_webhook(wa.wa_status(wamid, "read", CONTACT))
    await post_webhook(client, sender["id"], hook)
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_status(wamid, "delivered", CONTACT)))
    await run_worker(redis_url)

    row = await _message(ours["id"])
    assert row["status"] == "read"
    assert row["read_at"] is not None and row["delivered_at"] is not None
    assert [e["state"] for e in await events()] == ["processed", "processed"]


async def test_failed_status_keeps_the_code_and_131050_opts_out(client, tenant, redis_url, fake_providers):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    first, second = await _send(client, tenant, sender["id"]), await _send(client, tenant, sender["id"])
    await run_worker(redis_url)
    one, two = (
        (await _message(first["id"]))["provider_message_id"],
        (await _message(second["id"]))["provider_message_id"],
    )

    hook = wa.whatsapp_webhook(
        wa.wa_status(one, "failed", CONTACT, error_code=131026),
        wa.wa_status(two, "failed", CONTACT, error_code=131050),
    )
    assert (await post_webhook(client, sender["id"], hook)).status_code == 200
    await run_worker(redis_url)

    undeliverable, opted_out = await _message(first["id"]), await _message(second["id"])
    assert (undeliverable["status"], undeliverable["failure_reason"], undeliverable["error_code"]) == (
        "failed",
        "delivery_failed",
        "131026",
    )
    assert (opted_out["status"], opted_out["failure_reason"], opted_out["error_code"]) == (
        "failed",
        "opted_out",
        "131050",
    )
    [entry] = await opt_outs()
    assert (entry["source"], entry["sender"], entry["channel"]) == ("provider", sender["id"], "whatsapp")


async def test_a_status_with_only_the_callback_ref_settles_an_unknown_send(
    client, tenant, redis_url, fake_providers
):
    from backend.messages.tables import Message

    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    ours = await _send(client, tenant, sender["id"])
    # As if the provider's answer was lost: the worker could only mark it unknown, with no provider id.
    await Message.update({Message.status: "unknown", Message.provider_message_id: None}).where(
        Message.id == ours["id"]
    )
    wamid = wa.wamid()
    hook = wa.whatsapp_webhook(wa.wa_status(wamid, "delivered", CONTACT, callback_ref=str(ours["id"])))
    await post_webhook(client, sender["id"], hook)
    await run_worker(redis_url)

    row = await _message(ours["id"])
    assert (row["status"], row["provider_message_id"]) == ("delivered", wamid)


async def test_a_callback_ref_cannot_reach_another_workspaces_message(
    client, make_tenant, redis_url, fake_providers
):
    from backend.messages.tables import Message

    victim, attacker = await make_tenant("Victim"), await make_tenant("Attacker")
    victim_sender = await make_sender(client, victim, "whatsapp_cloud", fake_providers)
    attacker_sender = await make_sender(client, attacker, "whatsapp_cloud", fake_providers)
    ours = await _send(client, victim, victim_sender["id"])
    await Message.update({Message.status: "unknown"}).where(Message.id == ours["id"])

    hook = wa.whatsapp_webhook(wa.wa_status(wa.wamid(), "failed", CONTACT, callback_ref=str(ours["id"])))
    await post_webhook(client, attacker_sender["id"], hook)
    await run_worker(redis_url)

    assert (await _message(ours["id"]))["status"] == "unknown"
    # To the attacker's sender it is a status of a message sent outside Flowgate: processed, with a note.
    [event] = await events()
    assert (event["state"], "no message" in event["error"]) == ("processed", True)


async def test_redelivered_webhook_is_stored_and_processed_once(client, tenant, redis_url, fake_providers):
    recorder = RecordingRuntime()
    set_runtime(recorder)
    try:
        sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
        hook = wa.whatsapp_webhook(wa.wa_text(CONTACT, "hi there"))
        assert (await post_webhook(client, sender["id"], hook)).status_code == 200
        await run_worker(redis_url)
        # The provider did not see our 200 and re-delivers; a replayed signed body is the same event.
        assert (await post_webhook(client, sender["id"], hook)).status_code == 200
        await run_worker(redis_url)
    finally:
        set_runtime(None)
    assert len(await events()) == 1
    assert len(await messages(direction="inbound")) == 1
    assert [reply.text for reply in recorder.replies] == ["hi there"]


async def test_signatures_wrong_missing_or_body_altered_are_refused_and_nothing_is_stored(
    client, tenant, fake_providers
):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    item = wa.wa_text(CONTACT, "STOP")
    good = wa.whatsapp_webhook(item)
    altered = (good.body.replace(b"STOP", b"SHOP"), good.headers)
    for hook in (
        wa.whatsapp_webhook(item, signature="wrong"),
        wa.whatsapp_webhook(item, signature="missing"),
        altered,
    ):
        response = await post_webhook(client, sender["id"], hook)
        assert response.status_code == 401, response.text
        assert "SECRET" not in response.text
    assert await events() == []


async def test_unknown_sender_malformed_and_oversized_bodies(client, tenant, fake_providers):
    from tests.fakes.signing import whatsapp_signature

    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    hook = wa.whatsapp_webhook(wa.wa_text(CONTACT, "hi"))
    assert (await post_webhook(client, sender["id"] + 1000, hook)).status_code == 404

    garbage = b'{"entry": "not a list of entries"'
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": whatsapp_signature(wa.WA_APP_SECRET, garbage),
    }
    response = await client.post(f"/webhooks/{sender['id']}", content=garbage, headers=headers)
    assert response.status_code == 200  # signed: acknowledged, kept as rejected (test_unreadable_webhooks.py)
    [unreadable] = await events()
    assert (unreadable["kind"], unreadable["state"]) == ("unreadable", "rejected")

    big = b" " * (1024 * 1024 + 1)
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": whatsapp_signature(wa.WA_APP_SECRET, big),
    }
    assert (await client.post(f"/webhooks/{sender['id']}", content=big, headers=headers)).status_code == 413
    assert await events() == [unreadable]


async def test_subscription_handshake(client, tenant, fake_providers):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    path = f"/webhooks/{sender['id']}"
    good = await client.get(path, params=wa.whatsapp_handshake_query(challenge="8675309"))
    assert (good.status_code, good.text) == (200, "8675309")
    bad = await client.get(
        path, params=wa.whatsapp_handshake_query(verify_token="guess", challenge="8675309")
    )
    assert bad.status_code == 403 and "8675309" not in bad.text
    assert (
        await client.get(f"/webhooks/{sender['id'] + 1000}", params=wa.whatsapp_handshake_query())
    ).status_code == 404
