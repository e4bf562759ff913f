"""Request and response bodies of the webhooks API. The signing secret appears in one body only:
:class:`WebhookCreated`, the answer to the POST that made it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, field

from backend.core.schemas import Input, Output

EVENT_TYPES = ("consent.opted_out", "consent.opted_in")
"""What a workspace can subscribe to; ``*`` means every event, including types added later."""

EventName = Literal["consent.opted_out", "consent.opted_in", "*"]
DeliveryStatus = Literal["pending", "succeeded", "failed"]


class WebhookCreate(Input):
    url: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=2048,
            description="http(s) URL that receives signed POSTs. Use https in production: http is "
            "accepted for on-premises receivers, but then the payload travels in clear.",
        ),
    ]
    events: Annotated[list[EventName], Meta(min_length=1, max_length=8)] = field(
        default_factory=lambda: ["*"]
    )
    """Event types to receive, or ``["*"]`` for all."""
    description: Annotated[str, Meta(max_length=500)] = ""


class WebhookOut(Output):
    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str
    """Why delivery stopped (the receiver answered 410 Gone); empty while enabled."""
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str
    """``whsec_…``: verify signatures with it. Shown in this response only; store it now."""


class DeliveryOut(Output):
    id: int
    endpoint_id: int
    message_id: str
    """The ``webhook-id`` header, the same on every attempt: receivers de-duplicate on it."""
    event_type: str
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
