"""API shapes of campaigns: the form (create and modify), the campaign, its audience, stats and report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from backend.core.schemas import Input, Output

Kind = Literal["marketing", "transactional"]
Status = Literal["scheduled", "running", "paused", "ended"]
Unit = Literal["minute", "hour", "day"]
Moment = Annotated[
    datetime, Meta(tz=True, description="ISO 8601 with a time zone, e.g. 2026-12-09T09:00:00Z")
]
Name = Annotated[str, Meta(min_length=1, max_length=60)]
Description = Annotated[str, Meta(max_length=90)]
Id = Annotated[int, Meta(ge=1, le=2**63 - 1)]


class Every(Input, kw_only=True):
    """The execution plan: a trigger every ``count`` minutes, hours or days."""

    unit: Unit
    count: Annotated[int, Meta(ge=1, le=100_000)] = 1


class CampaignCreate(Input, kw_only=True):
    name: Name
    description: Description = ""
    flow_id: Id
    group_id: Id
    sender_id: Id
    category_id: Id | None = None
    kind: Kind = "marketing"
    start_at: Moment
    end_at: Moment
    every: Every
    opted_in_only: bool = True
    """Send only to contacts opted in for marketing (seed 002). Off needs ``confirm_include_opted_out``."""
    allow_reentry: bool = False
    confirm_include_opted_out: bool = False
    """Must be true to turn ``opted_in_only`` off: contacts an admin or an import marked as not consenting
    will get marketing (contacts who opted out themselves never do), and the sender's quality rating may
    suffer."""


class CampaignPatch(Input, kw_only=True):
    """Only scheduled and paused campaigns can be modified; absent fields stay as they are."""

    name: Name | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    flow_id: Id | UnsetType = UNSET
    group_id: Id | UnsetType = UNSET
    sender_id: Id | UnsetType = UNSET
    category_id: Id | UnsetType | None = UNSET
    kind: Kind | UnsetType = UNSET
    start_at: Moment | UnsetType = UNSET
    end_at: Moment | UnsetType = UNSET
    every: Every | UnsetType = UNSET
    opted_in_only: bool | UnsetType = UNSET
    allow_reentry: bool | UnsetType = UNSET
    confirm_include_opted_out: bool = False


class ResumeIn(Input, kw_only=True):
    start_at: Moment
    """When it runs again: later than now and earlier than its end."""


class EveryOut(Output):
    unit: Unit
    count: int


class CampaignOut(Output):
    id: int
    name: str
    description: str
    flow_id: int
    flow_version: int | None
    """The pinned version's number, once the campaign has started."""
    group_id: int
    sender_id: int
    channel: str
    category_id: int | None
    kind: Kind
    start_at: datetime
    end_at: datetime
    every: EveryOut
    plan: str
    """The plan in words: "every 2 hours from 9 Dec 09:00 to 16 Dec 18:00 (UTC), 85 triggers"."""
    planned_triggers: int
    opted_in_only: bool
    allow_reentry: bool
    status: Status
    next_trigger_at: datetime | None
    last_trigger_at: datetime | None
    triggers_fired: int
    started_at: datetime | None
    ended_at: datetime | None
    created_at: datetime
    updated_at: datetime


class Excluded(Output):
    opted_out: int
    no_address: int
    already_entered: int


class AudienceOut(Output):
    campaign_id: int
    group_id: int
    channel: str
    members: int
    eligible: int
    excluded: Excluded
    opt_out_filter_applied: bool
    """False for a transactional campaign on a group flagged ``bypass_opt_out_filter`` (seed 003)."""


class CampaignPreviewIn(Input, kw_only=True):
    """The campaign form as filled in so far (nothing is required): the preview answers for the parts that
    are there. ``campaign_id`` names the campaign being modified, whose runs then count as already
    entered; without it nobody has entered yet."""

    campaign_id: Id | None = None
    group_id: Id | None = None
    sender_id: Id | None = None
    category_id: Id | None = None
    kind: Kind = "marketing"
    opted_in_only: bool = True
    allow_reentry: bool = False
    start_at: Moment | None = None
    end_at: Moment | None = None
    every: Every | None = None


class PreviewAudienceOut(Output):
    """:class:`AudienceOut` of a campaign that is not saved (so it has no ``campaign_id``)."""

    group_id: int
    channel: str
    members: int
    eligible: int
    excluded: Excluded
    opt_out_filter_applied: bool


class FormProblem(Output):
    field: str
    message: str


class CampaignPreviewOut(Output):
    plan: str | None
    """As ``CampaignOut.plan``; null until ``start_at``, ``end_at`` and ``every`` are given and valid."""
    planned_triggers: int | None
    audience: PreviewAudienceOut | None
    """Null until ``group_id`` and ``sender_id`` are given and found (with the category and campaign)."""
    errors: list[FormProblem]
    """What keeps a part from being answered, by field: a reference this workspace does not hold, or a
    period that ends before it starts. Empty when every part given could be answered."""


class StatsOut(Output):
    campaign_id: int
    status: Status
    flow_version: int | None
    totals: dict[str, int]
    """entered, active, waiting, completed, failed_runs, expired, interrupted, sent, delivered, read,
    failed, replied, opted_out, and the messages' failures per reason as ``failed:<reason>``."""
    nodes: dict[str, dict[str, int]]
    """Per node: entered, waiting (now), sent, delivered, read, failed, replied, opted_out, ``failed:<reason>``."""
    edges: list[dict[str, Any]]
    """``{source, port, target, count}``: how many runs took each path."""
    failures: dict[str, int]
    """Failed messages per reason."""
    per_minute: list[dict[str, Any]]
    """``{minute, sent}`` for the last hour with sends, oldest first."""
    updated_at: datetime


class MessageOutcome(Output):
    message_id: int
    node_id: str
    status: str
    failure_reason: str | None
    error_code: str | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None


class ReportRow(Output):
    run_id: int
    contact_id: int
    name: str
    address: str | None
    entry: int
    run_status: str
    last_node: str | None
    ended_reason: str
    started_at: datetime
    ended_at: datetime | None
    messages: list[MessageOutcome]


class TicketOut(Output):
    ticket: str
    expires_in: int
    url: str
    """The WebSocket path with the ticket: connect within ``expires_in`` seconds; it works once."""


def encode(value: Any) -> Any:
    return msgspec.to_builtins(value)
