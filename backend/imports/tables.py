from __future__ import annotations

from piccolo.columns import JSON, BigSerial, Bytea, ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.workspaces.tables import Workspace


class Import(Table, tablename="imports"):
    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, index=True, null=False)
    kind = Varchar(length=32)
    """What the rows are: ``contacts`` or ``optouts``."""
    status = Varchar(length=16, default="queued")
    """queued → running → completed | failed (``failed``: the file was rejected; nothing was applied)."""
    filename = Varchar(length=255, default="")
    size_bytes = Integer(default=0)
    options = JSON(default={})
    """Kind-specific: e.g. ``group_id`` for contacts, ``sender_mapping`` for opt-outs, ``on_error``."""
    total_rows = Integer(default=0)
    processed_rows = Integer(default=0)
    created_count = Integer(default=0)
    updated_count = Integer(default=0)
    skipped_count = Integer(default=0)
    error_count = Integer(default=0)
    errors = JSON(default=[])
    """The first errors as ``{row, column, message}`` (row 1 is the first data row after the header)."""
    failure = Varchar(length=1000, default="")
    """Why the whole file was rejected, when it was."""
    created_by = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)


class ImportChunk(Table, tablename="import_chunks"):
    """The uploaded file in order, in pieces of at most 1 MiB, so neither the api nor the worker holds it whole."""

    id = BigSerial(primary_key=True)
    upload = ForeignKey(Import, on_delete=OnDelete.cascade, index=True, null=False)
    seq = Integer()
    data = Bytea()
