"""Bodies of the inbound endpoints."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from backend.core.schemas import Input, Output

MAX_TEXT = 4096


class SandboxInbound(Input):
    """A contact's reply to a sandbox sender, as a provider webhook would carry it."""

    nul_removed_later = frozenset({"text"})
    """Like a provider's, a contact's text is stored without its NUL characters, never refused
    (:func:`backend.inbound.store.store_events`)."""

    from_: Annotated[str, Meta(min_length=1, max_length=64)] = msgspec.field(name="from")
    """The contact's address (normalised for the sender's channel with the workspace's phone region)."""
    text: Annotated[str, Meta(min_length=1, max_length=MAX_TEXT)] | None = None
    button_id: Annotated[str, Meta(min_length=1, max_length=256)] | None = None
    in_reply_to: Annotated[int, Meta(ge=1)] | None = None
    """Our outbound message (of this sender) the reply answers, e.g. the message whose button was tapped."""
    id: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    """A client-chosen event id: posting the same id again stores nothing new (like a provider re-delivery)."""


class SandboxInboundOut(Output):
    event_id: int
    duplicate: bool
    """True when an event with this ``id`` was already stored (nothing new was done)."""
