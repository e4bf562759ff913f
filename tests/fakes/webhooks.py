"""Inbound webhook payloads in each provider's documented format, signed (or deliberately not), ready to
POST to Flowgate's ``/webhooks/{sender_id}``.

Every builder returns a :class:`Webhook` (unpacks as ``body, headers``; ``content_type`` is also in the
headers). ``signature``: ``"valid"`` (default), ``"wrong"`` (signed with another secret) or ``"missing"``.
To test a body altered in transit, sign first and change ``body`` afterwards.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple
from urllib.parse import urlencode

from tests.fakes.signing import twilio_signature, viber_signature, whatsapp_signature

Signature = Literal["valid", "wrong", "missing"]

# Credentials the fakes and tests agree on (the same as tests/backend/senders/helpers.py's bodies).
WA_PHONE_NUMBER_ID = "109876543210"
WA_DISPLAY_PHONE = "351912345678"
WA_ACCESS_TOKEN = "wa-access-SECRET-1111"
WA_APP_SECRET = "wa-app-SECRET-2222"
WA_VERIFY_TOKEN = "wa-verify-SECRET-3333"
TWILIO_ACCOUNT_SID = "AC0123456789"
TWILIO_AUTH_TOKEN = "sms-auth-SECRET-4444"
VIBER_AUTH_TOKEN = "viber-auth-SECRET-5555"

_counter = itertools.count(1)


class Webhook(NamedTuple):
    body: bytes
    headers: dict[str, str]

    @property
    def content_type(self) -> str:
        return self.headers["Content-Type"]


def _secret(secret: str, signature: Signature) -> str | None:
    if signature == "missing":
        return None
    return secret if signature == "valid" else secret + "-not-it"


def _now() -> int:
    return int(time.time())


# --- WhatsApp Cloud -----------------------------------------------------------------------------------


def wamid() -> str:
    """An id shaped like WhatsApp's (``wamid.`` + base64 text)."""
    return f"wamid.HBgM{uuid.uuid4().hex.upper()}"


def wa_text(
    from_: str,
    text: str,
    *,
    id: str | None = None,
    context_id: str | None = None,
    name: str | None = "Ana",
    timestamp: int | None = None,
) -> dict[str, Any]:
    """An incoming text message (``messages[]`` item); ``from_`` is the wa_id (digits, no '+');
    ``timestamp``: when the person sent it (Unix seconds; default now)."""
    message: dict[str, Any] = {
        "from": from_.lstrip("+"),
        "id": id or wamid(),
        "timestamp": str(_now() if timestamp is None else timestamp),
        "type": "text",
        "text": {"body": text},
    }
    if context_id:
        message["context"] = {"from": WA_DISPLAY_PHONE, "id": context_id}
    return {"messages": message, "name": name}


def wa_button_reply(
    from_: str,
    button_id: str,
    title: str,
    *,
    context_id: str,
    id: str | None = None,
    name: str | None = "Ana",
) -> dict[str, Any]:
    """A tapped interactive reply button of one of our messages (``context.id``)."""
    message = {
        "context": {"from": WA_DISPLAY_PHONE, "id": context_id},
        "from": from_.lstrip("+"),
        "id": id or wamid(),
        "timestamp": str(_now()),
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
    }
    return {"messages": message, "name": name}


def wa_template_button(
    from_: str, payload: str, text: str, *, context_id: str, id: str | None = None, name: str | None = "Ana"
) -> dict[str, Any]:
    """A template's quick-reply button tapped (``type: button``)."""
    message = {
        "context": {"from": WA_DISPLAY_PHONE, "id": context_id},
        "from": from_.lstrip("+"),
        "id": id or wamid(),
        "timestamp": str(_now()),
        "type": "button",
        "button": {"payload": payload, "text": text},
    }
    return {"messages": message, "name": name}


WA_ERROR_TITLES = {
    131050: "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages "
    "on WhatsApp from your business",
    131026: "Message undeliverable",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
}


