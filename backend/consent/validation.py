"""What an opt-out or opt-in may say, checked before anything is written (invariant 6: 400 naming the
field, nothing half-written): channels, sources, validity, remarks, and addresses as entries store them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from backend.audience.addresses import (
    CHANNELS,
    PHONE_CHANNELS,
    normalise_address,
    normalise_email,
    normalise_phone,
)
from backend.consent.tables import MarketingCategory
from backend.core.errors import InvalidInput, NotFound
from backend.senders.tables import Sender
from backend.workspaces.tables import Workspace

SOURCES = (
    "manual",
    "keyword",
    "web_form",
    "unsubscribe_link",
    "import",
    "api",
    "campaign_reply",
    "provider",
    "flow",
)
SELF_SERVICE_SOURCES = frozenset(
    {"keyword", "web_form", "unsubscribe_link", "provider", "campaign_reply", "flow"}
)
"""The person opted out themselves: no campaign toggle may override these (PRODUCT.md 5)."""
KEYWORD_SOURCES = ("keyword", "campaign_reply", "flow")
"""What an opt-in keyword (or a flow's opt-in step) may reverse: only what the person said in a
conversation, never a form, link, manual or import entry. ``flow``: an opt-out step of a chat flow,
reached by the person's own answers."""
MAX_VALID_DAYS = 36_500
MAX_REMARKS = 1000
MAX_ACTOR = 200


def now_utc() -> datetime:
    return datetime.now(UTC)


def check_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise InvalidInput("channel", f"{channel!r} is not one of {', '.join(CHANNELS)}")


def check_source(source: str) -> None:
    if source not in SOURCES:
        raise InvalidInput("source", f"{source!r} is not one of {', '.join(SOURCES)}")


def check_remarks(remarks: str, field: str = "remarks") -> str:
    if len(remarks) > MAX_REMARKS:
        raise InvalidInput(field, f"at most {MAX_REMARKS} characters")
    return remarks


def requested_extension(
    now: datetime, valid_days: int | None, valid_until: datetime | None
) -> timedelta | None:
    """The duration the caller asked for, or None when they gave none; never both (400 naming the field)."""
    if valid_days is not None and valid_until is not None:
        raise InvalidInput("valid_days", "give valid_days or valid_until, not both (neither: permanent)")
    if valid_days is not None:
        if isinstance(valid_days, bool) or not 1 <= valid_days <= MAX_VALID_DAYS:
            raise InvalidInput("valid_days", f"must be a whole number of days from 1 to {MAX_VALID_DAYS}")
        return timedelta(days=valid_days)
    if valid_until is not None:
        if valid_until.tzinfo is None:
            raise InvalidInput("valid_until", "needs a time zone offset, e.g. 2030-01-31T00:00:00Z")
        if valid_until <= now:
            raise InvalidInput("valid_until", "must be in the future (to end an opt-out, opt the address in)")
        return valid_until - now
    return None


async def workspace_settings(workspace_id: int) -> dict[str, Any]:
    """The settings an opt-out needs: the phone region and the default unsubscription duration."""
    row = (
        await Workspace.select(
            Workspace.id, Workspace.default_phone_region, Workspace.marketing_unsubscription_days
        )
        .where(Workspace.id == workspace_id)
        .first()
    )
    if row is None:
        raise NotFound("workspace", workspace_id)
    return row


async def category_of(
    workspace_id: int, category_id: int | None, field: str = "category_id", *, source: str = "body"
) -> dict[str, Any] | None:
    """The category an entry names, which must be this workspace's."""
    if category_id is None:
        return None
    row = (
        await MarketingCategory.select(
            MarketingCategory.id, MarketingCategory.name, MarketingCategory.unsubscribe_days
        )
        .where((MarketingCategory.id == category_id) & (MarketingCategory.workspace == workspace_id))
        .first()
    )
    if row is None:
        raise InvalidInput(field, f"no marketing category {category_id} in this workspace", source=source)
    return row


async def sender_of(
    workspace_id: int,
    sender_id: int | None,
    channel: str | None,
    field: str = "sender_id",
    *,
    source: str = "body",
) -> dict[str, Any] | None:
    """The sender an entry is scoped to: this workspace's, and sending on the entry's channel (otherwise
    the entry could never apply to anything)."""
    if sender_id is None:
        return None
    row = (
        await Sender.select(Sender.id, Sender.name, Sender.channel)
        .where((Sender.id == sender_id) & (Sender.workspace == workspace_id))
        .first()
    )
    if row is None:
        raise InvalidInput(field, f"no sender {sender_id} in this workspace", source=source)
    if channel is not None and row["channel"] != channel:
        raise InvalidInput(
            field,
            f"sender {sender_id} sends on {row['channel']}, so it can never send this {channel} address",
            source=source,
        )
    return row


async def phone_region(workspace_id: int) -> str:
    row = await Workspace.select(Workspace.default_phone_region).where(Workspace.id == workspace_id).first()
    return (row or {}).get("default_phone_region") or ""


async def lookup_address(
    workspace_id: int, channel: str | None, address: str, *, field: str = "address", source: str = "query"
) -> str:
    """An address as entries store it: the channel decides the kind, else an ``@`` means email.

    The workspace's phone region is read only when a phone number is written without a country code, so
    the gate's usual E.164 input costs no query here.
    """
    try:
        if channel == "email" or (channel is None and "@" in address):
            return normalise_email(address, field=field)
        if channel is not None and channel not in PHONE_CHANNELS:
            return normalise_address(channel, address, field=field)
        text = address.strip()
        region = "" if text.startswith(("+", "00")) else await phone_region(workspace_id)
        return normalise_phone(text, region, field=field)
    except InvalidInput as exc:
        for problem in exc.problems:
            problem.source = source
        raise
