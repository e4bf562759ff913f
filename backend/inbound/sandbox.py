"""The sandbox sender's inbound side: an authenticated stand-in for a provider's webhook.

Demos, previews and tests reply "as the contact" through ``POST /api/v1/senders/{id}/sandbox/inbound``.
The body becomes the same :class:`InboundMessage` a provider webhook would give and is stored and
processed by the same pipeline, so what works in the sandbox works on WhatsApp.

The sandbox's automatic answers (a sender's ``auto_reply`` config, :mod:`backend.providers.sandbox`)
arrive the same way: :class:`AutoAnswers` turns each planned status or answer into a deferred job, and
:func:`deliver_answer` stores it, when due, exactly as a webhook's event is stored, then hands it to the
same processing job. Consent, runs and campaign counters therefore cannot tell them from a provider's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from backend.audience.addresses import normalise_address
from backend.audience.service import phone_region
from backend.core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from backend.inbound.schemas import SandboxInbound, SandboxInboundOut
from backend.inbound.store import decode, encode, enqueue_processing, find_event_id, store_events
from backend.messages.tables import Message
from backend.providers.base import InboundMessage
from backend.providers.sandbox import PlannedEvent
from backend.senders.service import load_sender
from backend.senders.tables import Sender

ANSWER_JOB = "sandbox_answer"


async def receive(workspace_id: int, sender_id: int, data: SandboxInbound, queue: Any) -> SandboxInboundOut:
    """Store the reply as a sandbox inbound event and enqueue its processing (after the commit)."""
    sender = await load_sender(workspace_id, sender_id)
    if sender is None:
        raise NotFound("sender", sender_id)
    if sender["provider"] != "sandbox":
        message = f"sender {sender_id} uses {sender['provider']}; only sandbox senders take simulated replies"
        raise Conflict(f"provider: {message}", [FieldProblem("provider", message, "path")])
    if (data.text is None) == (data.button_id is None):
        raise InvalidInput("text", "give exactly one of text and button_id")
    address = normalise_address(sender["channel"], data.from_, await phone_region(workspace_id), field="from")
    context, title = await _replied(sender, data)
    event = InboundMessage(
        provider_event_id=data.id or f"sandbox-in-{uuid.uuid4().hex}",
        from_address=address,
        text=data.text,
        button_id=data.button_id,
        button_title=title,
        context_provider_message_id=context,
        timestamp=datetime.now(UTC),
    )
    new = await store_events(sender, [event])
    if new:
        await enqueue_processing(queue, new)
        return SandboxInboundOut(event_id=new[0], duplicate=False)
    existing = await find_event_id(sender["id"], "message", event.provider_event_id)
    if existing is None:  # pragma: no cover - the conflicting row was deleted in between
        raise Conflict("id: the event was removed while being stored; post it again")
    return SandboxInboundOut(event_id=existing, duplicate=True)


async def _replied(sender: dict[str, Any], data: SandboxInbound) -> tuple[str | None, str | None]:
    """The replied message's provider id (as the sandbox provider names it) and the tapped button's title."""
    if data.in_reply_to is None:
        return None, None
    row = (
        await Message.select(Message.id, Message.provider_message_id, Message.buttons)
        .where(
            (Message.id == data.in_reply_to)
            & (Message.workspace == sender["workspace"])
            & (Message.sender == sender["id"])
            & (Message.direction == "outbound")
        )
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise InvalidInput("in_reply_to", f"no message {data.in_reply_to} was sent by this sender")
    title = next(
        (
            str(b.get("title"))
            for b in row["buttons"] or []
            if isinstance(b, dict) and b.get("id") == data.button_id
        ),
        None,
    )
    return row["provider_message_id"] or f"sandbox-{row['id']}", title


# --- automatic answers (auto_reply) ---------------------------------------------------------------------


class AutoAnswers:
    """The worker's :class:`~backend.providers.sandbox.AnswerScheduler`: one deferred job per planned event.

    The job id is the event's own id (``sandbox-<message id>:delivered``, ``…:read``, ``…:answer``), so
    a send job that runs twice plans nothing twice, and the inbound store's unique index catches what
    slips past arq's id window. Redis alone holds what is not yet due: a flushed Redis loses some
    simulated answers, which for a sandbox is a quieter demo, not a lost message.
    """

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    async def schedule(self, sender_id: int, planned: list[PlannedEvent]) -> None:
        for item in planned:
            await self.queue.enqueue_job(
                ANSWER_JOB,
                sender_id,
                encode(item.event),
                _job_id=f"sandbox-answer:{sender_id}:{item.event.provider_event_id}",
                _defer_by=timedelta(seconds=item.after_s),
            )


async def deliver_answer(sender_id: int, payload: dict[str, Any], queue: Any) -> str:
    """Store one due simulated event as the sender's inbound event and enqueue its processing:
    ``stored``, ``duplicate`` (already stored once) or ``skipped`` (the sender is gone or no longer a
    sandbox)."""
    sender = (
        await Sender.select(Sender.id, Sender.workspace, Sender.provider)
        .where(Sender.id == sender_id)
        .first()
    )
    if sender is None or sender["provider"] != "sandbox":
        return "skipped"
    event = msgspec.structs.replace(decode(payload), timestamp=datetime.now(UTC))
    new = await store_events(sender, [event])
    await enqueue_processing(queue, new)
    return "stored" if new else "duplicate"
