"""Processing stored inbound events, each exactly once in effect.

One event, one transaction: the row is locked, skipped unless ``pending``, and its effects (the inbound
message and its contact, the keyword's opt-out with its confirmation reply, a status onto our message, a
provider's opt-out) commit together with ``state = processed``. A job that runs twice (arq is at least
once) finds the row processed and does nothing. What must reach Redis (consent webhook deliveries,
reply sends) is enqueued after the commit; their own sweepers cover a crash in between.

A reply that was no keyword goes to the conversation runtime after the commit: the row then sits in
``handoff`` until ``on_inbound`` returned, so a crash in between hands it over again rather than never
(see :mod:`backend.inbound.runtime`).

A failure rolls the event's transaction back, counts an attempt and keeps the error text, then retries
with growing delays; after :data:`MAX_ATTEMPTS`, or at once for an event that can never succeed (an
address that is not one), the row is ``failed`` and stays for an operator to read. What a provider sent
that is not its format never gets here: it is stored ``rejected`` (:mod:`backend.inbound.validation`).
Both are terminal: nothing re-enqueues them, and ``GET /api/v1/inbound-events`` shows them with the
reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.audience.addresses import normalise_address
from backend.audience.service import phone_region
from backend.consent import keywords
from backend.consent import service as consent
from backend.consent.tables import MarketingCategory
from backend.core.database import locked, transaction
from backend.core.errors import FlowgateError, InvalidInput
from backend.inbound import contacts, statuses
from backend.inbound.runtime import InboundReply, get_runtime
from backend.inbound.store import PROCESS_JOB, decode, job_id
from backend.inbound.tables import InboundEvent
from backend.messages import observers
from backend.messages.tables import Message
from backend.providers.base import InboundMessage, ProviderOptOut, StatusUpdate
from backend.senders.service import load_sender
from backend.webhooks import service as webhooks

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
RETRY_DELAYS = (5.0, 30.0, 120.0, 600.0, 1800.0)
"""Seconds before attempt 2, 3, …: about 45 minutes in all, longer than a database restart."""
CAMPAIGN_REPLY_WINDOW = timedelta(hours=24)
"""A STOP without a context id counts as a reply to a campaign only when the latest message this sender
sent the address is a campaign's marketing message from the last 24 hours (WhatsApp's conversation
window). Beyond that it is a plain keyword opt-out, which is permanent: when unsure, the longer opt-out
protects the person."""
ERROR_LENGTH = 2000


class PermanentFailure(Exception):
    """The event can never be processed (its content is wrong, not the moment)."""


class TooEarly(Exception):
    """The event may be about something not recorded yet: try again shortly (an expected case, not a fault)."""


EARLY_STATUS_RETRIES = 2
"""How often a status naming no known message is retried while the sender has sends in flight: a fast
provider can post ``sent`` before the worker has written the provider's message id back."""


@dataclass
class AfterCommit:
    """What the event's transaction leaves for after its commit."""

    deliveries: list[int] = field(default_factory=list)
    sends: list[int] = field(default_factory=list)
    handoff: bool = False
    note: str = ""


# --- the job's entry point ----------------------------------------------------------------------------


async def process_events(
    event_ids: list[int], *, queue: Any, delays: tuple[float, ...] = RETRY_DELAYS
) -> dict[str, int]:
    """Process the events in id order (the provider's order); a count of what became of them."""
    counts: dict[str, int] = {}
    for event_id in sorted(set(event_ids)):
        outcome = await process_event(event_id, queue=queue, delays=delays)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


async def process_event(event_id: int, *, queue: Any, delays: tuple[float, ...] = RETRY_DELAYS) -> str:
    """``processed``, ``skipped`` (already done or gone), ``retry`` or ``failed``."""
    try:
        async with transaction():
            row = await locked(InboundEvent.select().where(InboundEvent.id == event_id)).first()
            if row is None or row["state"] not in ("pending", "handoff"):
                return "skipped"
            if row["state"] == "pending":
                after = await _apply(row)
                await _settle(row["id"], after)
            else:
                after = AfterCommit(handoff=True)
    except (PermanentFailure, FlowgateError) as exc:
        return await record_failure(event_id, _describe(exc), queue=queue, delays=delays, permanent=True)
    except TooEarly as exc:
        return await record_failure(event_id, _describe(exc), queue=queue, delays=delays)
    except Exception as exc:
        log.warning("inbound event %s failed: %s", event_id, _describe(exc), exc_info=True)
        return await record_failure(event_id, _describe(exc), queue=queue, delays=delays)
    await webhooks.dispatch(queue, after.deliveries)
    if after.sends:
        await _enqueue_sends(queue, after.sends)
    if after.handoff:
        return await _hand_off(row, queue=queue, delays=delays)
    return "processed"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]