def wa_status(
    message_id: str,
    status: Literal["sent", "delivered", "read", "failed"],
    recipient: str,
    *,
    error_code: int | None = None,
    callback_ref: str | None = None,
) -> dict[str, Any]:
    """A delivery status of one of our messages (``statuses[]`` item)."""
    item: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(_now()),
        "recipient_id": recipient.lstrip("+"),
    }
    if status in ("sent", "delivered"):
        item["conversation"] = {"id": uuid.uuid4().hex, "origin": {"type": "marketing"}}
        item["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "marketing"}
    if error_code is not None:
        title = WA_ERROR_TITLES.get(error_code, "Error")
        item["errors"] = [
            {"code": error_code, "title": title, "message": title, "error_data": {"details": title}}
        ]
    if callback_ref is not None:
        item["biz_opaque_callback_data"] = callback_ref
    return {"statuses": item}


def whatsapp_webhook(
    *items: dict[str, Any],
    app_secret: str = WA_APP_SECRET,
    phone_number_id: str = WA_PHONE_NUMBER_ID,
    signature: Signature = "valid",
) -> Webhook:
    """One notification (``object: whatsapp_business_account``) carrying ``items`` (from ``wa_text``,
    ``wa_button_reply``, ``wa_template_button``, ``wa_status``) in one ``changes[].value``."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": WA_DISPLAY_PHONE, "phone_number_id": phone_number_id},
    }
    for item in items:
        if "messages" in item:
            message = item["messages"]
            value.setdefault("messages", []).append(message)
            if item.get("name"):
                contact = {"profile": {"name": item["name"]}, "wa_id": message["from"]}
                if contact not in value.setdefault("contacts", []):
                    value["contacts"].append(contact)
        else:
            value.setdefault("statuses", []).append(item["statuses"])
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    secret = _secret(app_secret, signature)
    if secret is not None:
        headers["X-Hub-Signature-256"] = whatsapp_signature(secret, body)
    return Webhook(body, headers)


def whatsapp_handshake_query(verify_token: str = WA_VERIFY_TOKEN, challenge: str = "1158201444") -> dict:
    """The query of Meta's subscription GET."""
    return {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge}


# --- Twilio-format SMS --------------------------------------------------------------------------------


def twilio_sid(prefix: str = "SM") -> str:
    return prefix + uuid.uuid4().hex


def _twilio(
    url: str, params: Mapping[str, str], auth_token: str, signature: Signature
) -> tuple[Webhook, dict[str, str]]:
    body = urlencode(list(params.items())).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    secret = _secret(auth_token, signature)
    if secret is not None:
        headers["X-Twilio-Signature"] = twilio_signature(secret, url, params.items())
    return Webhook(body, headers), dict(params)


def twilio_inbound(
    url: str,
    *,
    from_: str,
    to: str,
    body: str,
    sid: str | None = None,
    account_sid: str = TWILIO_ACCOUNT_SID,
    auth_token: str = TWILIO_AUTH_TOKEN,
    signature: Signature = "valid",
) -> Webhook:
    """An incoming SMS as Twilio posts it to the number's webhook; signed over ``url`` (incl. query)."""
    sid = sid or twilio_sid()
    params = {
        "ToCountry": "PT",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "To": to,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "FromCountry": "PT",
        "ApiVersion": "2010-04-01",
    }
    return _twilio(url, params, auth_token, signature)[0]


def twilio_status(
    url: str,
    *,
    sid: str,
    status: Literal["queued", "sending", "sent", "delivered", "undelivered", "failed", "read"],
    to: str,
    from_: str,
    error_code: int | None = None,
    account_sid: str = TWILIO_ACCOUNT_SID,
    auth_token: str = TWILIO_AUTH_TOKEN,
    signature: Signature = "valid",
) -> Webhook:
    """A status callback to the ``StatusCallback`` URL given at send time (``url`` incl. its query)."""
    params = {
        "SmsSid": sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": to,
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": "2010-04-01",
    }
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    return _twilio(url, params, auth_token, signature)[0]


# --- Viber --------------------------------------------------------------------------------------------


def viber_token() -> int:
    """A ``message_token`` (Viber's 64-bit message id)."""
    return 5_000_000_000_000_000_000 + next(_counter) * 7919 + uuid.uuid4().int % 1_000_000


def viber_event(
    event: Literal[
        "message",
        "delivered",
        "seen",
        "failed",
        "unsubscribed",
        "subscribed",
        "conversation_started",
        "webhook",
    ],
    *,
    user_id: str = "+351912000001",
    message_token: int | None = None,
    text: str = "hello",
    tracking_data: str | None = None,
    desc: str = "failure description",
    name: str = "Ana",
    auth_token: str = VIBER_AUTH_TOKEN,
    signature: Signature = "valid",
) -> Webhook:
    """One Viber callback. ``user_id`` is the contact's Viber id (Flowgate addresses Viber contacts by
    their E.164 phone, so tests use one)."""
    token = message_token if message_token is not None else viber_token()
    payload: dict[str, Any] = {
        "event": event,
        "timestamp": int(time.time() * 1000),
        "chat_hostname": "SN-CHAT-07_",
        "message_token": token,
    }
    user = {"id": user_id, "name": name, "avatar": "", "country": "PT", "language": "pt", "api_version": 10}
    if event == "message":
        message: dict[str, Any] = {"type": "text", "text": text}
        if tracking_data is not None:
            message["tracking_data"] = tracking_data
        payload.update(sender=user, message=message, silent=False)
    elif event in ("delivered", "seen", "unsubscribed"):
        payload["user_id"] = user_id
    elif event == "failed":
        payload.update(user_id=user_id, desc=desc)
    elif event == "subscribed":
        payload["user"] = user
    elif event == "conversation_started":
        payload.update(type="open", context="", user=user, subscribed=False)
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    secret = _secret(auth_token, signature)
    if secret is not None:
        headers["X-Viber-Content-Signature"] = viber_signature(secret, body)
    return Webhook(body, headers)
