"""Storing inbound events before anything answers the provider, and handing them to the worker.

Providers deliver webhooks at least once, so a re-delivery must find its first copy: every event goes in
with ``INSERT … ON CONFLICT DO NOTHING`` on the unique ``(sender, kind, provider_event_id)`` index, and
only the rows that were really new get a processing job. The insert is one statement in one transaction
(all of a webhook's events or none), and jobs are enqueued after the commit: a job never looks for a row
that is not visible yet, and a job lost in Redis is found again by the sweeper (tasks.py).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

import msgspec

from backend.core.database import transaction
from backend.core.queue import enqueue_ahead
from backend.core.text import without_nul
from backend.inbound.tables import InboundEvent
from backend.inbound.validation import payload_problem
from backend.providers.base import InboundEvent as Event

log = logging.getLogger(__name__)

PROCESS_JOB = "process_inbound"
MAX_EVENT_ID = 256
"""The column's length: a longer provider id is replaced by its digest (still unique, still stable)."""


def event_kind(event: Event) -> str:
    """``message``, ``status`` or ``opt_out``: the tag msgspec writes, and the de-duplication index's kind."""
    return type(event).__struct_config__.tag


def event_key(event: Event) -> str:
    key = event.provider_event_id
    if len(key) <= MAX_EVENT_ID:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def encode(event: Event) -> dict[str, Any]:
    return msgspec.to_builtins(event)


def decode(payload: Any) -> Event:
    """The stored payload back as the provider's event (payload may be a JSON string on some engines)."""
    if isinstance(payload, str | bytes):
        return msgspec.json.decode(payload, type=Event)
    return msgspec.convert(payload, Event)


async def store_events(
    sender: dict[str, Any], events: list[Event], *, received_at: datetime | None = None
) -> list[int]:
    """Insert the events of one webhook for ``sender`` (a senders row); the ids of the new rows to
    process (new rows stored ``rejected`` are not among them: nothing is to be done with them).

    Events repeated inside one webhook count once; events already stored are skipped by the database.
    Every string of an event is stored without NUL characters (:func:`backend.core.text.without_nul`).
    """
    if not events:
        return []
    # A contact's text is never refused: NUL characters (PostgreSQL cannot store them, and the worker
    # would fail on the event for ever) are removed here, where every webhook's and sandbox event passes.
    events = [without_nul(event) for event in events]
    received_at = received_at or datetime.now(UTC)
    rows: dict[tuple[str, str], InboundEvent] = {}
    for event in events:
        kind, key = event_kind(event), event_key(event)
        # An event the worker could not read back is kept, ended, with the reason (validation.py).
        problem = payload_problem(event)
        rows.setdefault(
            (kind, key),
            InboundEvent(
                workspace=sender["workspace"],
                sender=sender["id"],
                provider=sender["provider"],
                kind=kind,
                provider_event_id=key,
                payload=encode(event),
                state="rejected" if problem else "pending",
                attempts=0,
                error=problem or "",
                received_at=received_at,
                processed_at=received_at if problem else None,
            ),
        )
    async with transaction():
        inserted = await (
            InboundEvent.insert(*rows.values())
            .on_conflict(action="DO NOTHING")
            .returning(InboundEvent.id, InboundEvent.state)
        )
    return sorted(row["id"] for row in inserted if row["state"] == "pending")


async def find_event_id(sender_id: int, kind: str, provider_event_id: str) -> int | None:
    row = (
        await InboundEvent.select(InboundEvent.id)
        .where(
            (InboundEvent.sender == sender_id)
            & (InboundEvent.kind == kind)
            & (InboundEvent.provider_event_id == provider_event_id)
        )
        .first()
    )
    return row["id"] if row else None


def job_id(event_id: int, attempts: int) -> str:
    """One job id per event and attempt: a retry, the sweeper and a lost job's replacement agree on it,
    so arq keeps one of them while it is queued."""
    return f"inbound:{event_id}:{attempts}"


async def enqueue_processing(queue: Any, event_ids: list[int]) -> None:
    """Enqueue one job for a webhook's new events (after the commit), ahead of the queue's backlog: a
    STOP must stop the next marketing message, not wait behind a campaign's send jobs.

    A failure to enqueue is logged, never raised: the rows are committed and the sweeper finds them.
    """
    if queue is None or not event_ids:
        return
    name = job_id(event_ids[0], 0) if len(event_ids) == 1 else f"inbound:{event_ids[0]}-{event_ids[-1]}:0"
    try:
        await enqueue_ahead(queue, PROCESS_JOB, event_ids, _job_id=name)
    except Exception:
        log.warning("could not enqueue inbound events %s; the sweeper will", event_ids, exc_info=True)
