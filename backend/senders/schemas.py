"""Request and response bodies of the senders API (paths and the listed field names are in API.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, UnsetType, field

from backend.core.schemas import Input, Output
from backend.senders.tables import DEFAULT_HELP_KEYWORDS, DEFAULT_OPT_IN_KEYWORDS, DEFAULT_OPT_OUT_KEYWORDS

Channel = Literal["whatsapp", "sms", "viber", "email"]
Provider = Literal["whatsapp_cloud", "sms_http", "viber", "smtp", "sandbox"]
Scope = Literal["sender", "workspace"]

SenderName = Annotated[str, Meta(min_length=1, max_length=200)]
Address = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=254,
        description="E.164 phone for whatsapp/sms (the workspace's default region reads local numbers), "
        "the account name for viber, the From address for email.",
    ),
]
Keywords = Annotated[
    list[Annotated[str, Meta(max_length=200)]],
    Meta(max_length=50, description="Each 1-50 characters after trimming; matched ignoring case."),
]
Reply = Annotated[str, Meta(max_length=1600)]
RateLimit = Annotated[int, Meta(ge=1, le=1000, description="Messages per second this sender may send.")]
ConfigIn = Annotated[
    dict[str, Any],
    Meta(description="Provider settings; secrets are accepted here and never shown again."),
]


class SenderCreate(Input):
    name: SenderName
    channel: Channel
    provider: Provider
    address: Address
    config: ConfigIn = {}
    opt_out_keywords: Keywords = field(default_factory=lambda: list(DEFAULT_OPT_OUT_KEYWORDS))
    opt_in_keywords: Keywords = field(default_factory=lambda: list(DEFAULT_OPT_IN_KEYWORDS))
    help_keywords: Keywords = field(default_factory=lambda: list(DEFAULT_HELP_KEYWORDS))
    help_reply: Reply = ""
    opt_out_scope: Scope = "sender"
    """``sender``: a keyword opt-out blocks this sender only; ``workspace``: every sender (seed 004)."""
    confirmation_message: Reply = ""
    """Sent after a keyword opt-out; empty: none."""
    opt_in_confirmation_message: Reply = ""
    rate_limit_per_second: RateLimit | None = None
    """Left out: the channel's default (80 for WhatsApp)."""


class SenderPatch(Input):
    """Fields left out keep their value. ``config`` merges: secrets left out stay, a key set to null is
    cleared. Changing ``provider`` replaces the settings, so send the new provider's ``config`` too."""

    name: SenderName | UnsetType = UNSET
    channel: Channel | UnsetType = UNSET
    """Accepted only unchanged: a sender never moves to another channel."""
    provider: Provider | UnsetType = UNSET
    address: Address | UnsetType = UNSET
    config: dict[str, Any] | UnsetType = UNSET
    opt_out_keywords: Keywords | UnsetType = UNSET
    opt_in_keywords: Keywords | UnsetType = UNSET
    help_keywords: Keywords | UnsetType = UNSET
    help_reply: Reply | UnsetType = UNSET
    opt_out_scope: Scope | UnsetType = UNSET
    confirmation_message: Reply | UnsetType = UNSET
    opt_in_confirmation_message: Reply | UnsetType = UNSET
    rate_limit_per_second: RateLimit | UnsetType = UNSET


class SenderOut(Output):
    id: int
    name: str
    channel: Channel
    provider: Provider
    address: str
    config: dict[str, Any]
    """The provider settings without their secrets."""
    secrets_set: list[str]
    """Names of the secret settings that hold a value."""
    opt_out_keywords: list[str]
    opt_in_keywords: list[str]
    help_keywords: list[str]
    help_reply: str
    opt_out_scope: Scope
    confirmation_message: str
    opt_in_confirmation_message: str
    rate_limit_per_second: int
    webhook_url: str | None
    """Where the provider sends inbound messages and delivery statuses (``/webhooks/{id}`` on the public
    URL); null for providers that call none (SMTP, the sandbox)."""
    created_at: datetime
    updated_at: datetime
