"""POST/GET /api/v1/messages: validation naming every field, the consent gate's answer, listing."""

from __future__ import annotations

import pytest

from tests.backend.messages.helpers import CONTACT, make_sender, run_worker, send


async def _count() -> int:
    from backend.messages.tables import Message

    return await Message.count()


async def test_a_transactional_send_is_stored_queued_and_then_sent(client, tenant, redis_url):
    sender = await make_sender(client, tenant)
    response = await send(client, tenant, sender["id"], to="00351 911 111 111")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "queued" and body["failure_reason"] is None
    assert body["to"] == CONTACT  # normalised to E.164
    assert body["channel"] == "sms" and body["direction"] == "outbound"

    await run_worker(redis_url)

    got = (await client.get(f"/api/v1/messages/{body['id']}", headers=tenant.headers("viewer"))).json()
    assert got["status"] == "sent"
    assert got["provider_message_id"] == f"sandbox-{body['id']}"
    assert got["attempts"] == 1 and got["sent_at"] is not None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sender_id": 999999}, "sender_id"),
        ({"to": "not a phone"}, "to"),
        ({"to": ""}, "to"),
        ({"kind": "spam"}, "kind"),
        ({"text": None}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 1601}, "text"),
        ({"template": {"name": "promo"}}, "template"),
        ({"buttons": [{"id": "a", "title": "A"}]}, "buttons"),
        ({"subject": "Hello"}, "subject"),
        ({"html": "<p>hi</p>"}, "html"),
        ({"category_id": 999999, "kind": "marketing"}, "category_id"),
        ({"category_id": 1}, "category_id"),
        ({"contact_id": 999999}, "contact_id"),
        ({"colour": "red"}, "colour"),
        ({"sender_id": "one"}, "sender_id"),
    ],
)
async def test_every_bad_field_is_named_and_nothing_is_stored(client, tenant, changes, field):
    sender = await make_sender(client, tenant)
    body = {"sender_id": sender["id"], "to": CONTACT, "kind": "transactional", "text": "Hi", **changes}
    body = {key: value for key, value in body.items() if value is not None}
    response = await client.post("/api/v1/messages", json=body, headers=tenant.headers("marketer"))
    assert 400 <= response.status_code < 500, response.text
    fields = {problem["field"] for problem in response.json()["errors"]}
    assert field in fields, response.json()
    assert await _count() == 0


async def test_whatsapp_rules_text_or_template_and_button_limits(client, tenant, fake_providers):
    sender = await make_sender(
        client, tenant, "whatsapp_cloud", config=fake_providers.config("whatsapp_cloud")
    )
    both = await send(client, tenant, sender["id"], template={"name": "promo"})
    assert both.status_code == 400 and "text" in both.json()["detail"]
    template = await send(
        client, tenant, sender["id"], text=None, template={"name": "promo", "params": ["a"]}
    )
    assert template.status_code == 201, template.text
    assert template.json()["template"] == {"name": "promo", "language": "en", "params": ["a"]}
    four = [{"id": str(i), "title": f"B{i}"} for i in range(4)]
    assert (await send(client, tenant, sender["id"], buttons=four)).status_code == 400
    same = [{"id": "x", "title": "A"}, {"id": "x", "title": "B"}]
    assert "buttons" in (await send(client, tenant, sender["id"], buttons=same)).json()["detail"]
    assert (await send(client, tenant, sender["id"], buttons=same[:1])).status_code == 201


async def test_email_needs_a_subject(client, tenant):
    sender = await make_sender(client, tenant, "smtp")
    response = await send(client, tenant, sender["id"], to="Ann@Example.com")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "subject"
    ok = await send(client, tenant, sender["id"], to="Ann@Example.com", subject="Hello", html="<p>Hi</p>")
    assert ok.status_code == 201 and ok.json()["to"] == "ann@example.com"


async def test_viewers_cannot_send_and_another_workspace_sender_is_unknown(client, tenant, make_tenant):
    sender = await make_sender(client, tenant)
    assert (await send(client, tenant, sender["id"], role="viewer")).status_code == 403
    other = await make_tenant("Other")
    response = await send(client, other, sender["id"])
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "sender_id"
    assert await _count() == 0


async def test_marketing_to_an_opted_out_contact_fails_but_transactional_goes(client, tenant, redis_url):
    sender = await make_sender(client, tenant)
    optout = {"channel": "sms", "address": CONTACT}
    assert (await client.post("/api/v1/optouts", json=optout, headers=tenant.headers())).status_code == 201

    blocked = await send(client, tenant, sender["id"], kind="marketing", text="Sale!")
    assert blocked.status_code == 201
    assert blocked.json()["status"] == "failed" and blocked.json()["failure_reason"] == "opted_out"
    allowed = await send(client, tenant, sender["id"], kind="transactional", text="Your code is 1234")
    assert allowed.json()["status"] == "queued"

    await run_worker(redis_url)

    listed = await client.get(
        "/api/v1/messages", params={"failure_reason": "opted_out"}, headers=tenant.headers("viewer")
    )
    assert [item["id"] for item in listed.json()["items"]] == [blocked.json()["id"]]
    sent = await client.get("/api/v1/messages", params={"status": "sent"}, headers=tenant.headers("viewer"))
    assert [item["id"] for item in sent.json()["items"]] == [allowed.json()["id"]]


async def test_the_contact_is_linked_and_listing_pages_newest_first(client, tenant):
    sender = await make_sender(client, tenant)
    created = await client.post(
        "/api/v1/contacts", json={"phone": CONTACT, "name": "Ann"}, headers=tenant.headers()
    )
    assert created.status_code == 201, created.text
    ids = [(await send(client, tenant, sender["id"], text=f"m{i}")).json()["id"] for i in range(3)]
    first = await client.get("/api/v1/messages", params={"limit": 2}, headers=tenant.headers("viewer"))
    page = first.json()
    assert [item["id"] for item in page["items"]] == ids[::-1][:2]
    assert all(item["contact_id"] == created.json()["id"] for item in page["items"])
    second = await client.get(
        "/api/v1/messages",
        params={"limit": 2, "cursor": page["next_cursor"]},
        headers=tenant.headers("viewer"),
    )
    assert [item["id"] for item in second.json()["items"]] == [ids[0]]
    assert second.json()["next_cursor"] is None


async def test_another_workspace_cannot_read_a_message(client, tenant, make_tenant):
    sender = await make_sender(client, tenant)
    message = (await send(client, tenant, sender["id"])).json()
    other = await make_tenant("Other")
    assert (await client.get(f"/api/v1/messages/{message['id']}", headers=other.headers())).status_code == 404
    assert (await client.get("/api/v1/messages", headers=other.headers())).json()["items"] == []
