"""API shapes of the messages endpoints: the send request and the message as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from backend.core.schemas import Input, Output

Kind = Literal["marketing", "transactional", "conversational"]
Status = Literal["queued", "held", "sending", "sent", "delivered", "read", "failed", "unknown", "received"]
Direction = Literal["outbound", "inbound"]
FailureReason = Literal[
    "opted_out",
    "rejected",
    "retries_exhausted",
    "sender_unavailable",
    "delivery_failed",
    "campaign_ended",
    "cancelled",
]


class TemplateIn(Input):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    language: Annotated[str, msgspec.Meta(min_length=2, max_length=15)] = "en"
    params: list[Annotated[str, msgspec.Meta(max_length=1024)]] = []


class ButtonIn(Input):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]


class MessageCreate(Input):
    """``POST /api/v1/messages``. Exactly one of ``text`` and ``template``; ``subject`` for email."""

    sender_id: int
    to: Annotated[str, msgspec.Meta(min_length=1, max_length=254)]
    kind: Kind
    category_id: int | None = None
    text: str | None = None
    template: TemplateIn | None = None
    buttons: Annotated[list[ButtonIn], msgspec.Meta(max_length=3)] | None = None
    subject: Annotated[str, msgspec.Meta(min_length=1, max_length=998)] | None = None
    html: Annotated[str, msgspec.Meta(max_length=500_000)] | None = None
    contact_id: int | None = None


class MessageOut(Output):
    id: int
    direction: Direction
    sender_id: int | None
    contact_id: int | None
    channel: str
    to: str
    """The contact's address: recipient of an outbound message, author of an inbound one."""
    kind: Kind | None
    category_id: int | None
    campaign_id: int | None
    origin: str
    text: str | None
    template: dict[str, Any] | None
    buttons: list[dict[str, Any]]
    subject: str | None
    button_id: str | None
    status: Status
    failure_reason: str | None
    error_code: str | None
    error_message: str | None
    provider_message_id: str | None
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None
    media_url: str | None = None
    """The picture, video or document a flow step sent with the text."""
