"""A correctly signed webhook whose body its provider's parser cannot read: kept, ended, acknowledged.

Answering such a webhook with a 400 made the provider re-deliver the same bytes for days (WhatsApp
retries for up to seven), and each copy failed the same way: the body is not going to change. Once the
signature has verified, the request is the provider's, so the body is stored as one ``rejected`` inbound
event of kind ``unreadable``, with the reason the parser gave, and the webhook is acknowledged the way
the provider expects. ``GET /api/v1/inbound-events?status=rejected`` is where an operator finds it, with
the body as received. A request that does not verify is still refused (401) and nothing of it is stored.

The event's id is the body's SHA-256, so a re-delivery of the same bytes finds its first copy (the
``(sender, kind, provider_event_id)`` index) instead of adding another.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Any

from backend.core.database import transaction
from backend.inbound.tables import InboundEvent
from backend.inbound.validation import MAX_REASON
from backend.providers.base import WebhookRequest

log = logging.getLogger(__name__)

KIND = "unreadable"
"""The event kind of a whole webhook that could not be read (the others are ``message``, ``status``,
``opt_out``: what a readable webhook carries)."""


def body_as_received(request: WebhookRequest) -> dict[str, Any]:
    """The body in a JSON column without losing a byte: as text when it is UTF-8 without NUL characters
    (which PostgreSQL's JSON cannot hold), else base64; with the Content-Type it came with."""
    body = request.body
    kept: dict[str, Any] = {"content_type": request.headers.get("content-type", ""), "bytes": len(body)}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text:
        kept["body"] = text
    else:
        kept["body_base64"] = base64.b64encode(body).decode("ascii")
    return kept


def reason_for(provider: str, exc: BaseException) -> str:
    """Why the body was refused, naming the provider's format and the parser's complaint."""
    return f"body: not a readable {provider} webhook: {exc}"[:MAX_REASON]


async def store_unreadable(sender: dict[str, Any], request: WebhookRequest, reason: str) -> int | None:
    """Store the verified but unreadable webhook of ``sender`` as a ``rejected`` event; its id, or None
    when the same body was stored before (a re-delivery)."""
    digest = hashlib.sha256(request.body).hexdigest()
    row = InboundEvent(
        workspace=sender["workspace"],
        sender=sender["id"],
        provider=sender["provider"],
        kind=KIND,
        provider_event_id=f"sha256:{digest}",
        payload=body_as_received(request),
        state="rejected",
        attempts=0,
        error=reason,
        received_at=request.received_at,
        processed_at=request.received_at,
    )
    async with transaction():
        inserted = await InboundEvent.insert(row).on_conflict(action="DO NOTHING").returning(InboundEvent.id)
    event_id = inserted[0]["id"] if inserted else None
    if event_id is not None:
        log.warning(
            "webhook for sender %s (%s): signed but unreadable, acknowledged and stored as rejected "
            "inbound event %s: %s",
            sender["id"],
            sender["provider"],
            event_id,
            reason,
        )
    return event_id
