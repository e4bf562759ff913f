"""GET /api/v1/contacts/{id}/messages: the conversation in both directions, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.backend.messages.helpers import CONTACT, make_sender, send


async def test_the_timeline_shows_both_directions_in_order(client, tenant, make_tenant):
    from backend.messages.tables import Message

    sender = await make_sender(client, tenant)
    contact = (
        await client.post("/api/v1/contacts", json={"phone": CONTACT}, headers=tenant.headers())
    ).json()
    out = (await send(client, tenant, sender["id"], kind="conversational", text="Want a table?")).json()
    await Message.insert(
        Message(
            workspace=tenant.id,
            sender=sender["id"],
            contact=contact["id"],
            direction="inbound",
            channel="sms",
            address=CONTACT,
            origin="provider",
            text="Yes please",
            button_id="yes",
            status="received",
            created_at=datetime.now(UTC),
        )
    )
    url = f"/api/v1/contacts/{contact['id']}/messages"
    page = (await client.get(url, headers=tenant.headers("viewer"))).json()
    assert [(m["direction"], m["text"]) for m in page["items"]] == [
        ("outbound", "Want a table?"),
        ("inbound", "Yes please"),
    ]
    assert page["items"][0]["id"] == out["id"] and page["items"][1]["button_id"] == "yes"
    assert page["items"][1]["status"] == "received"
    first = (await client.get(url, params={"limit": 1}, headers=tenant.headers("viewer"))).json()
    rest = await client.get(
        url, params={"limit": 1, "cursor": first["next_cursor"]}, headers=tenant.headers()
    )
    assert rest.json()["items"][0]["direction"] == "inbound" and rest.json()["next_cursor"] is None

    other = await make_tenant("Other")
    assert (await client.get(url, headers=other.headers())).status_code == 404
