from __future__ import annotations

from piccolo.columns import (
    JSON,
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

from backend.workspaces.tables import Workspace


class WebhookEndpoint(Table, tablename="webhook_endpoints"):
    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, index=True, null=False)
    url = Varchar(length=2048)
    events = JSON(default=["*"])
    """Event types it receives (``consent.opted_out``, ``consent.opted_in``, …) or ``*``."""
    secret = Varchar(length=128)
    """``whsec_<base64>``: shown once at creation; needed here to sign."""
    enabled = Boolean(default=True)
    disabled_reason = Varchar(length=500, default="")
    description = Varchar(length=500, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class WebhookDelivery(Table, tablename="webhook_deliveries"):
    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, null=False)
    endpoint = ForeignKey(WebhookEndpoint, on_delete=OnDelete.cascade, index=True, null=False)
    message_id = Varchar(length=64)
    """The ``webhook-id`` header: the same for every attempt, so receivers can de-duplicate."""
    event_type = Varchar(length=64)
    payload = JSON(default={})
    status = Varchar(length=16, default="pending")
    """pending · succeeded · failed (gave up or endpoint disabled)"""
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None)
    last_status_code = Integer(null=True, default=None)
    last_error = Varchar(length=1000, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    delivered_at = Timestamptz(null=True, default=None)