async def _settle(event_id: int, after: AfterCommit) -> None:
    now = datetime.now(UTC)
    await InboundEvent.update(
        {
            InboundEvent.state: "handoff" if after.handoff else "processed",
            InboundEvent.processed_at: None if after.handoff else now,
            InboundEvent.error: after.note,
        }
    ).where(InboundEvent.id == event_id)


async def _enqueue_sends(queue: Any, message_ids: list[int]) -> None:
    from backend.messages.service import enqueue_sends

    try:
        await enqueue_sends(queue, message_ids)
    except Exception:
        log.warning("could not enqueue replies %s; the outbound reconciler will", message_ids, exc_info=True)


async def record_failure(
    event_id: int, error: str, *, queue: Any, delays: tuple[float, ...], permanent: bool = False
) -> str:
    """Count a failed attempt and schedule the next one, or give up: ``retry`` or ``failed``."""
    async with transaction():
        row = await locked(
            InboundEvent.select(InboundEvent.state, InboundEvent.attempts).where(InboundEvent.id == event_id)
        ).first()
        if row is None or row["state"] not in ("pending", "handoff"):
            return "skipped"
        attempts = row["attempts"] + 1
        give_up = permanent or attempts >= MAX_ATTEMPTS
        await InboundEvent.update(
            {
                InboundEvent.attempts: attempts,
                InboundEvent.error: error,
                InboundEvent.state: "failed" if give_up else row["state"],
                InboundEvent.processed_at: datetime.now(UTC) if give_up else None,
            }
        ).where(InboundEvent.id == event_id)
    if give_up:
        log.error("inbound event %s failed for good after %d attempts: %s", event_id, attempts, error)
        return "failed"
    delay = delays[min(attempts - 1, len(delays) - 1)] if delays else 0.0
    if queue is not None:
        try:
            await queue.enqueue_job(
                PROCESS_JOB, [event_id], _job_id=job_id(event_id, attempts), _defer_by=delay
            )
        except Exception:
            log.warning("could not schedule a retry of inbound event %s; the sweeper will", event_id)
    return "retry"


# --- handing replies to the runtime -------------------------------------------------------------------


async def _hand_off(row: dict[str, Any], *, queue: Any, delays: tuple[float, ...]) -> str:
    try:
        reply = await load_reply(row["sender"], row["provider_event_id"])
        if reply is not None:
            await get_runtime().on_inbound(reply)
    except Exception as exc:
        log.warning("the runtime failed on inbound event %s: %s", row["id"], _describe(exc), exc_info=True)
        return await record_failure(row["id"], _describe(exc), queue=queue, delays=delays)
    await InboundEvent.update(
        {InboundEvent.state: "processed", InboundEvent.processed_at: datetime.now(UTC)}
    ).where((InboundEvent.id == row["id"]) & (InboundEvent.state == "handoff"))
    return "processed"


async def load_reply(sender_id: int, provider_message_id: str) -> InboundReply | None:
    """The runtime's view of the inbound message a provider id names on a sender (None: gone)."""
    message = (
        await Message.select()
        .where(
            (Message.sender == sender_id)
            & (Message.direction == "inbound")
            & (Message.provider_message_id == provider_message_id)
        )
        .first()
    )
    if message is None or message["contact"] is None:
        return None
    replied = None
    if message["in_reply_to"] is not None:
        replied = (
            await Message.select(Message.run_id, Message.message_ref)
            .where((Message.id == message["in_reply_to"]) & (Message.workspace == message["workspace"]))
            .first()
        )
    return InboundReply(
        workspace_id=message["workspace"],
        sender_id=sender_id,
        contact_id=message["contact"],
        channel=message["channel"],
        address=message["address"],
        message_id=message["id"],
        text=message["text"],
        button_id=message["button_id"],
        in_reply_to=message["in_reply_to"],
        run_id=replied["run_id"] if replied else None,
        message_ref=replied["message_ref"] if replied else None,
        received_at=message["created_at"],
    )


# --- one event's effects (inside its transaction) -----------------------------------------------------


async def _apply(row: dict[str, Any]) -> AfterCommit:
    sender = await load_sender(row["workspace"], row["sender"])
    if sender is None:
        raise PermanentFailure(f"sender {row['sender']} no longer exists")
    # A stored payload that does not decode was written by another version of Flowgate (what providers
    # send is checked before it is stored: validation.py): retried, so a newer worker can take it during
    # a rolling upgrade, and ``failed`` after MAX_ATTEMPTS.
    event = decode(row["payload"])
    now = datetime.now(UTC)
    if isinstance(event, InboundMessage):
        return await _message(row, sender, event, now)
    if isinstance(event, StatusUpdate):
        return await _status(row, sender, event, now)
    if isinstance(event, ProviderOptOut):
        return await _provider_opt_out(row, sender, event)
    raise PermanentFailure(f"unknown event kind {row['kind']!r}")  # pragma: no cover - closed union


