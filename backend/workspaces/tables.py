"""Tables of the workspace domain. Every other domain's rows hang off a workspace."""

from __future__ import annotations

from piccolo.columns import (
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

from backend.workspaces.roles import CredentialKind, Role

DEFAULT_MARKETING_UNSUBSCRIPTION_DAYS = 30


class Workspace(Table, tablename="workspaces"):
    id = BigSerial(primary_key=True)
    name = Varchar(length=100)
    created_at = Timestamptz(default=TimestamptzNow())
    # Settings (one row per workspace, so they live here rather than in a key-value table).
    marketing_unsubscription_days = Integer(default=DEFAULT_MARKETING_UNSUBSCRIPTION_DAYS)
    # Outbound HTTP (flow HTTP requests, webhooks) to loopback/private/link-local addresses is refused
    # unless an admin allows it, e.g. for an on-premises CRM or a test setup.
    allow_private_urls = Boolean(default=False)
    default_phone_region = Varchar(length=2, default="")
    """ISO 3166 country (``PT``) for phone numbers written without +country code; empty: require E.164."""
    timezone = Varchar(length=64, default="UTC")
    """For contacts without their own time zone (delays until a time of day, schedules)."""


class User(Table, tablename="users"):
    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, index=True, null=False)
    # One account per email across the deployment, so logging in needs no workspace name.
    email = Varchar(length=254, unique=True)
    name = Varchar(length=100, default="")
    password_hash = Varchar(length=255)
    role = Varchar(length=16, choices=Role, default=Role.marketer.value)
    created_at = Timestamptz(default=TimestamptzNow())


class Credential(Table, tablename="credentials"):
    """A bearer token: an API key or a login session. Only its hash is stored."""

    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, index=True, null=False)
    kind = Varchar(length=16, choices=CredentialKind)
    name = Varchar(length=100, default="")
    role = Varchar(length=16, choices=Role)
    # The user a session belongs to, or the admin who made an API key.
    user = ForeignKey(User, on_delete=OnDelete.cascade, null=True, index=True)
    lookup = Varchar(length=24, unique=True)
    token_hash = Varchar(length=64)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)
