from __future__ import annotations

from piccolo.columns import JSON, BigSerial, ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.reference import LazyTableReference
from piccolo.table import Table


def _workspaces(table: str) -> LazyTableReference:
    """A table of the workspaces domain, named lazily: audit is written by every domain, workspaces
    included, so it must not import them (the foreign keys stay real in the database)."""
    return LazyTableReference(table_class_name=table, module_path="backend.workspaces.tables")


class AuditEvent(Table, tablename="audit_events"):
    id = BigSerial(primary_key=True)
    workspace = ForeignKey(_workspaces("Workspace"), on_delete=OnDelete.cascade, index=True, null=False)
    at = Timestamptz(default=TimestamptzNow())
    # Who: a user (UI session or CLI), or an API key; both may be gone later, the event stays.
    actor_user = ForeignKey(_workspaces("User"), on_delete=OnDelete.set_null, null=True)
    actor_credential = ForeignKey(_workspaces("Credential"), on_delete=OnDelete.set_null, null=True)
    actor_label = Varchar(length=200, default="")
    action = Varchar(length=64, index=True)
    target_type = Varchar(length=64, default="")
    target_id = Varchar(length=64, default="")
    data = JSON(default={})
