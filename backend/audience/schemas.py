"""Request and response bodies of the contacts and groups API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, UnsetType

from backend.consent.schemas import OptOutOut
from backend.core.schemas import Input, Output

Channel = Literal["whatsapp", "sms", "viber", "email"]
Attributes = Annotated[
    dict[str, Any],
    Meta(
        description="Free attributes for personalisation: keys like identifiers (letters, digits, "
        "underscores; at most 64), values JSON scalars or lists of scalars."
    ),
]
Phone = Annotated[
    str,
    Meta(
        max_length=40,
        description="Any common format; stored as E.164. Without +country code, the workspace's "
        "default_phone_region is used.",
    ),
]
Email = Annotated[str, Meta(max_length=254, description="Stored lower-cased.")]
Name = Annotated[str, Meta(max_length=200)]
Tags = Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=50)]
TimeZone = Annotated[str, Meta(max_length=64, description="IANA name, e.g. Europe/Lisbon")]
GroupName = Annotated[str, Meta(min_length=1, max_length=200)]
Description = Annotated[str, Meta(max_length=500)]
ContactIds = Annotated[list[int], Meta(min_length=1, max_length=10_000)]


class ContactCreate(Input):
    """At least one of ``phone`` and ``email``."""

    phone: Phone | None = None
    email: Email | None = None
    name: Name = ""
    attributes: Attributes = {}
    tags: Tags = []
    timezone: TimeZone | None = None
    """Null: the workspace's time zone applies."""


class ContactPatch(Input):
    """Fields left out keep their value; ``attributes`` and ``tags`` are replaced whole."""

    phone: Phone | UnsetType | None = UNSET
    email: Email | UnsetType | None = UNSET
    name: Name | UnsetType = UNSET
    attributes: Attributes | UnsetType = UNSET
    tags: Tags | UnsetType = UNSET
    timezone: TimeZone | UnsetType | None = UNSET


class GroupRef(Output):
    id: int
    name: str


class ContactOut(Output):
    id: int
    phone: str | None
    email: str | None
    name: str
    attributes: dict[str, Any]
    tags: list[str]
    timezone: str | None
    created_at: datetime
    updated_at: datetime
    opt_outs: list[OptOutOut] | UnsetType = UNSET
    """With ``include=opt_outs`` only: the active opt-out entries of the contact's phone and email."""
    groups: list[GroupRef] | UnsetType = UNSET
    """With ``include=groups`` only: the groups the contact belongs to."""


class GroupCreate(Input):
    name: GroupName
    description: Description = ""
    bypass_opt_out_filter: bool = False
    """For transactional use: member listings skip the opt-out filter. Marketing messages are still
    checked by the consent gate when they are sent."""


class GroupPatch(Input):
    name: GroupName | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    bypass_opt_out_filter: bool | UnsetType = UNSET


class GroupOut(Output):
    id: int
    name: str
    description: str
    bypass_opt_out_filter: bool
    member_count: int
    created_at: datetime


class MembersIn(Input):
    contact_ids: ContactIds
    """Up to 10,000 contact ids of this workspace."""


class MembersAdded(Output):
    group_id: int
    requested: int
    """Distinct ids in the request."""
    added: int
    already_members: int
    member_count: int


class MembersRemoved(Output):
    group_id: int
    requested: int
    removed: int
    not_members: int
    member_count: int


class MemberPage(Output):
    items: list[ContactOut]
    opt_out_filter_applied: bool
    """False when no filter was asked for, or the group bypasses the opt-out filter."""
    next_cursor: str | None = None


class Excluded(Output):
    opted_out: int
    """Members with an address on the channel whose opt-out applies."""
    no_address: int
    """Members without an address on the channel (no phone for whatsapp/sms/viber, no email)."""


class AudienceOut(Output):
    group_id: int
    channel: Channel
    sender_id: int | None
    category_id: int | None
    opted_in_only: bool
    members: int
    eligible: int
    """Members who would get a marketing message: ``members - excluded.opted_out - excluded.no_address``."""
    excluded: Excluded
    opt_out_filter_applied: bool
    """False for a group that bypasses the opt-out filter (its opted-out members count as eligible
    here; the consent gate still stops marketing messages to them at send time)."""
