"""Turn a fake provider's webhook payload into the request a provider verifies and parses."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

from backend.providers.base import Outgoing, WebhookRequest
from tests.fakes.webhooks import Webhook


def webhook_request(
    hook: Webhook | None = None,
    *,
    url: str = "https://flowgate.example.com/webhooks/7",
    method: str = "POST",
    body: bytes | None = None,
) -> WebhookRequest:
    headers = {key.lower(): value for key, value in (hook.headers if hook else {}).items()}
    return WebhookRequest(
        method=method,
        url=url,
        headers=headers,
        query=dict(parse_qsl(urlsplit(url).query)),
        body=body if body is not None else (hook.body if hook else b""),
        received_at=datetime.now(UTC),
    )


def outgoing(**fields) -> Outgoing:
    values = {
        "message_id": 42,
        "channel": "whatsapp",
        "to": "+351912000001",
        "sender_address": "+351912345678",
        "kind": "marketing",
        "text": "Hello",
    }
    values.update(fields)
    return Outgoing(**values)
