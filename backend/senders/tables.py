from __future__ import annotations

from piccolo.columns import JSON, BigSerial, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.workspaces.tables import Workspace

DEFAULT_OPT_OUT_KEYWORDS = ["STOP", "UNSUBSCRIBE"]
DEFAULT_OPT_IN_KEYWORDS = ["START"]
DEFAULT_HELP_KEYWORDS = ["HELP", "INFO"]


class Sender(Table, tablename="senders"):
    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, index=True, null=False)
    name = Varchar(length=200)
    channel = Varchar(length=16)
    """whatsapp · sms · viber · email"""
    provider = Varchar(length=32)
    """whatsapp_cloud · sms_http · viber · smtp · sandbox"""
    address = Varchar(length=254)
    """E.164 phone for whatsapp/sms, the account name for viber, the From address for email."""
    config = JSON(default={})
    """Provider settings, secrets included; the API never returns the secret fields."""
    opt_out_keywords = JSON(default=DEFAULT_OPT_OUT_KEYWORDS)
    opt_in_keywords = JSON(default=DEFAULT_OPT_IN_KEYWORDS)
    help_keywords = JSON(default=DEFAULT_HELP_KEYWORDS)
    help_reply = Text(default="")
    opt_out_scope = Varchar(length=16, default="sender")
    """``sender``: a keyword opt-out blocks this sender only; ``workspace``: every sender (seed 004)."""
    confirmation_message = Text(default="")
    """Sent (transactional) after a keyword opt-out; empty: no confirmation."""
    opt_in_confirmation_message = Text(default="")
    rate_limit_per_second = Integer(default=80)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
