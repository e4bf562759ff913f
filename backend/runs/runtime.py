"""The conversation runtime: a contact's reply or tap resumes the run it answers, or starts a keyword flow.

Installed in the worker at start-up (:func:`backend.inbound.runtime.set_runtime`); the gateway calls it
once a non-keyword inbound message is stored. Which run a reply goes to:

1. the run of the message it answers, when the provider says (WhatsApp's context id, a tapped button),
   if that run waits for a reply or a tap;
2. else the contact's run on the same sender that most recently began waiting for a reply or a tap;
3. else, for a text, the workspace's keyword-triggered flow whose keywords it says starts a new run.

Idempotent per inbound message: the reply is stored in the run's inbox under ``reply:<message id>``,
and a keyword start is remembered the same way, so a hand-off delivered twice acts once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from backend.consent.keywords import match
from backend.core.bulk import in_list
from backend.core.database import is_unique_violation, transaction
from backend.flows.tables import FlowVersion
from backend.inbound.runtime import InboundReply
from backend.runs import engine, inbox
from backend.runs.flows import versions
from backend.runs.tables import Run, RunEvent
from flows.run import ButtonTap, Event, Reply
from flows.schema import StartNode

log = logging.getLogger(__name__)

REPLY_WAITS = ("reply", "buttons")


class FlowRuntime:
    """:class:`backend.inbound.runtime.ConversationRuntime` for flow runs."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    async def on_inbound(self, reply: InboundReply) -> None:
        key = f"reply:{reply.message_id}"
        if await _already_taken(reply.contact_id, key, f"start:{reply.message_id}"):
            return
        run = await _run_for(reply)
        if run is not None:
            event: Event
            if reply.button_id:
                event = ButtonTap(
                    button_id=reply.button_id, text=reply.text or "", message_ref=reply.message_ref or ""
                )
            else:
                event = Reply(text=reply.text or "")
            await inbox.deliver([(run["id"], key, event)], now=reply.received_at)
            await engine.drive([run["id"]], queue=self.queue)
            return
        if reply.text and not reply.button_id:
            await start_keyword_flow(reply, queue=self.queue)


async def _already_taken(contact_id: int, *keys: str) -> bool:
    """Whether this inbound message already went to one of the contact's runs (a repeated hand-off),
    as a reply or as the keyword that started a run."""
    rows = await RunEvent.raw(
        'SELECT 1 FROM "run_events" e JOIN "runs" r ON r.id = e.run '
        f"WHERE r.contact = {{}} AND e.key IN ({in_list(len(keys))}) LIMIT 1",
        contact_id,
        *keys,
    )
    return bool(rows)


async def _run_for(reply: InboundReply) -> dict[str, Any] | None:
    """The run a reply goes to. A reply that names its run (a tap on one of its messages, a quoted
    message) goes to that run or to none: a late tap on a finished run's offer must not answer another
    run that happens to wait."""
    base = (Run.workspace == reply.workspace_id) & (Run.contact == reply.contact_id)
    if reply.run_id:
        if not (reply.run_id.isdigit() and len(reply.run_id) < 19):
            return None
        named = (
            await Run.select(Run.id, Run.status, Run.waiting_kind)
            .where(base & (Run.id == int(reply.run_id)))
            .first()
        )
        if named is None:
            return None
        # A named run that does not wait for a reply records the event as ignored.
        return named if named["status"] in ("active", "waiting") else None
    return (
        await Run.select(Run.id)
        .where(
            base
            & (Run.status == "waiting")
            & Run.waiting_kind.is_in(list(REPLY_WAITS))
            & (Run.sender == reply.sender_id)
        )
        .order_by(Run.updated_at, ascending=False)
        .order_by(Run.id, ascending=False)
        .first()
    )


async def start_keyword_flow(reply: InboundReply, *, queue: Any) -> int | None:
    """Start the keyword-triggered flow the reply's text names, if any; the new run's id."""
    version = await _keyword_version(reply.workspace_id, reply.text or "")
    if version is None:
        return None
    now = datetime.now(UTC)
    try:
        return await _start(reply, version, now, queue)
    except Exception as exc:
        # A concurrent hand-off of the same message started it: the start marker is unique.
        if is_unique_violation(exc):
            return None
        raise


async def _start(reply: InboundReply, version: dict[str, Any], now: datetime, queue: Any) -> int | None:
    async with transaction():
        if await _already_taken(reply.contact_id, f"start:{reply.message_id}", f"reply:{reply.message_id}"):
            return None
        inserted = await Run.insert(
            Run(
                workspace=reply.workspace_id,
                flow=version["flow"],
                flow_version=version["id"],
                campaign_id=None,
                contact=reply.contact_id,
                sender=reply.sender_id,
                trigger="keyword",
                status="active",
                started_at=now,
                updated_at=now,
            )
        ).returning(Run.id)
        run_id = inserted[0]["id"]
        # Remembered as an applied event (its key is unique among starts: run_events_start_key), so a
        # repeated or concurrent hand-off of this message starts nothing more.
        await RunEvent.insert(
            RunEvent(
                run=run_id,
                key=f"start:{reply.message_id}",
                kind="start",
                event="{}",
                status="applied",
                created_at=now,
                applied_at=now,
            )
        )
        after = await engine.step_in_transaction([run_id], now=now)
    await after.dispatch(queue)
    log.info(
        "keyword %r started flow %s for contact %s (run %s)",
        reply.text,
        version["flow"],
        reply.contact_id,
        run_id,
    )
    return run_id


async def _keyword_version(workspace_id: int, text: str) -> dict[str, Any] | None:
    """The latest published keyword-triggered version whose start keywords the text says (the longest
    keyword wins, then the oldest flow)."""
    candidates = await FlowVersion.raw(
        'SELECT v.id, v.flow FROM "flow_versions" v JOIN "flows" f ON f.id = v.flow '
        "WHERE f.workspace = {} AND v.workspace = {} AND v.number = f.latest_version AND v.trigger = 'keyword'",
        workspace_id,
        workspace_id,
    )
    if not candidates:
        return None
    compiled = await versions.get_many({row["id"] for row in candidates})
    best: tuple[int, int, dict[str, Any]] | None = None
    for row in sorted(candidates, key=lambda row: row["flow"]):
        version = compiled.get(row["id"])
        flow = version.compiled if version is not None else None
        start = flow.nodes.get(flow.start_id) if flow is not None and flow.start_id else None
        if not isinstance(start, StartNode) or not start.keywords:
            continue
        keyword = match(text, list(start.keywords))
        if keyword is not None and (best is None or len(keyword) > best[0]):
            best = (len(keyword), row["flow"], row)
    return best[2] if best is not None else None
