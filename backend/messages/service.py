"""Outbound messages: validate a send, run the consent gate, store the message, hand it to the queue.

Every domain that sends (the API, keyword confirmations and HELP replies from the inbound pipeline, the
campaign engine's flow messages) goes through :func:`create_outbound`, so the gate runs on every path and
every message is in the database before anyone is told it was accepted (invariant 4). Enqueuing is a
separate step, :func:`enqueue_sends`, taken after the caller's commit: a job must never see a message its
transaction has not made visible yet, and a lost job only delays a message (the reconciler re-enqueues).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from backend.audience.tables import Contact
from backend.consent import gate, rules
from backend.consent.validation import lookup_address
from backend.core.bulk import execute, in_list, insert_rows
from backend.core.database import transaction
from backend.core.errors import FieldProblem, InvalidInput
from backend.messages import observers
from backend.messages.schemas import MessageCreate, MessageOut
from backend.messages.tables import Message
from backend.senders.service import load_sender

SEND_FUNCTION = "send_messages"
SEND_JOB_PREFIX = "send:"
"""Every send job's id starts so (batches, retries, the reconciler's): the worker's intake tells them
from other jobs by it without reading the job (:func:`backend.messages.tasks.holds_back`)."""
BATCH_SIZE = 500
"""Message ids per send job (FIELD-NOTES: batch jobs of 100-500, never one job per message)."""

TEXT_LIMITS = {"whatsapp": 4096, "sms": 1600, "viber": 7000, "email": 1_000_000}
"""The longest body each channel's provider accepts (WhatsApp 4,096; Twilio 1,600; Viber 7,000)."""
BUTTON_CHANNELS = frozenset({"whatsapp", "viber"})

QUEUED = "queued"
FAILED = "failed"
HELD = "held"
"""A paused campaign's message: stays out of the queue until the campaign runs again."""
INSERT_ROWS = 500
"""Messages per INSERT: rows x columns stays far under PostgreSQL's 32,767 bind parameters."""


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


@dataclass(slots=True)
class Draft:
    """One message for :func:`create_outbound_batch`: what :func:`create_outbound` takes, as data."""

    to: str
    """Already normalised for the sender's channel."""
    kind: str
    text: str | None = None
    template: dict | None = None
    buttons: list[dict] | None = None
    subject: str | None = None
    html: str | None = None
    media_url: str | None = None
    category_id: int | None = None
    contact_id: int | None = None
    origin: str = "flow"
    campaign_id: int | None = None
    run_id: str | None = None
    message_ref: str | None = None
    opted_in_only: bool = True


