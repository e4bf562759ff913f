"""Webhook signatures as each provider computes them, written from the providers' documentation and
kept apart from ``backend.providers`` on purpose: a test that signed with the code under test could pass
while both share the same bug."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def whatsapp_signature(app_secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256``: ``sha256=`` + hex HMAC-SHA256 of the raw body, keyed by the app secret."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """``X-Twilio-Signature``: base64 HMAC-SHA1 of the full URL followed by every POST parameter, sorted
    by name, each name immediately followed by its value (Twilio "Webhooks security")."""
    data = url + "".join(f"{key}{value}" for key, value in sorted(params, key=lambda item: item[0]))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def viber_signature(auth_token: str, body: bytes) -> str:
    """``X-Viber-Content-Signature``: hex HMAC-SHA256 of the raw body, keyed by the bot's auth token."""
    return hmac.new(auth_token.encode(), body, hashlib.sha256).hexdigest()
