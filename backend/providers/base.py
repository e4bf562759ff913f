"""The provider interface every channel implements, and the plain values that cross it.

A provider is built per sender (its decoded config, the process's shared HTTP client) and does three
things: :meth:`Provider.send` one message and classify the answer; :meth:`Provider.verify` a webhook
request (fail closed); :meth:`Provider.parse` a verified webhook into events. Storage, consent, retries
and rate limits live outside (``backend.messages``, ``backend.inbound``), so a provider module stays
small enough to read against the provider's own documentation.

The classification of a send is what keeps invariant 3 (at most once):

- ``accepted``: the provider took it (``provider_message_id`` set).
- ``retry``: it certainly did not take it (429, 5xx before acceptance, connection refused, a connect or
  pool timeout): safe to send again, after ``retry_after`` when the provider said so.
- ``rejected``: a definite no (4xx, invalid number, 131050 / 21610 opted out): never retried.
- ``unknown``: the request may have reached the provider but no answer came (read timeout, connection
  dropped after writing): never re-sent blindly; status webhooks reconcile it through ``callback_ref``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol
from urllib.parse import urlsplit

import msgspec

SendOutcome = Literal["accepted", "retry", "rejected", "unknown"]
DeliveryStatus = Literal["sent", "delivered", "read", "failed"]


class Button(msgspec.Struct, frozen=True):
    """A quick-reply button: ``id`` comes back in the contact's tap (WhatsApp interactive reply id)."""

    id: str
    title: str


class Template(msgspec.Struct, frozen=True):
    """A pre-approved template (WhatsApp) by name, language and body parameters in order."""

    name: str
    language: str = "en"
    params: list[str] = []


class Outgoing(msgspec.Struct, frozen=True, kw_only=True):
    """One message as a provider sends it; addresses already normalised (E.164 or lower-case email)."""

    message_id: int
    """Flowgate's id. Providers pass it as ``callback_ref`` wherever the wire format echoes a reference
    back in status callbacks (WhatsApp ``biz_opaque_callback_data``, the SMS status callback URL)."""
    channel: str
    to: str
    sender_address: str
    kind: str
    """marketing · transactional · conversational (the email provider adds List-Unsubscribe for marketing)."""
    text: str | None = None
    template: Template | None = None
    buttons: list[Button] = []
    subject: str | None = None
    """Email only."""
    html: str | None = None
    """Email only; ``text`` is the plain-text alternative."""
    media_url: str | None = None
    """A picture, video or document to send with the text (WhatsApp, Viber, email), by its public URL."""
    unsubscribe_url: str | None = None
    """Email marketing: the RFC 8058 one-click URL for List-Unsubscribe."""
    status_callback_url: str | None = None
    """Where the provider should post delivery statuses (SMS: Twilio's ``StatusCallback``)."""
    reply_to_provider_id: str | None = None
    """The provider's id of the message this one answers (WhatsApp ``context``), if any."""

    @property
    def callback_ref(self) -> str:
        return str(self.message_id)


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    outcome: SendOutcome
    provider_message_id: str | None = None
    error_code: str | None = None
    """The provider's own code as text ("131050", "21610", "429")."""
    error_message: str | None = None
    retry_after: float | None = None
    """Seconds the provider asked us to wait (Retry-After), for ``retry``."""
    opted_out: bool = False
    """The provider refused because the contact opted out with it (131050, 21610): record an opt-out."""


class WebhookRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A provider's callback exactly as received: verify signatures over ``body`` bytes, never re-encoded."""

    method: str
    url: str
    """The URL the provider called: the configured public URL where the sender has one (Twilio signs it),
    otherwise the URL as received."""
    headers: dict[str, str]
    """Lower-cased names."""
    query: dict[str, str]
    body: bytes
    received_at: datetime


class WebhookReply(msgspec.Struct, frozen=True):
    """What to answer the provider: status, media type and body."""

    status_code: int = 200
    media_type: str = "text/plain"
    body: str = ""


