from __future__ import annotations

from piccolo.columns import JSON, BigSerial, Boolean, ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.workspaces.tables import Workspace


class Contact(Table, tablename="contacts"):
    """A person Flowgate can message. Unique per workspace per address (see the migration's indexes).

    ``phone`` is E.164 (``+351912345678``), ``email`` is lower-cased; either may be empty (NULL) but not
    both. Consent history is kept by address, not by contact, so deleting a contact keeps it.
    """

    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, index=True, null=False)
    phone = Varchar(length=20, null=True, default=None)
    email = Varchar(length=254, null=True, default=None)
    name = Varchar(length=200, default="")
    attributes = JSON(default={})
    tags = JSON(default=[])
    timezone = Varchar(length=64, null=True, default=None)
    """IANA name; NULL means the workspace's default time zone."""
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Group(Table, tablename="contact_groups"):
    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, index=True, null=False)
    name = Varchar(length=200)
    description = Varchar(length=500, default="")
    bypass_opt_out_filter = Boolean(default=False)
    """For transactional groups (seed 003): member listings skip the opt-out filter. Marketing sends
    still pass the consent gate."""
    created_at = Timestamptz(default=TimestamptzNow())


class GroupMember(Table, tablename="group_members"):
    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, null=False)
    group = ForeignKey(Group, on_delete=OnDelete.cascade, null=False)
    contact = ForeignKey(Contact, on_delete=OnDelete.cascade, index=True, null=False)
    added_at = Timestamptz(default=TimestamptzNow())
