from __future__ import annotations

from piccolo.columns import (
    BigInt,
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.audience.tables import Group
from backend.consent.tables import MarketingCategory
from backend.flows.tables import Flow, FlowVersion
from backend.senders.tables import Sender
from backend.workspaces.tables import User, Workspace


class Campaign(Table, tablename="campaigns"):
    """A flow sent to a group on a schedule (seed 001).

    ``status``: ``scheduled`` → ``running`` ⇄ ``paused`` → ``ended`` (a resumed campaign is ``scheduled``
    again until its new start). The flow version is pinned when it first starts. The scheduler fires a
    trigger at ``anchor_at + k·every`` inside ``[start_at, end_at)``; ``next_trigger_at`` is the next one.
    Group, sender and flow cannot be deleted while a campaign uses them (the foreign keys restrict).
    """

    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, index=True, null=False)
    name = Varchar(length=60)
    description = Varchar(length=90, default="")
    flow = ForeignKey(Flow, on_delete=OnDelete.restrict, null=False)
    flow_version = ForeignKey(FlowVersion, on_delete=OnDelete.restrict, null=True, default=None)
    group = ForeignKey(Group, on_delete=OnDelete.restrict, null=False)
    sender = ForeignKey(Sender, on_delete=OnDelete.restrict, null=False)
    category = ForeignKey(MarketingCategory, on_delete=OnDelete.set_null, null=True, default=None)
    kind = Varchar(length=16, default="marketing")
    start_at = Timestamptz()
    end_at = Timestamptz()
    anchor_at = Timestamptz()
    """Where the execution plan counts from: the start, or the start a resume gave."""
    every_unit = Varchar(length=8, default="day")
    every_count = Integer(default=1)
    opted_in_only = Boolean(default=True)
    allow_reentry = Boolean(default=False)
    status = Varchar(length=12, default="scheduled")
    next_trigger_at = Timestamptz(null=True, default=None)
    last_trigger_at = Timestamptz(null=True, default=None)
    triggers_fired = Integer(default=0)
    started_at = Timestamptz(null=True, default=None)
    """When it first ran (the version was pinned then)."""
    ended_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    created_by = ForeignKey(User, on_delete=OnDelete.set_null, null=True, default=None)


class CampaignTrigger(Table, tablename="campaign_triggers"):
    """One execution of a campaign's plan: enrolls the group's eligible members in keyset pages.

    ``cursor`` is the last contact id selected, committed with each page of batches, so a trigger that
    died resumes where it stopped. ``status``: ``running`` (selecting) → ``enrolled`` (every eligible
    member is in a batch) → ``done`` (every batch has started its runs); or ``stopped`` (the campaign
    ended or was deleted meanwhile).
    """

    id = BigSerial(primary_key=True)
    campaign = ForeignKey(Campaign, on_delete=OnDelete.cascade, null=False)
    slot_at = Timestamptz()
    """The plan's moment this trigger is for (a late one after downtime still names its slot)."""
    status = Varchar(length=12, default="running")
    cursor = BigInt(default=0)
    enrolled = Integer(default=0)
    """Members put in batches (eligible at selection)."""
    started_at = Timestamptz(default=TimestamptzNow())
    heartbeat_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
    enroll_ms = Integer(null=True, default=None)
    """How long selecting the eligible audience took (the benchmark's "audience build")."""


class CampaignBatch(Table, tablename="campaign_batches"):
    """Up to 500 eligible members of one trigger, started by one job: their runs are created and stepped
    in one transaction. Members are the contact ids in ``(after, last]`` still eligible when the job runs.

    Stored when the trigger selects them, so a job Redis lost is enqueued again (the sweeper), and a
    batch a paused campaign left ``pending`` runs when it resumes. Done batches stay until the trigger is
    done, as its progress.
    """

    id = BigSerial(primary_key=True)
    trigger = ForeignKey(CampaignTrigger, on_delete=OnDelete.cascade, null=False)
    campaign_id = BigInt()
    after = BigInt()
    last = BigInt()
    size = Integer()
    status = Varchar(length=12, default="pending")
    """``pending`` → ``done``."""
    started = Integer(default=0)
    """Runs the batch created."""
    created_at = Timestamptz(default=TimestamptzNow())
    done_at = Timestamptz(null=True, default=None)


class CampaignStat(Table, tablename="campaign_stats"):
    """One live counter of a campaign, kept up to date in the transactions that change runs and messages.

    ``node`` is ``""`` for the campaign's totals, a node id, ``edge:<node>:<port>`` for a path between
    nodes, or ``minute:<YYYY-MM-DDTHH:MM>`` for messages per minute. ``metric`` is what is counted
    (``entered``, ``sent``, ``failed:<reason>``, …); gauges such as ``waiting`` go up and down.
    """

    id = BigSerial(primary_key=True)
    campaign = BigInt()
    """The campaign's id, not a foreign key: a send settled after its campaign was deleted still counts
    (nowhere) instead of failing the send path's transaction; deleting a campaign deletes its counters."""
    node = Varchar(length=100, default="")
    metric = Varchar(length=64)
    value = BigInt(default=0)
