"""Issue 4's "Done when", end to end over the fake WhatsApp server and signed webhooks."""

from __future__ import annotations

from tests.backend.inbound.helpers import CONTACT, make_sender, messages, opt_outs, post_webhook, run_worker
from tests.fakes import webhooks as wa


async def test_marketing_send_statuses_stop_and_what_may_go_next(client, tenant, redis_url, fake_providers):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)

    async def send(kind: str) -> dict:
        body = {"sender_id": sender["id"], "to": CONTACT, "kind": kind, "text": f"A {kind} message"}
        response = await client.post("/api/v1/messages", json=body, headers=tenant.headers("marketer"))
        assert response.status_code == 201, response.text
        return response.json()

    promo = await send("marketing")
    await run_worker(redis_url)
    assert len(fake_providers.sent("whatsapp")) == 1  # reached the provider once
    [row] = await messages(id=promo["id"])
    wamid = row["provider_message_id"]

    for status in ("delivered", "read"):
        hook = wa.whatsapp_webhook(wa.wa_status(wamid, status, CONTACT))
        assert (await post_webhook(client, sender["id"], hook)).status_code == 200
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "STOP")))
    await run_worker(redis_url)

    [row] = await messages(id=promo["id"])
    assert (row["status"], row["delivered_at"] is not None, row["read_at"] is not None) == (
        "read",
        True,
        True,
    )
    assert len(await opt_outs()) == 1
    confirmation = fake_providers.sent("whatsapp")[1]
    assert confirmation.body["text"]["body"] == "You are unsubscribed. Reply START to opt back in."

    blocked = await send("marketing")
    assert (blocked["status"], blocked["failure_reason"]) == ("failed", "opted_out")
    receipt = await send("transactional")
    await run_worker(redis_url)
    [row] = await messages(id=receipt["id"])
    assert row["status"] == "sent"
    assert [call.body["text"]["body"] for call in fake_providers.sent("whatsapp")][2:] == [
        "A transactional message"
    ]
