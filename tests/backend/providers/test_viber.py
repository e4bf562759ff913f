"""Viber provider against the fake Viber REST API, and its callbacks."""

from __future__ import annotations

import pytest

from backend.providers.base import Button, InboundMessage, ProviderOptOut, StatusUpdate
from tests.backend.providers.helpers import outgoing, webhook_request
from tests.fakes import webhooks as wh
from tests.fakes.providers import hang, reply, viber_error


@pytest.fixture
def viber(fake_providers, provider_for):
    config = fake_providers.config("viber", sender_avatar="https://acme.example/logo.png")
    return provider_for("viber", config, address="acme-shop")


async def test_send_text_with_keyboard(viber, fake_providers):
    result = await viber.send(outgoing(channel="viber", text="Deal?", buttons=[Button("yes", "Yes")]))

    assert result.outcome == "accepted"
    assert result.provider_message_id.isdigit()
    [request] = fake_providers.sent("viber")
    assert request.path == "/viber/pa/send_message"
    assert request.headers["x-viber-auth-token"] == wh.VIBER_AUTH_TOKEN
    assert request.body == {
        "receiver": "+351912000001",
        "sender": {"name": "Acme", "avatar": "https://acme.example/logo.png"},
        "tracking_data": "42",
        "type": "text",
        "text": "Deal?",
        "keyboard": {
            "Type": "keyboard",
            "DefaultHeight": False,
            "Buttons": [{"ActionType": "reply", "ActionBody": "yes", "Text": "Yes"}],
        },
    }


@pytest.mark.parametrize(
    ("scripted", "outcome", "code", "opted_out"),
    [
        (viber_error(6, "notSubscribed"), "rejected", "6", True),
        (viber_error(5, "receiverNotRegistered"), "rejected", "5", False),
        (viber_error(12, "tooManyRequests"), "retry", "12", False),
        (reply(502, text="bad gateway"), "retry", "502", False),
    ],
)
async def test_error_classification(viber, fake_providers, scripted, outcome, code, opted_out):
    fake_providers.script("viber", scripted)
    result = await viber.send(outgoing(channel="viber"))
    assert (result.outcome, result.error_code, result.opted_out) == (outcome, code, opted_out)


async def test_wrong_token_is_rejected(fake_providers, provider_for):
    provider = provider_for("viber", fake_providers.config("viber", auth_token="nope"))
    result = await provider.send(outgoing(channel="viber"))
    assert (result.outcome, result.error_code) == ("rejected", "2")


async def test_hang_after_accept_is_unknown(viber, fake_providers):
    fake_providers.script("viber", hang())
    assert (await viber.send(outgoing(channel="viber"))).outcome == "unknown"


def test_signature_right_wrong_missing_and_altered(viber):
    hook = wh.viber_event("message", text="hi")
    assert viber.verify(webhook_request(hook))
    assert not viber.verify(webhook_request(wh.viber_event("message", signature="wrong")))
    assert not viber.verify(webhook_request(wh.viber_event("message", signature="missing")))
    assert not viber.verify(webhook_request(hook, body=hook.body.replace(b'"hi"', b'"ho"')))


def test_parse_message(viber):
    hook = wh.viber_event("message", user_id="+351912000001", text="STOP", message_token=123)
    [event] = viber.parse(webhook_request(hook))
    assert isinstance(event, InboundMessage)
    assert (event.provider_event_id, event.from_address, event.text, event.profile_name) == (
        "123",
        "+351912000001",
        "STOP",
        "Ana",
    )


@pytest.mark.parametrize(
    ("event", "status"), [("delivered", "delivered"), ("seen", "read"), ("failed", "failed")]
)
def test_parse_statuses(viber, event, status):
    [update] = viber.parse(webhook_request(wh.viber_event(event, message_token=555, desc="no device")))
    assert isinstance(update, StatusUpdate)
    assert (update.provider_event_id, update.provider_message_id, update.status) == (
        f"555:{status}",
        "555",
        status,
    )
    assert update.error_message == ("no device" if status == "failed" else None)


def test_unsubscribed_is_an_opt_out_and_other_events_are_ignored(viber):
    [opt_out] = viber.parse(webhook_request(wh.viber_event("unsubscribed", user_id="+351912000001")))
    assert isinstance(opt_out, ProviderOptOut)
    assert opt_out.from_address == "+351912000001"
    for event in ("subscribed", "conversation_started", "webhook"):
        assert viber.parse(webhook_request(wh.viber_event(event))) == []


async def test_a_picture_goes_as_a_picture_message_and_other_media_as_a_link(viber, fake_providers):
    await viber.send(outgoing(channel="viber", text="New in", media_url="https://cdn.example/new.jpg"))
    await viber.send(outgoing(channel="viber", text="Watch", media_url="https://cdn.example/clip.mp4"))
    picture, video = (request.body for request in fake_providers.sent("viber"))
    assert (picture["type"], picture["media"], picture["text"]) == (
        "picture",
        "https://cdn.example/new.jpg",
        "New in",
    )
    assert (video["type"], video["text"]) == ("text", "Watch\nhttps://cdn.example/clip.mp4")
