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

from backend.audience.tables import Contact
from backend.senders.tables import Sender
from backend.workspaces.tables import Workspace


class Message(Table, tablename="messages"):
    """One message in either direction: the truth the queue, the reconciler and the timeline read.

    Outbound ``status``: ``queued`` → ``sending`` (claimed by a worker, ``lease_until``) → ``sent`` →
    ``delivered`` → ``read``, or ``failed`` (``failure_reason``), or ``unknown`` (the provider may have it;
    only its status callback settles it, never a blind re-send). Inbound messages are ``received``.
    A message is stored before any answer to its caller (invariant 4).
    """

    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, null=False)
    """Not indexed alone: the table's other indexes lead with it (see the messages migrations)."""
    sender = ForeignKey(Sender, on_delete=OnDelete.set_null, null=True)
    """NULL once the sender is deleted; the message stays in the contact's history."""
    contact = ForeignKey(Contact, on_delete=OnDelete.set_null, null=True)
    direction = Varchar(length=8)
    """``outbound`` or ``inbound``."""
    channel = Varchar(length=16)
    address = Varchar(length=254)
    """The contact's side: the recipient of an outbound message, the author of an inbound one (normalised)."""
    kind = Varchar(length=16, null=True, default=None)
    """Outbound: marketing · transactional · conversational. NULL for inbound."""
    category = BigInt(null=True, default=None)
    """Marketing category id (plain id: the message outlives the category)."""
    opted_in_only = Boolean(default=True)
    """The campaign toggle "send only to contacts opted in for marketing", kept so the gate's re-check
    right before the provider call applies the same rule as the check at acceptance."""
    origin = Varchar(length=24, default="api")
    """Who asked: ``api``, ``campaign``, ``flow``, ``keyword_reply``, ``help_reply``, ``provider`` (inbound)."""
    campaign_id = BigInt(null=True, default=None)
    run_id = Varchar(length=64, null=True, default=None)
    message_ref = Varchar(length=64, null=True, default=None)
    """A flow run's deterministic message id ("node#visit"): unique per run, so a retried job cannot send
    a node's message twice (invariant 3)."""
    text = Text(null=True, default=None)
    template = JSON(null=True, default=None)
    """``{name, language, params}``."""
    buttons = JSON(default=[])
    subject = Varchar(length=998, null=True, default=None)
    html = Text(null=True, default=None)
    media_url = Text(null=True, default=None)
    """A picture, video or document sent with the text (a flow step's media), by its public address."""
    button_id = Varchar(length=256, null=True, default=None)
    """Inbound: the id of the tapped button."""
    in_reply_to = BigInt(null=True, default=None)
    """Inbound: our message it answers (from the provider's context id), when known."""
    status = Varchar(length=16, default="queued")
    failure_reason = Varchar(length=32, null=True, default=None)
    error_code = Varchar(length=32, null=True, default=None)
    error_message = Text(null=True, default=None)
    provider_message_id = Varchar(length=256, null=True, default=None)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None)
    lease_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)
    delivered_at = Timestamptz(null=True, default=None)
    read_at = Timestamptz(null=True, default=None)
    failed_at = Timestamptz(null=True, default=None)


class IdempotencyKey(Table, tablename="idempotency_keys"):
    """``Idempotency-Key`` of a POST /api/v1/messages, as Stripe keeps them: 24 hours, per workspace, the
    request's fingerprint and the first answer."""

    id = BigSerial(primary_key=True)
    workspace = ForeignKey(Workspace, on_delete=OnDelete.cascade, null=False)
    key = Varchar(length=255)
    request_hash = Varchar(length=64)
    message = BigInt(null=True, default=None)
    status_code = Integer(default=201)
    response = JSON(default={})
    created_at = Timestamptz(default=TimestamptzNow())


class CampaignHold(Table, tablename="message_holds"):
    """A campaign whose messages may not leave now (paused), or ever again (ended), known by its id only.

    Holding a paused campaign's queued messages (status ``held``) is not enough: a chunk may hold some of
    them claimed (``sending``) while it waits for its sender's rate, and a retry or a rate hand-back puts
    a message back in the queue after the hold ran. The send path looks here before each send and turns
    such messages ``held`` instead; the hold goes when the campaign's messages are released or cancelled.
    """

    campaign_id = BigInt(primary_key=True)
    held_at = Timestamptz(default=TimestamptzNow())
    ended_reason = Varchar(length=64, null=True, default=None)
    """None: paused (its messages wait, ``held``). Set: the campaign ended or was deleted, and a message of
    it that a chunk still holds, or hands back, fails with this reason instead of leaving."""
