"""WhatsApp Cloud API provider against the fake Graph API (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import pytest

from backend.providers.base import Button, InboundMessage, StatusUpdate, Template
from tests.backend.providers.helpers import outgoing, webhook_request
from tests.fakes import webhooks as wh
from tests.fakes.providers import drop, hang, reply, whatsapp_error


@pytest.fixture
def whatsapp(fake_providers, provider_for):
    return provider_for("whatsapp_cloud", fake_providers.config("whatsapp_cloud"))


async def test_text_send_hits_the_documented_endpoint_with_the_bearer_token(whatsapp, fake_providers):
    result = await whatsapp.send(outgoing(text="Hi there https://x.example"))

    assert result.outcome == "accepted"
    [request] = fake_providers.sent("whatsapp")
    assert request.path == f"/whatsapp/v21.0/{wh.WA_PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {wh.WA_ACCESS_TOKEN}"
    assert request.headers["user-agent"] == "Flowgate"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "351912000001",
        "biz_opaque_callback_data": "42",
        "type": "text",
        "text": {"preview_url": False, "body": "Hi there https://x.example"},
    }
    assert result.provider_message_id.startswith("wamid.")


async def test_buttons_and_reply_context(whatsapp, fake_providers):
    buttons = [Button("yes", "Yes please"), Button("no", "No thanks")]
    result = await whatsapp.send(
        outgoing(text="Want it?", buttons=buttons, reply_to_provider_id="wamid.PREV")
    )

    assert result.outcome == "accepted"
    body = fake_providers.sent("whatsapp")[0].body
    assert body["type"] == "interactive"
    assert body["context"] == {"message_id": "wamid.PREV"}
    assert body["interactive"] == {
        "type": "button",
        "body": {"text": "Want it?"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "yes", "title": "Yes please"}},
                {"type": "reply", "reply": {"id": "no", "title": "No thanks"}},
            ]
        },
    }


async def test_template_with_body_parameters(whatsapp, fake_providers):
    template = Template(name="spring_sale", language="pt_PT", params=["Ana", "20%"])
    result = await whatsapp.send(outgoing(text=None, template=template))

    assert result.outcome == "accepted"
    body = fake_providers.sent("whatsapp")[0].body
    assert body["type"] == "template"
    assert body["template"] == {
        "name": "spring_sale",
        "language": {"code": "pt_PT"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "20%"}]}
        ],
    }


@pytest.mark.parametrize(
    "buttons",
    [
        [Button(str(i), f"B{i}") for i in range(4)],
        [Button("long", "a title longer than twenty")],
    ],
)
async def test_buttons_whatsapp_would_refuse_are_rejected_without_a_call(whatsapp, fake_providers, buttons):
    result = await whatsapp.send(outgoing(text="Pick", buttons=buttons))
    assert result.outcome == "rejected"
    assert fake_providers.sent("whatsapp") == []


async def test_opted_out_131050_is_a_rejection_that_records_an_opt_out(whatsapp, fake_providers):
    fake_providers.script("whatsapp", whatsapp_error(131050, "user stopped marketing messages"))
    result = await whatsapp.send(outgoing())
    assert (result.outcome, result.error_code, result.opted_out) == ("rejected", "131050", True)


async def test_429_with_retry_after_is_retried_after_the_given_delay(whatsapp, fake_providers):
    fake_providers.script(
        "whatsapp", whatsapp_error(130429, "throughput", status=429, headers={"Retry-After": "7"})
    )
    result = await whatsapp.send(outgoing())
    assert (result.outcome, result.error_code, result.retry_after) == ("retry", "130429", 7.0)


@pytest.mark.parametrize(
    ("scripted", "outcome", "code"),
    [
        (reply(503, text="upstream unavailable"), "retry", "503"),
        (whatsapp_error(131056, "pair rate limit"), "retry", "131056"),
        (whatsapp_error(131000, "something went wrong", status=500), "retry", "131000"),
        (whatsapp_error(131049, "per-user marketing limit"), "rejected", "131049"),
        (whatsapp_error(100, "Invalid parameter"), "rejected", "100"),
    ],
)
async def test_error_classification(whatsapp, fake_providers, scripted, outcome, code):
    fake_providers.script("whatsapp", scripted)
    result = await whatsapp.send(outgoing())
    assert (result.outcome, result.error_code, result.opted_out) == (outcome, code, False)


async def test_wrong_token_is_rejected(fake_providers, provider_for):
    provider = provider_for("whatsapp_cloud", fake_providers.config("whatsapp_cloud", access_token="nope"))
    result = await provider.send(outgoing())
    assert (result.outcome, result.error_code) == ("rejected", "190")


async def test_5xx_then_success(whatsapp, fake_providers):
    fake_providers.script("whatsapp", reply(502, text="bad gateway"))
    assert (await whatsapp.send(outgoing())).outcome == "retry"
    assert (await whatsapp.send(outgoing())).outcome == "accepted"
    assert len(fake_providers.sent("whatsapp")) == 2


async def test_hang_after_accept_is_unknown_not_retry(whatsapp, fake_providers):
    fake_providers.script("whatsapp", hang())
    result = await whatsapp.send(outgoing())
    assert result.outcome == "unknown"
    assert len(fake_providers.sent("whatsapp")) == 1


async def test_connection_dropped_after_the_request_is_unknown(whatsapp, fake_providers):
    # httpx-aiohttp maps this to httpx.ConnectTimeout; trusting that class would re-send a sent message.
    fake_providers.script("whatsapp", drop())
    result = await whatsapp.send(outgoing())
    assert result.outcome == "unknown"


async def test_connection_refused_is_retried(provider_for, fake_providers):
    from tests.conftest import free_port

    config = fake_providers.config("whatsapp_cloud", api_base_url=f"http://127.0.0.1:{free_port()}/v21.0")
    result = await provider_for("whatsapp_cloud", config).send(outgoing())
    assert result.outcome == "retry"


# --- webhooks ---------------------------------------------------------------------------------------


def test_handshake_answers_the_challenge_only_for_the_right_token(whatsapp):
    right = webhook_request(method="GET", url="https://f.example/webhooks/7?" + _query(wh.WA_VERIFY_TOKEN))
    wrong = webhook_request(method="GET", url="https://f.example/webhooks/7?" + _query("guess"))

    assert whatsapp.handshake(right).status_code == 200
    assert whatsapp.handshake(right).body == "1158201444"
    assert whatsapp.handshake(wrong).status_code == 403
    assert whatsapp.handshake(webhook_request(wh.whatsapp_webhook())) is None


def _query(token: str) -> str:
    from urllib.parse import urlencode

    return urlencode(wh.whatsapp_handshake_query(token))


def test_signature_right_wrong_missing_and_altered_body(whatsapp):
    hook = wh.whatsapp_webhook(wh.wa_text("351912000001", "hi"))
    assert whatsapp.verify(webhook_request(hook))
    assert not whatsapp.verify(webhook_request(wh.whatsapp_webhook(signature="wrong")))
    assert not whatsapp.verify(webhook_request(wh.whatsapp_webhook(signature="missing")))
    assert not whatsapp.verify(webhook_request(hook, body=hook.body.replace(b"hi", b"ho")))


def test_parse_text_button_reply_and_template_button(whatsapp):
    hook = wh.whatsapp_webhook(
        wh.wa_text("351912000001", "STOP", id="wamid.IN1", name="Ana"),
        wh.wa_button_reply("351912000001", "yes", "Yes please", context_id="wamid.OUT1", id="wamid.IN2"),
        wh.wa_template_button("351912000001", "promo-off", "Stop promotions", context_id="wamid.OUT2"),
    )
    text, button, template_button = whatsapp.parse(webhook_request(hook))

    assert text == InboundMessage(
        provider_event_id="wamid.IN1",
        from_address="+351912000001",
        text="STOP",
        profile_name="Ana",
        timestamp=text.timestamp,
    )
    assert text.timestamp is not None
    assert (button.button_id, button.button_title, button.context_provider_message_id) == (
        "yes",
        "Yes please",
        "wamid.OUT1",
    )
    assert (template_button.button_id, template_button.text) == ("promo-off", "Stop promotions")


def test_parse_statuses_with_callback_ref_and_131050(whatsapp):
    hook = wh.whatsapp_webhook(
        wh.wa_status("wamid.OUT1", "delivered", "351912000001", callback_ref="42"),
        wh.wa_status("wamid.OUT1", "read", "351912000001"),
        wh.wa_status("wamid.OUT2", "failed", "351912000002", error_code=131050, callback_ref="43"),
    )
    delivered, read, failed = whatsapp.parse(webhook_request(hook))

    assert isinstance(delivered, StatusUpdate)
    assert (delivered.provider_event_id, delivered.status, delivered.callback_ref) == (
        "wamid.OUT1:delivered",
        "delivered",
        "42",
    )
    assert read.provider_event_id == "wamid.OUT1:read"
    assert (failed.status, failed.error_code, failed.opted_out, failed.recipient) == (
        "failed",
        "131050",
        True,
        "+351912000002",
    )


def test_unreadable_body_is_malformed(whatsapp):
    from backend.providers.base import MalformedWebhook

    with pytest.raises(MalformedWebhook):
        whatsapp.parse(webhook_request(body=b"not json"))
    with pytest.raises(MalformedWebhook):
        whatsapp.parse(webhook_request(body=b'{"entry": [{"changes": [{"value": {"messages": [{}]}}]}]}'))


async def test_media_goes_as_its_link_with_the_text_as_caption_or_above_the_buttons(whatsapp, fake_providers):
    await whatsapp.send(outgoing(text="Our new range", media_url="https://cdn.example/spring.jpg"))
    await whatsapp.send(outgoing(text="The catalogue", media_url="https://cdn.example/catalogue.pdf"))
    await whatsapp.send(
        outgoing(text="Want it?", media_url="https://cdn.example/clip.mp4", buttons=[Button("yes", "Yes")])
    )
    picture, document, with_buttons = (request.body for request in fake_providers.sent("whatsapp"))
    assert picture["type"] == "image"
    assert picture["image"] == {"link": "https://cdn.example/spring.jpg", "caption": "Our new range"}
    assert document["type"] == "document"
    assert document["document"] == {"link": "https://cdn.example/catalogue.pdf", "caption": "The catalogue"}
    assert with_buttons["type"] == "interactive"
    assert with_buttons["interactive"]["header"] == {
        "type": "video",
        "video": {"link": "https://cdn.example/clip.mp4"},
    }
    assert with_buttons["interactive"]["body"] == {"text": "Want it?"}
