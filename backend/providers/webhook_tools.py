"""Small helpers the provider modules share for reading and verifying webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from backend.providers.base import MalformedWebhook


def hmac_hex_matches(secret: str, body: bytes, given: str | None, digest: Any = hashlib.sha256) -> bool:
    """Constant-time check of a hex HMAC of the raw body; False for a missing or empty signature."""
    if not given or not secret:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or :class:`MalformedWebhook`."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedWebhook(f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedWebhook("body is not a JSON object")
    return payload


def from_epoch(value: Any, *, millis: bool = False) -> datetime | None:
    """A provider's Unix timestamp (seconds, or milliseconds for Viber) as an aware UTC datetime."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if millis:
        number /= 1000
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def e164(value: Any) -> str:
    """WhatsApp's ``wa_id`` / ``recipient_id`` are digits without '+': give the pipeline E.164."""
    text = str(value).strip()
    return text if text.startswith("+") else f"+{text}"
