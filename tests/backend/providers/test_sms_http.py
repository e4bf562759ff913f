"""Twilio-format SMS provider against the fake Twilio API, and its webhook signature."""

from __future__ import annotations

import base64

import pytest

from backend.providers.base import InboundMessage, StatusUpdate
from tests.backend.providers.helpers import outgoing, webhook_request
from tests.fakes import webhooks as wh
from tests.fakes.providers import hang, reply, twilio_error

WEBHOOK = "https://flowgate.example.com/webhooks/7"


@pytest.fixture
def sms(fake_providers, provider_for):
    return provider_for("sms_http", fake_providers.config("sms_http"))


async def test_send_is_a_form_post_with_basic_auth_and_a_status_callback(sms, fake_providers):
    result = await sms.send(outgoing(channel="sms", text="Sale today. Reply STOP to opt out"))

    assert result.outcome == "accepted"
    assert result.provider_message_id.startswith("SM")
    [request] = fake_providers.sent("twilio")
    assert request.path == f"/twilio/2010-04-01/Accounts/{wh.TWILIO_ACCOUNT_SID}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    credentials = base64.b64encode(f"{wh.TWILIO_ACCOUNT_SID}:{wh.TWILIO_AUTH_TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {credentials}"
    assert request.body == {
        "To": "+351912000001",
        "From": "+351912345678",
        "Body": "Sale today. Reply STOP to opt out",
        "StatusCallback": f"{WEBHOOK}?ref=42",
    }


async def test_status_callback_uses_the_configured_public_url(fake_providers, provider_for):
    config = fake_providers.config("sms_http", public_webhook_url="https://sms.example.net/hooks/7")
    await provider_for("sms_http", config).send(outgoing(channel="sms"))
    assert fake_providers.sent("twilio")[0].body["StatusCallback"] == "https://sms.example.net/hooks/7?ref=42"


@pytest.mark.parametrize(
    ("scripted", "outcome", "code", "opted_out", "retry_after"),
    [
        (twilio_error(21610, "Attempt to send to unsubscribed recipient"), "rejected", "21610", True, None),
        (twilio_error(21211, "Invalid 'To' Phone Number"), "rejected", "21211", False, None),
        (
            reply(
                429,
                {"code": 20429, "message": "Too Many Requests", "status": 429},
                headers={"Retry-After": "3"},
            ),
            "retry",
            "20429",
            False,
            3.0,
        ),
        (reply(500, text="oops"), "retry", "500", False, None),
    ],
)
async def test_error_classification(sms, fake_providers, scripted, outcome, code, opted_out, retry_after):
    fake_providers.script("twilio", scripted)
    result = await sms.send(outgoing(channel="sms"))
    assert (result.outcome, result.error_code, result.opted_out, result.retry_after) == (
        outcome,
        code,
        opted_out,
        retry_after,
    )


async def test_wrong_credentials_are_rejected(fake_providers, provider_for):
    provider = provider_for("sms_http", fake_providers.config("sms_http", auth_token="wrong"))
    result = await provider.send(outgoing(channel="sms"))
    assert (result.outcome, result.error_code) == ("rejected", "20003")


async def test_hang_after_accept_is_unknown(sms, fake_providers):
    fake_providers.script("twilio", hang())
    assert (await sms.send(outgoing(channel="sms"))).outcome == "unknown"


# --- webhooks ---------------------------------------------------------------------------------------


def test_twilio_documentation_test_vector(provider_for):
    # Twilio "Webhooks security": auth token 12345 over this URL and these params gives this signature.
    provider = provider_for("sms_http", {"account_sid": "AC1", "auth_token": "12345"}, address="+18005551212")
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    body = (
        b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212"
    )
    headers = {"X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "Content-Type": "x"}

    assert provider.verify(webhook_request(wh.Webhook(body, headers), url=url))
    tampered = body.replace(b"Digits=1234", b"Digits=1235")
    assert not provider.verify(webhook_request(wh.Webhook(tampered, headers), url=url))


def test_signature_is_checked_against_the_configured_public_url(fake_providers, provider_for):
    public = "https://sms.example.net/hooks/7"
    provider = provider_for("sms_http", fake_providers.config("sms_http", public_webhook_url=public))
    hook = wh.twilio_status(f"{public}?ref=42", sid="SM1", status="delivered", to="+3519", from_="+3518")

    # The api behind a proxy sees another URL; the query string is what it received.
    assert provider.verify(webhook_request(hook, url="http://10.0.0.5:8000/webhooks/7?ref=42"))
    assert not provider.verify(webhook_request(hook, url="http://10.0.0.5:8000/webhooks/7?ref=43"))


def test_signature_right_wrong_missing(sms):
    url = f"{WEBHOOK}?ref=42"
    assert sms.verify(webhook_request(wh.twilio_inbound(url, from_="+3519", to="+3518", body="hi"), url=url))
    for signature in ("wrong", "missing"):
        hook = wh.twilio_inbound(url, from_="+3519", to="+3518", body="hi", signature=signature)
        assert not sms.verify(webhook_request(hook, url=url))


def test_parse_inbound_message(sms):
    hook = wh.twilio_inbound(WEBHOOK, from_="+351912000001", to="+351912345678", body="STOP", sid="SMin1")
    assert sms.parse(webhook_request(hook)) == [
        InboundMessage(provider_event_id="SMin1", from_address="+351912000001", text="STOP")
    ]


def test_parse_status_callbacks(sms):
    url = f"{WEBHOOK}?ref=42"
    delivered = wh.twilio_status(url, sid="SM1", status="delivered", to="+351912000001", from_="+3518")
    failed = wh.twilio_status(
        url, sid="SM1", status="undelivered", to="+351912000001", from_="+3518", error_code=21610
    )
    queued = wh.twilio_status(url, sid="SM1", status="queued", to="+351912000001", from_="+3518")

    [status] = sms.parse(webhook_request(delivered, url=url))
    assert status == StatusUpdate(
        provider_event_id="SM1:delivered",
        provider_message_id="SM1",
        callback_ref="42",
        status="delivered",
        recipient="+351912000001",
    )
    [status] = sms.parse(webhook_request(failed, url=url))
    assert (status.status, status.error_code, status.opted_out) == ("failed", "21610", True)
    assert sms.parse(webhook_request(queued, url=url)) == []


def test_acknowledge_is_empty_twiml(sms):
    reply_ = sms.acknowledge()
    assert (reply_.status_code, reply_.media_type, reply_.body) == (200, "text/xml", "<Response/>")
