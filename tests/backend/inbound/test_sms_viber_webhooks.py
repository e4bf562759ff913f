"""Twilio-format SMS and Viber webhooks: inbound keywords, statuses and provider opt-outs."""

from __future__ import annotations

from tests.backend.inbound.helpers import (
    CONTACT,
    contacts,
    events,
    make_sender,
    messages,
    opt_outs,
    post_webhook,
    run_worker,
    webhook_url,
)
from tests.fakes import webhooks as hooks

SMS_NUMBER = "+351912345679"


async def _sent_message(client, tenant, sender_id: int, redis_url: str) -> dict:
    body = {"sender_id": sender_id, "to": CONTACT, "kind": "transactional", "text": "Your code is 1234"}
    response = await client.post("/api/v1/messages", json=body, headers=tenant.headers("marketer"))
    assert response.status_code == 201, response.text
    await run_worker(redis_url)
    [row] = await messages(id=response.json()["id"])
    assert row["status"] == "sent", row
    return row


# --- SMS ----------------------------------------------------------------------------------------------


async def test_sms_stop_opts_out_with_a_confirmation_sms(client, tenant, redis_url, fake_providers):
    sender = await make_sender(client, tenant, "sms_http", fake_providers)
    hook = hooks.twilio_inbound(webhook_url(sender["id"]), from_=CONTACT, to=SMS_NUMBER, body="STOP")

    response = await post_webhook(client, sender["id"], hook)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")  # TwiML, as Twilio expects
    await run_worker(redis_url)

    [entry] = await opt_outs()
    assert (entry["channel"], entry["sender"], entry["source"]) == ("sms", sender["id"], "keyword")
    [contact] = await contacts()
    assert contact["phone"] == CONTACT
    [call] = fake_providers.sent("twilio")
    assert (call.body["To"], call.body["Body"]) == (
        CONTACT,
        "You are unsubscribed. Reply START to opt back in.",
    )


async def test_sms_signature_is_checked_against_the_configured_public_url(client, tenant, fake_providers):
    public = "https://hooks.acme.example/sms-in"
    sender = await make_sender(
        client, tenant, "sms_http", fake_providers, config={"public_webhook_url": public}
    )
    for signature in ("wrong", "missing"):
        hook = hooks.twilio_inbound(public, from_=CONTACT, to=SMS_NUMBER, body="STOP", signature=signature)
        assert (await post_webhook(client, sender["id"], hook)).status_code == 401
    # Signed over the URL the request arrived at, not the one Twilio was given: not Twilio's signature.
    as_received = hooks.twilio_inbound(webhook_url(sender["id"]), from_=CONTACT, to=SMS_NUMBER, body="hi")
    assert (await post_webhook(client, sender["id"], as_received)).status_code == 401
    assert await events() == []

    as_configured = hooks.twilio_inbound(public, from_=CONTACT, to=SMS_NUMBER, body="hi")
    assert (await post_webhook(client, sender["id"], as_configured)).status_code == 200
    assert len(await events()) == 1


async def test_sms_statuses_delivered_and_21610_failure(client, tenant, redis_url, fake_providers):
    sender = await make_sender(client, tenant, "sms_http", fake_providers)
    first = await _sent_message(client, tenant, sender["id"], redis_url)
    second = await _sent_message(client, tenant, sender["id"], redis_url)
    url = webhook_url(sender["id"])
    for hook in (
        hooks.twilio_status(
            url, sid=first["provider_message_id"], status="delivered", to=CONTACT, from_=SMS_NUMBER
        ),
        hooks.twilio_status(
            url,
            sid=second["provider_message_id"],
            status="failed",
            to=CONTACT,
            from_=SMS_NUMBER,
            error_code=21610,
        ),
    ):
        assert (await post_webhook(client, sender["id"], hook)).status_code == 200
    await run_worker(redis_url)

    [delivered] = await messages(id=first["id"])
    [failed] = await messages(id=second["id"])
    assert (delivered["status"], delivered["delivered_at"] is not None) == ("delivered", True)
    assert (failed["status"], failed["failure_reason"], failed["error_code"]) == (
        "failed",
        "opted_out",
        "21610",
    )
    [entry] = await opt_outs()
    assert (entry["source"], entry["sender"]) == ("provider", sender["id"])


# --- Viber --------------------------------------------------------------------------------------------


async def test_viber_message_stop_and_unsubscribed(client, tenant, redis_url, fake_providers):
    sender = await make_sender(client, tenant, "viber", fake_providers, opt_out_scope="workspace")
    body, headers = hooks.viber_event("unsubscribed", user_id=CONTACT)
    altered = body.replace(b"unsubscribed", b"subscribed")
    assert (
        await client.post(f"/webhooks/{sender['id']}", content=altered, headers=headers)
    ).status_code == 401
    assert await events() == []  # signed over other bytes: refused, nothing stored

    hello = hooks.viber_event("message", user_id=CONTACT, text="hello", name="Rui")
    assert (await post_webhook(client, sender["id"], hello)).status_code == 200
    await run_worker(redis_url)
    [contact] = await contacts()
    assert (contact["phone"], contact["name"]) == (CONTACT, "Rui")
    assert await opt_outs() == []

    unsubscribed = hooks.viber_event("unsubscribed", user_id=CONTACT)
    assert (await post_webhook(client, sender["id"], unsubscribed)).status_code == 200
    await run_worker(redis_url)
    [entry] = await opt_outs()
    # The sender enforces workspace-level opt-outs: the provider's opt-out is workspace-wide too.
    assert (entry["channel"], entry["source"], entry["sender"]) == ("viber", "provider", None)


async def test_viber_stop_keyword_confirms_through_viber(client, tenant, redis_url, fake_providers):
    sender = await make_sender(client, tenant, "viber", fake_providers)
    await post_webhook(
        client, sender["id"], hooks.viber_event("message", user_id=CONTACT, text="Unsubscribe")
    )
    await run_worker(redis_url)
    [entry] = await opt_outs()
    assert (entry["channel"], entry["source"], entry["sender"]) == ("viber", "keyword", sender["id"])
    [call] = fake_providers.sent("viber")
    assert call.body["text"] == "You are unsubscribed. Reply START to opt back in."


async def test_viber_seen_delivered_out_of_order_and_failed(client, tenant, redis_url, fake_providers):
    sender = await make_sender(client, tenant, "viber", fake_providers)
    first = await _sent_message(client, tenant, sender["id"], redis_url)
    second = await _sent_message(client, tenant, sender["id"], redis_url)
    one, two = int(first["provider_message_id"]), int(second["provider_message_id"])
    for hook in (
        hooks.viber_event("seen", user_id=CONTACT, message_token=one),
        hooks.viber_event("delivered", user_id=CONTACT, message_token=one),
        hooks.viber_event("failed", user_id=CONTACT, message_token=two, desc="user blocked"),
    ):
        assert (await post_webhook(client, sender["id"], hook)).status_code == 200
    await run_worker(redis_url)

    [seen] = await messages(id=first["id"])
    [failed] = await messages(id=second["id"])
    assert (seen["status"], seen["delivered_at"] is not None, seen["read_at"] is not None) == (
        "read",
        True,
        True,
    )
    assert (failed["status"], failed["failure_reason"], failed["error_message"]) == (
        "failed",
        "delivery_failed",
        "user blocked",
    )
