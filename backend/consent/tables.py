from __future__ import annotations

from piccolo.columns import (
    JSON,
    BigInt,
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.senders.tables import Sender
from backend.workspaces.tables import Workspace


class MarketingCategory(Table, tablename="marketing_categories"):
    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, index=True, null=False)
    name = Varchar(length=100)
    description = Varchar(length=500, default="")
    unsubscribe_days = Integer(default=30)
    """How long an opt-out from a reply to a campaign of this category lasts (seed 000)."""
    created_at = Timestamptz(default=TimestamptzNow())


class OptOutEntry(Table, tablename="opt_out_entries"):
    """One row of the unsubscription list: the current state, kept in step with the consent events.

    Active when ``revoked_at`` is NULL and ``valid_until`` is NULL (permanent) or in the future. Scope:
    ``sender`` NULL means workspace-wide. ``category`` NULL means all marketing. The consent gate reads
    this table through the index on (workspace, channel, address).
    """

    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, null=False)
    channel = Varchar(length=16)
    address = Varchar(length=254)
    category = ForeignKey(MarketingCategory, on_delete=OnDelete.cascade, null=True, default=None)
    sender = ForeignKey(Sender, on_delete=OnDelete.cascade, null=True, default=None)
    valid_until = Timestamptz(null=True, default=None)
    remarks = Varchar(length=1000, default="")
    source = Varchar(length=32)
    """manual · keyword · web_form · unsubscribe_link · import · api · campaign_reply · provider"""
    self_service = Boolean(default=False)
    """The person opted out themselves (keyword, web form, link, provider signal): no toggle overrides it."""
    created_by = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    revoked_at = Timestamptz(null=True, default=None)
    revoked_by = Varchar(length=200, default="")
    revoke_reason = Varchar(length=1000, default="")


class ConsentEvent(Table, tablename="consent_events"):
    """Append-only history of opt-outs and opt-ins by address; never updated, never deleted with a contact."""

    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, null=False)
    at = Timestamptz(default=TimestamptzNow())
    channel = Varchar(length=16)
    address = Varchar(length=254)
    kind = Varchar(length=16)
    """opt_out · opt_in · extended (a manual entry's validity added to an active one)"""
    source = Varchar(length=32)
    category_id = BigInt(null=True, default=None)
    category_name = Varchar(length=100, default="")
    sender_id = BigInt(null=True, default=None)
    sender_name = Varchar(length=200, default="")
    entry_id = BigInt(null=True, default=None)
    valid_until = Timestamptz(null=True, default=None)
    actor = Varchar(length=200, default="")
    reason = Text(default="")
    evidence = JSON(default={})
    """What proves it: raw keyword text, provider message id, IP and user agent, form data, token."""