async def _address(sender: dict[str, Any], raw: str) -> str:
    region = await phone_region(sender["workspace"])
    return normalise_address(sender["channel"], raw, region, field="from")


def _opt_out_scope(sender: dict[str, Any]) -> int | None:
    return None if sender.get("opt_out_scope") == "workspace" else sender["id"]


async def _message(
    row: dict[str, Any], sender: dict[str, Any], event: InboundMessage, now: datetime
) -> AfterCommit:
    workspace_id = sender["workspace"]
    address = await _address(sender, event.from_address)
    contact_id, _ = await contacts.find_or_create(
        workspace_id, sender["channel"], address, event.profile_name
    )
    replied = await _replied_message(sender, event.context_provider_message_id)
    inserted = await Message.insert(
        Message(
            workspace=workspace_id,
            sender=sender["id"],
            contact=contact_id,
            direction="inbound",
            channel=sender["channel"],
            address=address,
            kind=None,
            origin="provider",
            text=event.text if event.text is not None else event.button_title,
            button_id=event.button_id,
            in_reply_to=replied["id"] if replied else None,
            status="received",
            provider_message_id=row["provider_event_id"],
            created_at=event.timestamp or now,
            updated_at=now,
        )
    ).returning(Message.id)
    message_id = inserted[0]["id"]
    # A tapped button's title counts as words the person said: a template's "Stop promotions" button
    # is an opt-out, whatever the flow meant it for.
    said = event.text or event.button_title
    if not said:
        return AfterCommit(handoff=True)
    action, _ = keywords.decide(sender, said)
    if action == "none":
        return AfterCommit(handoff=True)
    if action == "opted_in" and await _later_opt_out(
        sender, address, contact_id, message_id, event.timestamp or now
    ):
        return AfterCommit(note="keyword: opt-in superseded by a later opt-out from the same address")
    campaign = (
        await _campaign_context(sender, address, contact_id, replied, now) if action == "opted_out" else None
    )
    outcome = await keywords.handle_keyword(
        workspace_id,
        sender,
        address,
        said,
        campaign=campaign,
        evidence={"inbound_message_id": message_id, "provider_event_id": row["provider_event_id"]},
    )
    after = AfterCommit(deliveries=list(outcome.deliveries), note=f"keyword: {outcome.action}")
    if outcome.reply_text:
        kind, origin = (
            ("conversational", "help_reply") if action == "help" else ("transactional", "keyword_reply")
        )
        reply = await _reply(workspace_id, sender, address, contact_id, outcome.reply_text, kind, origin)
        if reply is not None and reply.get("status") == "queued":
            after.sends.append(reply["id"])
    return after


async def _later_opt_out(
    sender: dict[str, Any], address: str, contact_id: int, message_id: int, sent_at: datetime
) -> bool:
    """Whether the person already said an opt-out keyword to this sender AFTER this opt-in was written.

    Messages in separate webhooks are processed by concurrent jobs, so a START can be processed after a
    later STOP; applied, it would undo the newer opt-out. The provider's timestamps decide (only strictly
    later counts). The other order needs no rule: an older STOP processed after a newer START opts out,
    which errs on the side of sending nothing.
    """
    later = (
        await Message.select(Message.text)
        .where(
            # By contact first: the (workspace, contact, id) index finds a person's few messages among
            # millions (there is no index on the address).
            (Message.workspace == sender["workspace"])
            & (Message.contact == contact_id)
            & (Message.sender == sender["id"])
            & (Message.direction == "inbound")
            & (Message.address == address)
            & (Message.created_at > sent_at)
            & (Message.id != message_id)
        )
        .order_by(Message.created_at, ascending=False)
        .limit(50)
    )
    return any(row["text"] and keywords.decide(sender, row["text"])[0] == "opted_out" for row in later)


async def _reply(
    workspace_id: int,
    sender: dict[str, Any],
    address: str,
    contact_id: int,
    text: str,
    kind: str,
    origin: str,
) -> dict[str, Any] | None:
    """The sender's confirmation or HELP answer; a reply that cannot be made never undoes the opt-out."""
    from backend.messages.service import create_outbound

    try:
        return await create_outbound(
            workspace_id, sender, to=address, kind=kind, text=text, contact_id=contact_id, origin=origin
        )
    except FlowgateError as exc:
        log.warning("sender %s: no %s to %s: %s", sender["id"], origin, address, exc.detail)
        return None


