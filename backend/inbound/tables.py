from __future__ import annotations

from piccolo.columns import JSON, BigSerial, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.senders.tables import Sender
from backend.workspaces.tables import Workspace


class InboundEvent(Table, tablename="inbound_events"):
    """One event read from a verified provider webhook, stored before the webhook is acknowledged.

    Unique per ``(sender, kind, provider_event_id)``: a provider's re-delivery finds its row and is
    acknowledged without being processed twice. ``state``: ``pending`` → ``processed`` (or ``failed``
    after the worker's retries, with ``error``); the sweeper re-enqueues pending rows a lost job left.
    ``rejected`` (with ``error``): the payload is not the provider's format, so no retry can help; stored
    so, never enqueued (:mod:`backend.inbound.validation`). ``failed`` and ``rejected`` are terminal.
    """

    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, index=True, null=False)
    sender = ForeignKey(Sender, on_delete=OnDelete.cascade, null=False)
    provider = Varchar(length=32)
    kind = Varchar(length=16)
    """``message``, ``status`` or ``opt_out`` (the tag of :data:`backend.providers.base.InboundEvent`)."""
    provider_event_id = Varchar(length=256)
    payload = JSON(default={})
    """The parsed event (msgspec-encoded :data:`InboundEvent`)."""
    state = Varchar(length=16, default="pending")
    attempts = Integer(default=0)
    error = Text(default="")
    received_at = Timestamptz(default=TimestamptzNow())
    processed_at = Timestamptz(null=True, default=None)
