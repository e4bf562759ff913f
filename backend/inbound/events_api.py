"""``GET /api/v1/inbound-events``: what became of every event the providers' webhooks delivered.

Webhooks are acknowledged as soon as their events are stored, so the provider never learns that one
could not be used. An event ends in one of two states nothing retries any more: ``rejected`` (its
payload is not the provider's format, refused when stored or when the worker read it back) and
``failed`` (the worker gave up after its retries, or at once for content that can never work, such as
an address that is not one). Both keep the reason in ``error``; this read-only list is where an
integrator or operator finds them, so no event is lost silently. Viewer and up; one workspace's only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, get
from litestar.params import FromPath, QueryParameter

from backend.core.errors import NotFound
from backend.core.pagination import CursorParam, LimitParam, Page, fetch_page
from backend.core.schemas import Output
from backend.inbound.tables import InboundEvent
from backend.workspaces.auth import Caller, allow
from backend.workspaces.roles import Role

EventStatus = Literal["pending", "handoff", "processed", "failed", "rejected"]
"""The table's ``state``, named ``status`` at the API like a message's (and because Litestar reserves a
handler parameter called ``state``)."""
EventKind = Literal["message", "status", "opt_out", "unreadable"]
"""``unreadable``: a signed webhook whose body could not be read at all (always ``rejected``)."""


class InboundEventOut(Output):
    id: int
    sender_id: int
    provider: str
    kind: EventKind
    """``message`` (the contact wrote or tapped), ``status`` (of our message), ``opt_out`` (at the provider),
    or ``unreadable`` (a signed webhook whose body could not be read; its payload keeps the body)."""
    provider_event_id: str
    status: EventStatus
    """``pending``/``handoff``: being processed; ``processed``; ``failed`` and ``rejected``: ended, see ``error``."""
    attempts: int
    error: str
    """Why it failed or was rejected (for ``processed``, a note on what it did, or empty)."""
    payload: Any
    """The event as parsed from the provider's webhook (for a ``rejected`` one, as received)."""
    received_at: datetime
    processed_at: datetime | None


def _query(workspace_id: int) -> Any:
    return InboundEvent.select().where(InboundEvent.workspace == workspace_id).output(load_json=True)


def _out(row: dict[str, Any]) -> InboundEventOut:
    return InboundEventOut(
        id=row["id"],
        sender_id=row["sender"],
        provider=row["provider"],
        kind=row["kind"],
        provider_event_id=row["provider_event_id"],
        status=row["state"],
        attempts=row["attempts"],
        error=row["error"],
        payload=row["payload"],
        received_at=row["received_at"],
        processed_at=row["processed_at"],
    )


class InboundEventController(Controller):
    path = "/inbound-events"
    tags = ["inbound events"]
    guards = [allow(read=Role.viewer, write=Role.admin)]

    @get("/", summary="Events received from providers' webhooks and what became of them, newest first")
    async def list_inbound_events(
        self,
        principal: Caller,
        status: Annotated[EventStatus | None, QueryParameter(description="e.g. rejected or failed")] = None,
        sender_id: Annotated[int | None, QueryParameter(description="Received on this sender")] = None,
        kind: Annotated[
            EventKind | None, QueryParameter(description="message, status, opt_out or unreadable")
        ] = None,
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> Page[InboundEventOut]:
        query = _query(principal.workspace_id)
        if status is not None:
            query = query.where(InboundEvent.state == status)
        if sender_id is not None:
            query = query.where(InboundEvent.sender == sender_id)
        if kind is not None:
            query = query.where(InboundEvent.kind == kind)
        rows, next_cursor = await fetch_page(query, InboundEvent.id, cursor, limit, order="newest")
        return Page(items=[_out(row) for row in rows], next_cursor=next_cursor)

    @get("/{event_id:int}", summary="One event received from a provider, with its state and error")
    async def get_inbound_event(self, principal: Caller, event_id: FromPath[int]) -> InboundEventOut:
        row = await _query(principal.workspace_id).where(InboundEvent.id == event_id).first()
        if row is None:
            raise NotFound("inbound event", event_id)
        return _out(row)
