"""Outbound messages: validate a send, run the consent gate, store the message, hand it to the queue.

Every domain that sends (the API, keyword confirmations and HELP replies from the inbound pipeline, the
campaign engine's flow messages) goes through :func:`create_outbound`, so the gate runs on every path and
every message is in the database before anyone is told it was accepted (invariant 4). Enqueuing is a
separate step, :func:`enqueue_sends`, taken after the caller's commit: a job must never see a message its
transaction has not made visible yet, and a lost job only delays a message (the reconciler re-enqueues).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from backend.audience.tables import Contact
from backend.consent import gate
from backend.consent.validation import lookup_address
from backend.core.database import transaction
from backend.core.errors import FieldProblem, InvalidInput
from backend.messages.schemas import MessageCreate, MessageOut
from backend.messages.tables import Message
from backend.senders.service import load_sender

SEND_FUNCTION = "send_messages"
BATCH_SIZE = 500
"""Message ids per send job (FIELD-NOTES: batch jobs of 100-500, never one job per message)."""

TEXT_LIMITS = {"whatsapp": 4096, "sms": 1600, "viber": 7000, "email": 1_000_000}
"""The longest body each channel's provider accepts (WhatsApp 4,096; Twilio 1,600; Viber 7,000)."""
BUTTON_CHANNELS = frozenset({"whatsapp", "viber"})

QUEUED = "queued"
FAILED = "failed"


async def create_outbound(
    workspace_id: int,
    sender: dict,
    *,
    to: str,
    kind: str,
    text: str | None = None,
    template: dict | None = None,
    buttons: list[dict] | None = None,
    subject: str | None = None,
    html: str | None = None,
    category_id: int | None = None,
    contact_id: int | None = None,
    origin: str = "api",
    campaign_id: int | None = None,
    run_id: str | None = None,
    message_ref: str | None = None,
    opted_in_only: bool = True,
) -> dict:
    """Store one outbound message, ``queued`` or, when the consent gate blocks it, ``failed``/``opted_out``.

    ``to`` is already normalised for the sender's channel. Joins the caller's transaction when one is
    open (its commit is then the moment the message exists). A flow message (``run_id`` and
    ``message_ref``) that is already stored is returned as it is, never stored twice. Does NOT enqueue:
    call :func:`enqueue_sends` after the commit for a ``queued`` result.
    """
    async with transaction():
        if run_id is not None and message_ref is not None:
            existing = (
                await Message.select()
                .where(
                    (Message.workspace == workspace_id)
                    & (Message.run_id == run_id)
                    & (Message.message_ref == message_ref)
                )
                .output(load_json=True)
                .first()
            )
            if existing is not None:
                return existing
        decision = await gate.may_send(
            workspace_id,
            channel=sender["channel"],
            address=to,
            kind=kind,
            sender_id=sender["id"],
            category_id=category_id,
            opted_in_only=opted_in_only,
        )
        if contact_id is None:
            contact_id = await contact_for(workspace_id, sender["channel"], to)
        now = datetime.now(UTC)
        row: dict[str, Any] = {
            "workspace": workspace_id,
            "sender": sender["id"],
            "contact": contact_id,
            "direction": "outbound",
            "channel": sender["channel"],
            "address": to,
            "kind": kind,
            "category": category_id,
            "opted_in_only": opted_in_only,
            "origin": origin,
            "campaign_id": campaign_id,
            "run_id": run_id,
            "message_ref": message_ref,
            "text": text,
            "template": template,
            "buttons": buttons or [],
            "subject": subject,
            "html": html,
            "button_id": None,
            "in_reply_to": None,
            "status": QUEUED if decision.allowed else FAILED,
            "failure_reason": None if decision.allowed else gate.OPTED_OUT,
            "error_code": None,
            "error_message": None,
            "provider_message_id": None,
            "attempts": 0,
            "next_attempt_at": now if decision.allowed else None,
            "lease_until": None,
            "created_at": now,
            "updated_at": now,
            "sent_at": None,
            "delivered_at": None,
            "read_at": None,
            "failed_at": None if decision.allowed else now,
        }
        columns = {getattr(Message, name): value for name, value in row.items()}
        inserted = await Message.insert(Message(_data=columns)).returning(Message.id)
    row["id"] = inserted[0]["id"]
    return row


async def contact_for(workspace_id: int, channel: str, address: str) -> int | None:
    """The existing contact with this address (outbound never creates contacts: no one asked to be one)."""
    column = Contact.email if channel == "email" else Contact.phone
    found = (
        await Contact.select(Contact.id)
        .where((Contact.workspace == workspace_id) & (column == address))
        .order_by(Contact.id)
        .first()
    )
    return None if found is None else found["id"]


