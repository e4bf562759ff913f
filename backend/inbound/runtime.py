"""Where a contact's reply goes once the gateway has stored it: the conversation (flow) runtime.

The campaign engine implements :class:`ConversationRuntime` and installs it with :func:`set_runtime`
at process start (worker start-up). The gateway calls ``on_inbound`` after the reply's transaction has
committed, and only for messages that were not keywords (STOP, START and HELP are the consent
service's business, never a flow's answer).

Delivery to the runtime is at least once: the event is marked ``processed`` only after ``on_inbound``
returned, so a worker that dies in between calls it again for the same reply. Implementations must be
idempotent per ``InboundReply.message_id`` (e.g. remember the inbound message id a waiting run consumed).
An exception from ``on_inbound`` is retried with the event's backoff.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import msgspec


class InboundReply(msgspec.Struct, frozen=True, kw_only=True):
    """One stored inbound message, as a waiting flow run needs to see it."""

    workspace_id: int
    sender_id: int
    contact_id: int
    channel: str
    address: str
    """The contact's normalised address (E.164 for phone channels)."""
    message_id: int
    """The inbound message row: the idempotency key for implementations."""
    text: str | None
    button_id: str | None
    in_reply_to: int | None
    """Our outbound message this one answers (a tapped button's message), when known."""
    run_id: str | None
    """``run_id`` of that outbound message: the flow run it belongs to."""
    message_ref: str | None
    """``message_ref`` of that outbound message ("node#visit"), to match a flow's ButtonTap.message_ref."""
    received_at: datetime


class ConversationRuntime(Protocol):
    async def on_inbound(self, reply: InboundReply) -> None:
        """Resume whatever waits for this contact's reply; must be idempotent per ``reply.message_id``."""
        ...


class NoRuntime:
    """The default until the campaign engine exists: replies are stored and shown, nothing resumes."""

    async def on_inbound(self, reply: InboundReply) -> None:
        return None


_runtime: ConversationRuntime = NoRuntime()


def set_runtime(runtime: ConversationRuntime | None) -> None:
    """Install the process's runtime; None restores the default that does nothing."""
    global _runtime
    _runtime = runtime if runtime is not None else NoRuntime()


def get_runtime() -> ConversationRuntime:
    return _runtime