class InboundMessage(msgspec.Struct, frozen=True, kw_only=True, tag="message"):
    """The contact wrote or tapped a button."""

    provider_event_id: str
    """The provider's message id: the de-duplication key (deliveries are at-least-once)."""
    from_address: str
    """As the provider gives it; the inbound pipeline normalises it for the sender's channel."""
    text: str | None = None
    button_id: str | None = None
    button_title: str | None = None
    context_provider_message_id: str | None = None
    """The provider id of our message this one replies to (a tapped button's message)."""
    profile_name: str | None = None
    timestamp: datetime | None = None


class StatusUpdate(msgspec.Struct, frozen=True, kw_only=True, tag="status"):
    """The provider reports what became of one of our messages."""

    provider_event_id: str
    """Unique per status event (e.g. ``<message id>:<status>``), for de-duplication."""
    provider_message_id: str | None
    callback_ref: str | None = None
    """Flowgate's message id when the provider echoed it (reconciles ``unknown`` sends)."""
    status: DeliveryStatus
    error_code: str | None = None
    error_message: str | None = None
    opted_out: bool = False
    """A failure that means the contact opted out with the provider (131050)."""
    recipient: str | None = None
    timestamp: datetime | None = None


class ProviderOptOut(msgspec.Struct, frozen=True, kw_only=True, tag="opt_out"):
    """The contact unsubscribed or blocked us at the provider (Viber ``unsubscribed``)."""

    provider_event_id: str
    from_address: str
    reason: str
    timestamp: datetime | None = None


InboundEvent = InboundMessage | StatusUpdate | ProviderOptOut


class Provider(Protocol):
    """One sender's connection to its provider. Implementations: one module each in this package."""

    name: ClassVar[str]

    async def send(self, message: Outgoing) -> SendResult:
        """Send and classify; never raises for a provider's answer or a network failure."""
        ...

    def handshake(self, request: WebhookRequest) -> WebhookReply | None:
        """Answer a subscription handshake (WhatsApp's GET with ``hub.challenge``); None: not one."""
        ...

    def verify(self, request: WebhookRequest) -> bool:
        """Whether the request is signed by the provider: constant-time compare, False when unsure."""
        ...

    def parse(self, request: WebhookRequest) -> list[InboundEvent]:
        """The events of a verified request; raises :class:`MalformedWebhook` for a body it cannot read."""
        ...

    def acknowledge(self) -> WebhookReply:
        """What to answer a verified, stored webhook (Twilio wants TwiML or an empty 200)."""
        ...

    async def aclose(self) -> None:
        """Release what the provider holds beyond the shared client (SMTP connections)."""
        ...


class WithoutWebhooks:
    """The webhook half of :class:`Provider` for providers that receive none (SMTP; the sandbox, whose
    replies come through the authenticated sandbox endpoint): no handshake, nothing ever verifies, so
    ``/webhooks/{sender_id}`` refuses every request for them."""

    def handshake(self, request: WebhookRequest) -> WebhookReply | None:
        return None

    def verify(self, request: WebhookRequest) -> bool:
        return False

    def parse(self, request: WebhookRequest) -> list[InboundEvent]:
        return []

    def acknowledge(self) -> WebhookReply:
        return WebhookReply(200)


class MalformedWebhook(ValueError):
    """A verified webhook whose body does not read as the provider's format."""


def header(headers: dict[str, Any], name: str) -> str | None:
    value = headers.get(name.lower())
    return None if value is None else str(value)


VIDEO_SUFFIXES = (".mp4", ".3gp", ".mov")
DOCUMENT_SUFFIXES = (".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".txt", ".csv", ".zip")


def media_kind(url: str) -> str:
    """``image``, ``video`` or ``document``, from the URL's path (a link with no telling suffix is taken
    for a picture, the usual case of a marketing step's media)."""
    path = urlsplit(url).path.lower()
    if path.endswith(VIDEO_SUFFIXES):
        return "video"
    if path.endswith(DOCUMENT_SUFFIXES):
        return "document"
    return "image"
