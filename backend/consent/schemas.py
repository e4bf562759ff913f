"""Request and response bodies of the opt-out and consent-history API (paths and names: API.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta

from backend.core.schemas import Input, Output

Channel = Literal["whatsapp", "sms", "viber", "email"]
Source = Literal[
    "manual", "keyword", "web_form", "unsubscribe_link", "import", "api", "campaign_reply", "provider", "flow"
]
Scope = Literal["workspace", "sender"]
EventKind = Literal["opt_out", "extended", "opt_in"]

Address = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=320,
        description="A phone number (E.164, or national with the workspace's phone region) or an email",
    ),
]
ValidDays = Annotated[int, Meta(ge=1, le=36_500, description="Days the opt-out lasts from now")]
Remarks = Annotated[str, Meta(max_length=1000)]


class OptOutCreate(Input):
    """An opt-out entry. Without ``valid_days`` or ``valid_until`` it is permanent; an active entry for the
    same address, category and scope is extended instead: the durations add up (seed 000)."""

    channel: Channel
    address: Address
    category_id: int | None = None
    """None: all marketing."""
    sender_id: int | None = None
    """None: workspace-wide (every sender)."""
    valid_days: ValidDays | None = None
    valid_until: datetime | None = None
    """An end time with a zone offset, in the future. Give this or ``valid_days``, not both."""
    remarks: Remarks = ""


class OptOutOut(Output):
    id: int
    channel: Channel
    address: str
    category_id: int | None
    category_name: str | None
    sender_id: int | None
    sender_name: str | None
    scope: Scope
    valid_until: datetime | None
    permanent: bool
    active: bool
    """Not revoked and not expired, right now."""
    remarks: str
    source: Source
    self_service: bool
    """The person opted out themselves: only an admin with a reason may reverse it; no toggle overrides it."""
    created_by: str
    created_at: datetime
    updated_at: datetime
    revoked_at: datetime | None
    revoked_by: str
    revoke_reason: str


class CheckOut(Output):
    opted_out: bool
    """Whether a marketing message to this address (from this sender, in this category) is blocked now."""
    address: str
    """The address as entries store it (E.164, lower-case email): what an opt-out of it would record."""
    entries: list[OptOutOut]
    """The active entries that block it."""


class ConsentEventOut(Output):
    id: int
    at: datetime
    channel: Channel
    address: str
    kind: EventKind
    source: Source
    category_id: int | None
    category_name: str
    sender_id: int | None
    sender_name: str
    entry_id: int | None
    valid_until: datetime | None
    actor: str
    reason: str
    evidence: dict[str, Any]
