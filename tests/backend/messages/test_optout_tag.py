"""Seed 003: marketing SMS carry the sender's opt-out instruction; nothing else does."""

from __future__ import annotations

from tests.backend.messages.helpers import make_sender, run_worker, send


def test_the_first_keyword_is_appended_unless_the_text_already_says_it():
    from backend.messages.optout_tag import tag_text

    sender = {"opt_out_keywords": ["stop", "UNSUBSCRIBE"]}
    assert tag_text("Sale today", sender, 1, "+351911111111") == "Sale today\nReply STOP to opt out"
    assert tag_text("Sale! Reply STOP to end", sender, 1, "+351911111111") == "Sale! Reply STOP to end"
    assert tag_text("Stop by our shop", sender, 1, "+351911111111").endswith("Reply STOP to opt out")


def test_a_sender_without_keywords_gets_a_per_contact_link():
    from backend.consent.tokens import read_unsubscribe_token
    from backend.messages.optout_tag import tag_text

    tagged = tag_text("Sale", {"opt_out_keywords": []}, 7, "+351911111111")
    text, _, url = tagged.rpartition("Opt out: ")
    assert text == "Sale\n"
    assert read_unsubscribe_token(url.rsplit("/", 1)[1]) == (7, "sms", "+351911111111")


async def test_marketing_sms_is_tagged_at_dispatch_and_transactional_is_not(
    client, tenant, redis_url, fake_providers
):
    sender = await make_sender(client, tenant, "sms_http", config=fake_providers.config("sms_http"))
    marketing = (await send(client, tenant, sender["id"], kind="marketing", text="Sale")).json()
    await send(client, tenant, sender["id"], to="+351922222222", text="Code 1234")
    await run_worker(redis_url)

    bodies = {request.body["To"]: request.body for request in fake_providers.sent("twilio")}
    assert bodies["+351911111111"]["Body"] == "Sale\nReply STOP to opt out"
    assert bodies["+351922222222"]["Body"] == "Code 1234"
    assert bodies["+351911111111"]["StatusCallback"].endswith(f"/webhooks/{sender['id']}")
    # The stored text is what the marketer wrote.
    got = await client.get(f"/api/v1/messages/{marketing['id']}", headers=tenant.headers("viewer"))
    assert got.json()["text"] == "Sale" and got.json()["status"] == "sent"