async def _replied_message(sender: dict[str, Any], context_id: str | None) -> dict[str, Any] | None:
    """Our outbound message on this sender that the provider says this one answers."""
    if not context_id:
        return None
    columns = (Message.id, Message.campaign_id, Message.category, Message.kind, Message.message_ref)
    base = (Message.sender == sender["id"]) & (Message.direction == "outbound")
    found = await Message.select(*columns).where(base & (Message.provider_message_id == context_id)).first()
    if found is None and sender["provider"] == "sandbox" and context_id.startswith("sandbox-"):
        # The sandbox endpoint names a message that may not have been "sent" yet (no provider id).
        ref = context_id.removeprefix("sandbox-")
        if ref.isdigit() and len(ref) < 19:
            found = await Message.select(*columns).where(base & (Message.id == int(ref))).first()
    return found


async def _campaign_context(
    sender: dict[str, Any], address: str, contact_id: int, replied: dict[str, Any] | None, now: datetime
) -> keywords.CampaignContext | None:
    """The campaign a STOP answers (its category sets how long the opt-out lasts), or None: permanent."""
    source = replied
    if source is None:
        source = (
            await Message.select(
                Message.campaign_id, Message.category, Message.kind, Message.message_ref, Message.created_at
            )
            .where(
                (Message.workspace == sender["workspace"])
                & (Message.contact == contact_id)
                & (Message.sender == sender["id"])
                & (Message.direction == "outbound")
                & (Message.address == address)
            )
            .order_by(Message.id, ascending=False)
            .first()
        )
        if source is not None and source["created_at"] < now - CAMPAIGN_REPLY_WINDOW:
            source = None
    if source is None or source["campaign_id"] is None or source["kind"] != "marketing":
        return None
    category_id = source["category"]
    if category_id is not None and not await MarketingCategory.exists().where(
        (MarketingCategory.id == category_id) & (MarketingCategory.workspace == sender["workspace"])
    ):
        category_id = None  # the category was deleted since: the workspace's duration applies
    return keywords.CampaignContext(
        campaign_id=source["campaign_id"], category_id=category_id, message_ref=source["message_ref"]
    )


async def _status(
    row: dict[str, Any], sender: dict[str, Any], event: StatusUpdate, now: datetime
) -> AfterCommit:
    after = AfterCommit()
    message = await statuses.find_message(sender, event)
    if message is None and row["attempts"] < EARLY_STATUS_RETRIES and await _sends_in_flight(sender):
        raise TooEarly("no message has this id yet, and sends of this sender are being recorded")
    if message is None:
        after.note = "no message of this sender has this id (sent outside Flowgate?)"
    else:
        changes = statuses.transition(message, event, now)
        if changes:
            changes["updated_at"] = now
            await Message.update({getattr(Message, key): value for key, value in changes.items()}).where(
                Message.id == message["id"]
            )
            await observers.notify([statuses.observed(message, changes, now)], Message.raw)
        else:
            after.note = f"status {event.status} changes nothing (message is {message['status']})"
    if event.opted_out:
        after.deliveries.extend(await _status_opt_out(row, sender, event, message))
    return after


async def _sends_in_flight(sender: dict[str, Any]) -> bool:
    return await Message.exists().where(
        (Message.workspace == sender["workspace"])
        & (Message.status == "sending")
        & (Message.sender == sender["id"])
    )


async def _status_opt_out(
    row: dict[str, Any], sender: dict[str, Any], event: StatusUpdate, message: dict[str, Any] | None
) -> list[int]:
    """131050 / 21610: the person stopped marketing with the provider; the gate must know it too.

    Recorded even for a message sent outside Flowgate (by the status's recipient), since the person's
    choice is about the number, not the message; a recipient that is no address is skipped.
    """
    address = message["address"] if message is not None else event.recipient
    if not address:
        return []
    try:
        result = await consent.apply_opt_out(
            sender["workspace"],
            channel=sender["channel"],
            address=address,
            source="provider",
            sender_id=_opt_out_scope(sender),
            actor=f"provider {sender['provider']} error {event.error_code or ''}".strip(),
            evidence={
                "provider_event_id": row["provider_event_id"],
                "message_id": message["id"] if message is not None else None,
                "error_code": event.error_code,
                "error_message": event.error_message,
            },
        )
    except InvalidInput:
        if message is not None:
            raise
        return []  # checked before any write: the transaction is intact
    return list(result.deliveries)


async def _provider_opt_out(
    row: dict[str, Any], sender: dict[str, Any], event: ProviderOptOut
) -> AfterCommit:
    address = await _address(sender, event.from_address)
    result = await consent.apply_opt_out(
        sender["workspace"],
        channel=sender["channel"],
        address=address,
        source="provider",
        sender_id=_opt_out_scope(sender),
        actor=f"provider {sender['provider']}: {event.reason}",
        evidence={"provider_event_id": row["provider_event_id"], "reason": event.reason},
    )
    return AfterCommit(deliveries=list(result.deliveries), note=f"provider opt-out: {event.reason}")