_BATCH_COLUMNS = [
    ("workspace", "bigint"),
    ("sender", "bigint"),
    ("contact", "bigint"),
    ("direction", "varchar"),
    ("channel", "varchar"),
    ("address", "varchar"),
    ("kind", "varchar"),
    ("category", "bigint"),
    ("opted_in_only", "boolean"),
    ("origin", "varchar"),
    ("campaign_id", "bigint"),
    ("run_id", "varchar"),
    ("message_ref", "varchar"),
    ("text", "text"),
    ("template", "json"),
    ("buttons", "json"),
    ("subject", "varchar"),
    ("html", "text"),
    ("media_url", "text"),
    ("status", "varchar"),
    ("failure_reason", "varchar"),
    ("attempts", "integer"),
    ("next_attempt_at", "timestamptz"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("failed_at", "timestamptz"),
]
"""The columns of :func:`create_outbound_batch`'s INSERT and their PostgreSQL types."""


async def create_outbound_batch(
    workspace_id: int, sender: dict, drafts: list[Draft], *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Store many messages of one sender at once; the result lines up with ``drafts``.

    The same rules as :func:`create_outbound`, at the cost of a few statements for hundreds of
    messages: the consent gate runs once per (category, toggle) group of marketing drafts (the batch gate
    of the send path), and the rows go in with multi-row INSERTs. A flow message already stored (same
    ``run_id`` and ``message_ref``) is not stored again: the existing row is returned. Each result has
    ``id``, ``status`` (``queued`` or ``failed``), ``failure_reason``, ``run_id`` and ``message_ref``.
    Runs in the caller's transaction; enqueue the queued ones with :func:`enqueue_sends` after its commit.
    """
    if not drafts:
        return []
    moment = now or datetime.now(UTC)
    blocked = await _batch_gate(workspace_id, sender, drafts, moment)
    channel = sender["channel"]
    results: list[dict[str, Any] | None] = [None] * len(drafts)
    for start in range(0, len(drafts), INSERT_ROWS):
        part = list(range(start, min(start + INSERT_ROWS, len(drafts))))
        rows: list[tuple[Any, ...]] = []
        for index in part:
            draft = drafts[index]
            refused = index in blocked
            rows.append(
                (
                    workspace_id,
                    sender["id"],
                    draft.contact_id,
                    "outbound",
                    channel,
                    draft.to,
                    draft.kind,
                    draft.category_id,
                    draft.opted_in_only,
                    draft.origin,
                    draft.campaign_id,
                    draft.run_id,
                    draft.message_ref,
                    draft.text,
                    _json_text(draft.template),
                    _json_text(draft.buttons or []),
                    draft.subject,
                    draft.html,
                    draft.media_url,
                    FAILED if refused else QUEUED,
                    gate.OPTED_OUT if refused else None,
                    0,
                    None if refused else moment,
                    moment,
                    moment,
                    moment if refused else None,
                )
            )
        inserted = await insert_rows(
            execute,
            "messages",
            _BATCH_COLUMNS,
            rows,
            tail="ON CONFLICT DO NOTHING RETURNING id, run_id, message_ref, status, failure_reason",
        )
        by_ref = {(row["run_id"], row["message_ref"]): row for row in inserted}
        unkeyed = iter(row for row in inserted if row["run_id"] is None or row["message_ref"] is None)
        for index in part:
            draft = drafts[index]
            if draft.run_id is None or draft.message_ref is None:
                results[index] = next(unkeyed)
            else:
                results[index] = by_ref.get((draft.run_id, draft.message_ref))
    missing = [index for index, row in enumerate(results) if row is None]
    if missing:
        existing = await _stored_flow_messages(workspace_id, [drafts[index] for index in missing])
        for index in missing:
            results[index] = existing[(drafts[index].run_id, drafts[index].message_ref)]
    return [row for row in results if row is not None]


async def _batch_gate(workspace_id: int, sender: dict, drafts: list[Draft], now: datetime) -> set[int]:
    """Indexes of the marketing drafts the consent gate blocks now (one query per group)."""
    groups: dict[tuple[int | None, bool], list[int]] = defaultdict(list)
    for index, draft in enumerate(drafts):
        if draft.kind not in gate.KINDS:
            raise InvalidInput("kind", f"{draft.kind!r} is not one of {', '.join(gate.KINDS)}")
        if draft.kind == "marketing":
            groups[(draft.category_id, draft.opted_in_only)].append(index)
    blocked: set[int] = set()
    for (category_id, opted_in_only), indexes in groups.items():
        target = rules.Target(
            workspace_id=workspace_id,
            channel=sender["channel"],
            sender_id=sender["id"],
            category_id=category_id,
            opted_in_only=opted_in_only,
        )
        found = await gate.blocked_addresses(target, [drafts[index].to for index in indexes], now)
        blocked.update(index for index in indexes if drafts[index].to in found)
    return blocked


async def _stored_flow_messages(
    workspace_id: int, drafts: list[Draft]
) -> dict[tuple[str | None, str | None], dict[str, Any]]:
    run_ids = sorted({draft.run_id for draft in drafts if draft.run_id is not None})
    rows = await Message.select(
        Message.id, Message.run_id, Message.message_ref, Message.status, Message.failure_reason
    ).where((Message.workspace == workspace_id) & Message.run_id.is_in(run_ids))
    return {(row["run_id"], row["message_ref"]): row for row in rows}


def _json_text(value: Any) -> str | None:
    return None if value is None else msgspec.json.encode(value).decode()


# --- a campaign's messages while it is paused, and when it stops ---------------------------------------


CAMPAIGN_CHUNK = 5000
"""Messages changed per statement when a campaign is held, released or stopped: a million-message
backlog is handled a chunk at a time, in flat memory."""


def _campaign_chunk(status_sql: str) -> str:
    """The ids of the next chunk of a campaign's messages in ``status_sql`` (by the messages_campaign index)."""
    return f"SELECT id FROM messages WHERE campaign_id = {{}} AND status IN ({status_sql}) LIMIT {CAMPAIGN_CHUNK}"


_QUEUED_CHUNK = _campaign_chunk("'queued'")
_HELD_CHUNK = _campaign_chunk("'held'")
_UNSENT_CHUNK = _campaign_chunk("'queued', 'held'")


async def hold_campaign_messages(campaign_id: int, now: datetime | None = None) -> int:
    """Keep a paused campaign's queued messages out of the send path (claims skip ``held``), and note the
    hold (:class:`~backend.messages.tables.CampaignHold`) so that the ones a chunk holds claimed, or a
    retry puts back later, are held too rather than sent; in the caller's transaction. How many."""
    moment = now or datetime.now(UTC)
    await execute(
        "INSERT INTO message_holds (campaign_id, held_at) VALUES ({}, {}) ON CONFLICT DO NOTHING",
        campaign_id,
        moment,
    )
    held = 0
    while True:
        rows = await execute(
            f"UPDATE messages SET status = 'held', updated_at = {{}} WHERE id IN ({_QUEUED_CHUNK}) "
            "RETURNING id",
            moment,
            campaign_id,
        )
        held += len(rows)
        if len(rows) < CAMPAIGN_CHUNK:
            return held


async def release_campaign_messages(
    campaign_id: int, queue: Any, now: datetime | None = None, *, suffix: str = ""
) -> int:
    """Put a campaign's held messages back in the queue, due now, and enqueue them, once its hold is
    dropped (:func:`drop_hold`): a chunk per transaction, so a crash half-way leaves the rest held for the
    next call (the campaigns sweeper releases what a running campaign still holds). How many."""
    moment = now or datetime.now(UTC)
    released = 0
    while True:
        async with transaction():
            # Nothing while the campaign is held again (suspended between two chunks).
            rows = await execute(
                "UPDATE messages SET status = 'queued', next_attempt_at = {}, updated_at = {} "
                f"WHERE id IN ({_HELD_CHUNK}) "
                "AND NOT EXISTS (SELECT 1 FROM message_holds h WHERE h.campaign_id = {}) RETURNING id",
                moment,
                moment,
                campaign_id,
                campaign_id,
            )
        await enqueue_sends(queue, [row["id"] for row in rows], suffix=suffix)
        released += len(rows)
        if len(rows) < CAMPAIGN_CHUNK:
            return released


async def cancel_campaign_messages(campaign_id: int, reason: str, now: datetime | None = None) -> int:
    """Fail a campaign's unsent (queued or held) messages with ``reason``: it will send nothing more.

    Messages already claimed by a worker (``sending``) finish: they may be at the provider already.
    Observers hear of every one, in the caller's transaction. How many.
    """
    moment = now or datetime.now(UTC)
    # Marked ended rather than unheld: messages a chunk holds claimed right now, or hands back to the queue
    # after this, fail with ``reason`` at its next check instead of leaving after the campaign ended.
    await execute(
        "INSERT INTO message_holds (campaign_id, held_at, ended_reason) VALUES ({}, {}, {}) "
        "ON CONFLICT (campaign_id) DO UPDATE SET ended_reason = excluded.ended_reason",
        campaign_id,
        moment,
        reason,
    )
    cancelled = 0
    while True:
        rows = await execute(
            "UPDATE messages SET status = 'failed', failure_reason = {}, failed_at = {}, updated_at = {}, "
            f"next_attempt_at = NULL WHERE id IN ({_UNSENT_CHUNK}) "
            "RETURNING id, workspace, campaign_id, run_id, message_ref, status, failure_reason",
            reason,
            moment,
            moment,
            campaign_id,
        )
        await observers.notify(
            [
                observers.StatusChange(
                    message_id=row["id"],
                    workspace_id=row["workspace"],
                    campaign_id=row["campaign_id"],
                    run_id=row["run_id"],
                    message_ref=row["message_ref"],
                    before="queued",
                    after="failed",
                    failure_reason=reason,
                    at=moment,
                    reached=frozenset({"failed"}),
                )
                for row in rows
            ],
            execute,
        )
        cancelled += len(rows)
        if len(rows) < CAMPAIGN_CHUNK:
            return cancelled


async def drop_hold(campaign_id: int) -> None:
    """The campaign runs again: its messages may leave (:func:`release_campaign_messages` then requeues the
    held ones). The caller holds the campaign's lock, so a suspend is wholly before or after. An ended
    campaign's mark stays."""
    await execute("DELETE FROM message_holds WHERE campaign_id = {} AND ended_reason IS NULL", campaign_id)


async def held_campaigns(campaign_ids: set[int], raw: Any = None) -> dict[int, str | None]:
    """The held ones among these campaigns: None for a paused campaign (its messages wait), the failure
    reason for an ended or deleted one (its messages fail)."""
    if not campaign_ids:
        return {}
    ids = sorted(campaign_ids)
    rows = await (raw or execute)(
        f"SELECT campaign_id, ended_reason FROM message_holds WHERE campaign_id IN ({in_list(len(ids))})",
        *ids,
    )
    return {int(row["campaign_id"]): row["ended_reason"] for row in rows}


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


async def enqueue_sends(queue: Any, message_ids: list[int], *, suffix: str = "") -> None:
    """Hand stored messages to the workers in batch jobs, after the commit that made them visible.

    Job ids are deterministic (the batch's ids), so enqueuing the same batch twice is one job while it
    lives; ``suffix`` makes them new, for messages enqueued again (arq refuses an id whose result it
    still keeps). Without a queue (a script, a test) nothing is enqueued: the reconciler picks them up.
    """
    if queue is None or not message_ids:
        return
    ids = sorted(message_ids)
    for start in range(0, len(ids), BATCH_SIZE):
        batch = ids[start : start + BATCH_SIZE]
        await queue.enqueue_job(SEND_FUNCTION, batch, _job_id=batch_job_id(batch, suffix))


def batch_job_id(batch: list[int], suffix: str = "") -> str:
    return f"{SEND_JOB_PREFIX}{batch[0]}-{batch[-1]}:{len(batch)}{suffix}"


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
        media_url=row.get("media_url"),
    )


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value
