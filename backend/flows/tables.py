from __future__ import annotations

from piccolo.columns import JSON, BigSerial, ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.workspaces.tables import User, Workspace


class Flow(Table, tablename="flows"):
    """A flow's editable draft. ``revision`` grows with every save (optimistic concurrency)."""

    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, index=True, null=False)
    name = Varchar(length=200)
    draft = JSON(default={})
    revision = Integer(default=1)
    latest_version = Integer(null=True, default=None)
    published_revision = Integer(null=True, default=None)
    """A draft revision known to hold the latest version's graph (set by publishing, and by a save that
    brings the draft back to that graph): tells 'published' from 'draft ahead'."""
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    created_by = ForeignKey(User, on_delete=OnDelete.set_null, null=True)


class FlowVersion(Table, tablename="flow_versions"):
    """An immutable published snapshot. Campaigns pin one; runs finish on the version they started on."""

    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, index=True, null=False)
    flow = ForeignKey(Flow, on_delete=OnDelete.cascade, index=True, null=False)
    number = Integer()
    graph = JSON(default={})
    trigger = Varchar(length=16, default="manual")
    """The start node's trigger (manual, keyword, api): campaigns take only manually triggered flows."""
    published_at = Timestamptz(default=TimestamptzNow())
    published_by = Varchar(length=200, default="")
