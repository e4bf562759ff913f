from __future__ import annotations

from piccolo.columns import BigInt, BigSerial, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.audience.tables import Contact


class Run(Table, tablename="runs"):
    """One contact's journey through one flow version: the row the workers lock while they step it.

    ``status``: ``active`` (being stepped, or enrolled and not started yet: ``state`` NULL), ``waiting``
    (for a reply, a tap, a timer or an HTTP answer), or finished: ``completed``, ``failed``, ``expired``
    (its campaign ended first), ``interrupted`` (its campaign was deleted). A run whose step kept
    failing ends ``failed`` with ``ended_reason`` ``step_error`` (:mod:`backend.runs.poison`). ``state``
    is the interpreter's :class:`flows.run.RunState` as JSON; the columns beside it repeat what queries
    need.

    Workspace, flow, version, campaign and sender are plain ids, not foreign keys: runs are written by
    the hundred thousand, and each foreign key costs a lookup per row (on PostgreSQL a trigger with a
    row lock): four of them doubled a campaign's enrollment time. The engine treats a version or sender
    that no longer exists as what it is (the run is interrupted, or its message is not sent).
    """

    id = BigSerial(primary_key=True)
    workspace = BigInt()
    flow = BigInt()
    flow_version = BigInt()
    """The published version it runs on (its ``flow_versions`` id)."""
    campaign_id = BigInt(null=True, default=None)
    contact = ForeignKey(Contact, on_delete=OnDelete.cascade, null=False)
    """Deleting a contact deletes its runs (and their timers and inbox)."""
    sender = BigInt(null=True, default=None)
    trigger = Varchar(length=16, default="campaign")
    """``campaign``, ``keyword`` or ``api``."""
    entry = Integer(default=1)
    """The contact's n-th entry into this campaign (re-entry allowed: 2, 3, …)."""
    status = Varchar(length=16, default="active")
    current_node = Varchar(length=64, null=True, default=None)
    waiting_kind = Varchar(length=16, null=True, default=None)
    """``reply``, ``buttons``, ``timer`` or ``http`` while waiting."""
    waiting_ref = Varchar(length=64, null=True, default=None)
    """For ``buttons``: the message_ref whose buttons it waits on."""
    state = Text(null=True, default=None)
    pending_http = Text(null=True, default=None)
    """The HTTP request a run waits on (JSON), so a lost job can be issued again."""
    started_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    ended_at = Timestamptz(null=True, default=None)
    ended_reason = Varchar(length=32, default="")
    failures = Integer(default=0)
    """Attempts to step the run that failed on something other than a busy or unreachable database;
    at :data:`backend.runs.poison.MAX_FAILURES` the run ends ``failed`` (``step_error``)."""
    last_error = Text(default="")
    """The latest of those failures, as ``<exception type>: <message>``."""


class RunTimer(Table, tablename="run_timers"):
    """A wait's deadline (a delay, a reply or tap timeout): the poller moves it into the run's inbox when
    due. Stored, not scheduled in Redis, so a Redis restart loses no timer."""

    id = BigSerial(primary_key=True)
    run = ForeignKey(Run, on_delete=OnDelete.cascade, null=False)
    campaign_id = BigInt(null=True, default=None)
    timer_id = Varchar(length=96)
    fire_at = Timestamptz()


class RunEvent(Table, tablename="run_events"):
    """The run's inbox: what happened to it (a reply, a tap, a timer, a send failure, an HTTP answer).

    ``key`` is unique per run (``reply:<inbound message id>``, ``timer:<timer id>``, …): an event
    delivered twice is stored once and applied once. Events wait here while the run's campaign is
    paused, and are applied in order when it runs again.
    """

    id = BigSerial(primary_key=True)
    run = ForeignKey(Run, on_delete=OnDelete.cascade, null=False)
    campaign_id = BigInt(null=True, default=None)
    key = Varchar(length=160)
    kind = Varchar(length=16)
    event = Text()
    status = Varchar(length=12, default="pending")
    """``pending``, ``applied`` (it moved the run), ``ignored`` (the run was not waiting for it)."""
    created_at = Timestamptz(default=TimestamptzNow())
    applied_at = Timestamptz(null=True, default=None)
