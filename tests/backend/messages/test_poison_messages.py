"""A stored message that no retry can send ends ``failed`` at once (issue 14, item 4), instead of failing
its whole chunk on every pass of the reconciler; the messages beside it are sent. A real worker on Redis
against the fake WhatsApp server, and the outcome read where the API shows a message."""

from __future__ import annotations

from backend.messages.tables import Message
from backend.senders.tables import Sender
from tests.backend.messages.helpers import OTHER, make_sender, message_row, run_worker, send


async def _wa_sender(client, tenant, fake) -> dict:
    return await make_sender(client, tenant, "whatsapp_cloud", config=fake.config("whatsapp_cloud"))


async def _api_message(client, tenant, message_id: int) -> dict:
    response = await client.get(f"/api/v1/messages/{message_id}", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_message_whose_stored_buttons_do_not_decode_fails_and_its_neighbour_is_sent(
    client, tenant, redis_url, fake_providers
):
    sender = await _wa_sender(client, tenant, fake_providers)
    buttons = [{"id": "yes", "title": "Yes"}]
    poison = (await send(client, tenant, sender["id"], text="Hi", buttons=buttons)).json()
    good = (await send(client, tenant, sender["id"], to=OTHER, text="Hello")).json()
    # Damaged in the database (no button id): building the provider's request raises.
    await Message.update({Message.buttons: '[{"title": "Yes"}]'}).where(Message.id == poison["id"])

    await run_worker(redis_url)
    await run_worker(redis_url)  # nothing is left to pick up again

    assert [call.body["text"]["body"] for call in fake_providers.sent("whatsapp")] == ["Hello"]
    assert (await message_row(good["id"]))["status"] == "sent"
    shown = await _api_message(client, tenant, poison["id"])
    assert (shown["status"], shown["failure_reason"], shown["error_code"]) == (
        "failed",
        "rejected",
        "invalid_message",
    )
    assert "cannot be sent" in shown["error_message"]


async def test_a_sender_whose_settings_build_no_provider_fails_its_messages(
    client, tenant, redis_url, fake_providers
):
    sender = await _wa_sender(client, tenant, fake_providers)
    message = (await send(client, tenant, sender["id"], text="Hi")).json()
    await Sender.update({Sender.config: '{"not": "a whatsapp config"}'}).where(Sender.id == sender["id"])

    await run_worker(redis_url)

    assert fake_providers.sent("whatsapp") == []
    shown = await _api_message(client, tenant, message["id"])
    assert (shown["status"], shown["failure_reason"]) == ("failed", "sender_unavailable")
    assert shown["error_message"].startswith("no provider for this sender")
