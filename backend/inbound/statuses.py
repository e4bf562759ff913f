"""Delivery statuses onto our outbound messages: which message, and which transitions are allowed.

Providers send statuses at least once and out of order (a ``read`` may overtake its ``delivered``), so a
status only ever moves a message forward: queued/sending/unknown → sent → delivered → read. ``failed``
is accepted until the message was delivered (a carrier may fail an accepted SMS), never after; and a
failed message stays failed. Timestamps are filled in even when the status itself does not move (a late
``delivered`` still records when it was delivered).

A status finds its message by the provider's message id on that sender, or else by the callback
reference (our message id) the provider echoed, which settles sends whose answer was lost (``unknown``),
but only for a message of the same workspace and sender, so a forged reference cannot touch another
tenant's message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.core.database import locked
from backend.messages.observers import StatusChange
from backend.messages.tables import Message
from backend.providers.base import StatusUpdate

_RANK = {"queued": 0, "sending": 0, "unknown": 0, "sent": 1, "delivered": 2, "read": 3}
_STAMP = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at", "failed": "failed_at"}
FAILED_AFTER_RANK = 1
"""``failed`` may follow ``sent`` (rank 1) but not ``delivered`` or ``read``."""
DELIVERY_FAILED = "delivery_failed"
OPTED_OUT = "opted_out"


async def find_message(sender: dict[str, Any], update: StatusUpdate) -> dict[str, Any] | None:
    """Our outbound message the status is about, locked for the update (None: not one of ours)."""
    base = (Message.sender == sender["id"]) & (Message.direction == "outbound")
    if update.provider_message_id:
        row = await locked(
            Message.select().where(base & (Message.provider_message_id == update.provider_message_id))
        ).first()
        if row is not None:
            return row
    ref = (update.callback_ref or "").strip()
    if ref.isdigit() and len(ref) < 19:
        return await locked(
            Message.select().where(
                base & (Message.id == int(ref)) & (Message.workspace == sender["workspace"])
            )
        ).first()
    return None


def transition(message: dict[str, Any], update: StatusUpdate, now: datetime) -> dict[str, Any]:
    """The column changes ``update`` makes to ``message`` (empty: nothing changes)."""
    at = update.timestamp or now
    current = message["status"]
    changes: dict[str, Any] = {}
    if update.provider_message_id and not message.get("provider_message_id"):
        changes["provider_message_id"] = update.provider_message_id
    if update.status == "failed":
        if current in _RANK and _RANK[current] <= FAILED_AFTER_RANK:
            changes.update(
                status="failed",
                failure_reason=OPTED_OUT if update.opted_out else DELIVERY_FAILED,
                error_code=update.error_code,
                error_message=update.error_message,
                failed_at=at,
            )
        return changes
    if current not in _RANK:
        # failed (terminal), or an inbound row: keep it as it is.
        return changes
    wanted = _RANK[update.status]
    if wanted > _RANK[current]:
        changes["status"] = update.status
    # Earlier stages are implied by a later one (read implies delivered and sent).
    for status, column in _STAMP.items():
        if status != "failed" and _RANK[status] <= wanted and message.get(column) is None:
            changes[column] = at
    return changes


def observed(message: dict[str, Any], changes: dict[str, Any], now: datetime) -> StatusChange:
    """The change :func:`transition` made, as the message observers see it: the stages whose timestamps
    it set for the first time."""
    reached = frozenset(
        stage for stage, column in _STAMP.items() if column in changes and message.get(column) is None
    )
    return StatusChange(
        message_id=message["id"],
        workspace_id=message["workspace"],
        campaign_id=message.get("campaign_id"),
        run_id=message.get("run_id"),
        message_ref=message.get("message_ref"),
        before=message["status"],
        after=changes.get("status", message["status"]),
        failure_reason=changes.get("failure_reason", message.get("failure_reason")),
        at=now,
        reached=reached,
    )