async def enqueue_sends(queue: Any, message_ids: list[int]) -> None:
    """Hand stored messages to the workers in batch jobs, after the commit that made them visible.

    Job ids are deterministic (the batch's ids), so enqueuing the same batch twice is one job while it
    lives. Without a queue (a script, a test) nothing is enqueued: the reconciler picks the messages up.
    """
    if queue is None or not message_ids:
        return
    ids = sorted(message_ids)
    for start in range(0, len(ids), BATCH_SIZE):
        batch = ids[start : start + BATCH_SIZE]
        await queue.enqueue_job(SEND_FUNCTION, batch, _job_id=batch_job_id(batch))


def batch_job_id(batch: list[int], suffix: str = "") -> str:
    return f"send:{batch[0]}-{batch[-1]}:{len(batch)}{suffix}"


# --- the API's send ---------------------------------------------------------------------------------


async def prepare_api_send(workspace_id: int, data: MessageCreate) -> tuple[dict, str, dict[str, Any]]:
    """Check a ``POST /messages`` body against its sender: the sender, its normalised ``to`` and the
    keyword arguments of :func:`create_outbound`. Raises :class:`InvalidInput` naming every bad field."""
    sender = await load_sender(workspace_id, data.sender_id)
    if sender is None:
        raise InvalidInput("sender_id", f"no sender {data.sender_id} in this workspace")
    channel = sender["channel"]
    problems = _content_problems(channel, data)
    to: str | None = None
    try:
        to = await lookup_address(workspace_id, channel, data.to, field="to", source="body")
    except InvalidInput as exc:
        problems = exc.problems + problems
    if data.category_id is not None:
        if data.kind != "marketing":
            problems.append(FieldProblem("category_id", "only marketing messages have a category", "body"))
        else:
            from backend.consent.validation import category_of

            try:
                await category_of(workspace_id, data.category_id)
            except InvalidInput as exc:
                problems += exc.problems
    if data.contact_id is not None and not await Contact.exists().where(
        (Contact.id == data.contact_id) & (Contact.workspace == workspace_id)
    ):
        problems.append(FieldProblem("contact_id", f"no contact {data.contact_id} in this workspace", "body"))
    if problems:
        raise InvalidInput.many(problems)
    assert to is not None
    arguments = {
        "to": to,
        "kind": data.kind,
        "text": data.text,
        "template": msgspec.to_builtins(data.template) if data.template is not None else None,
        "buttons": msgspec.to_builtins(data.buttons) if data.buttons else None,
        "subject": data.subject,
        "html": data.html,
        "category_id": data.category_id,
        "contact_id": data.contact_id,
    }
    return sender, to, arguments


def _content_problems(channel: str, data: MessageCreate) -> list[FieldProblem]:
    """What the channel cannot carry: the body rules of each provider, checked before anything is stored."""
    problems: list[FieldProblem] = []

    def bad(field: str, message: str) -> None:
        problems.append(FieldProblem(field, message, "body"))

    has_text = data.text is not None and data.text.strip() != ""
    if data.text is not None and not has_text:
        bad("text", "must not be blank")
    if data.template is not None and channel != "whatsapp":
        bad("template", f"templates are sent on whatsapp only, not {channel}")
    if channel == "email":
        if data.subject is None or not data.subject.strip():
            bad("subject", "an email needs a subject")
        if data.text is None and not (data.html and data.html.strip()):
            bad("text", "an email needs text or html")
    else:
        if data.subject is not None:
            bad("subject", f"only email has a subject, not {channel}")
        if data.html is not None:
            bad("html", f"only email has html, not {channel}")
        if data.text is not None and data.template is not None:
            bad("text", "give either text or template, not both")
        elif data.text is None and data.template is None:
            bad("text", "give text or template")
    if data.text is not None and len(data.text) > TEXT_LIMITS[channel]:
        bad("text", f"{channel} carries at most {TEXT_LIMITS[channel]} characters ({len(data.text)} given)")
    if data.buttons:
        if channel not in BUTTON_CHANNELS:
            bad("buttons", f"buttons are sent on whatsapp and viber only, not {channel}")
        elif data.template is not None:
            bad("buttons", "buttons go with text, not with a template")
        ids = [button.id for button in data.buttons]
        if len(set(ids)) != len(ids):
            bad("buttons", "button ids must be unique")
    return problems


# --- reading ----------------------------------------------------------------------------------------


def message_out(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as the API shows it, JSON-ready: the idempotency store keeps this very body."""
    return msgspec.to_builtins(message_struct(row))


def message_struct(row: dict[str, Any]) -> MessageOut:
    return MessageOut(
        id=row["id"],
        direction=row["direction"],
        sender_id=row["sender"],
        contact_id=row["contact"],
        channel=row["channel"],
        to=row["address"],
        kind=row["kind"],
        category_id=row["category"],
        campaign_id=row["campaign_id"],
        origin=row["origin"],
        text=row["text"],
        template=_json(row["template"]),
        buttons=_json(row["buttons"]) or [],
        subject=row["subject"],
        button_id=row["button_id"],
        status=row["status"],
        failure_reason=row["failure_reason"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        provider_message_id=row["provider_message_id"],
        attempts=row["attempts"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        delivered_at=row["delivered_at"],
        read_at=row["read_at"],
        failed_at=row["failed_at"],
    )


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value
