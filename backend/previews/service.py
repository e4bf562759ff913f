"""Hosting a preview run: step the interpreter, perform its actions harmlessly, keep the transcript."""

from __future__ import annotations

import secrets
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import msgspec
from redis.asyncio import Redis

from backend.core import outbound
from backend.core.errors import Conflict, InvalidInput, NotFound
from backend.flows import service as flows
from backend.previews.schemas import Bubble, PreviewRecord, TestContact
from backend.workspaces import service as workspaces
from backend.workspaces.auth import Principal
from flows.graph import CompiledFlow
from flows.interpreter import step
from flows.run import (
    AddTag,
    ButtonTap,
    CallHttp,
    ChangeGroup,
    ContactSnapshot,
    EndRun,
    Event,
    HttpResult,
    OptIn,
    OptOut,
    Reply,
    ScheduleTimer,
    SendMessage,
    SetAttribute,
    Start,
    TimerFired,
)
from flows.schema import decode_graph

PREVIEW_TTL = timedelta(hours=24)
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(PreviewRecord)


def _key(preview_id: str) -> str:
    return f"flowgate:preview:{preview_id}"


class PreviewHost:
    """Everything a preview needs from outside the interpreter, for one request."""

    def __init__(self, redis: Redis, http: httpx.AsyncClient) -> None:
        self.redis = redis
        self.http = http

    async def start(
        self, principal: Principal, flow_id: int, version: int | None, contact: TestContact, seed: int
    ):
        if contact.timezone:
            try:
                ZoneInfo(contact.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise InvalidInput(
                    "contact.timezone", f"{contact.timezone!r} is not an IANA time zone"
                ) from None
        row = await flows.get_version(principal, flow_id, version)
        now = datetime.now(UTC)
        snapshot = ContactSnapshot(
            name=contact.name,
            phone=contact.phone,
            email=contact.email,
            timezone=contact.timezone or "UTC",
            attributes=dict(contact.attributes),
        )
        record = PreviewRecord(
            id=secrets.token_urlsafe(12),
            workspace_id=principal.workspace_id,
            flow_id=flow_id,
            version=row["number"],
            created_at=now,
            clock=now,
            state=None,  # type: ignore[arg-type]  # set by the first step below
        )
        await self._advance(principal, record, row["graph"], Start(contact=snapshot, seed=seed))
        await self._save(record)
        return record

    async def load(self, principal: Principal, preview_id: str) -> PreviewRecord:
        raw = await self.redis.get(_key(preview_id))
        if raw is None:
            raise NotFound("preview", preview_id)
        record = _decoder.decode(raw)
        if record.workspace_id != principal.workspace_id:
            raise NotFound("preview", preview_id)
        return record

    async def reply(self, principal: Principal, preview_id: str, text: str | None, button_id: str | None):
        if (text is None) == (button_id is None):
            raise InvalidInput("text", "send either text or button_id (exactly one)")
        async with self.redis.lock(f"{_key(preview_id)}:lock", timeout=30, blocking_timeout=10):
            record = await self.load(principal, preview_id)
            self._refuse_if_finished(record)
            record.clock = max(record.clock, datetime.now(UTC))
            if button_id is not None:
                title = self._button_title(record, button_id)
                if title is None:
                    raise InvalidInput("button_id", f"no button {button_id!r} in the flow's latest message")
                record.transcript.append(Bubble(direction="in", text=title, at=record.clock))
                event: Event = ButtonTap(button_id=button_id, text=title)
            else:
                record.transcript.append(Bubble(direction="in", text=text or "", at=record.clock))
                event = Reply(text=text or "")
            before = record.state
            graph = (await flows.get_version(principal, record.flow_id, record.version))["graph"]
            await self._advance(principal, record, graph, event)
            if record.state is before:
                record.transcript.append(
                    Bubble(
                        direction="note",
                        text="The flow is not waiting for a reply here; it ignored this one.",
                        at=record.clock,
                    )
                )
            await self._save(record)
            return record

    async def skip_wait(self, principal: Principal, preview_id: str):
        async with self.redis.lock(f"{_key(preview_id)}:lock", timeout=30, blocking_timeout=10):
            record = await self.load(principal, preview_id)
            self._refuse_if_finished(record)
            waiting = record.state.waiting
            if waiting is None or waiting.timer_id not in record.timers:
                raise Conflict("the flow is not waiting for a timer or a timeout right now")
            fire_at = record.timers[waiting.timer_id]
            record.clock = max(record.clock, fire_at)
            graph = (await flows.get_version(principal, record.flow_id, record.version))["graph"]
            label = _label_of(graph, waiting.node_id)
            record.transcript.append(
                Bubble(
                    direction="note",
                    text=f"Skipped the wait at “{label}”." if label else "Skipped the wait.",
                    node_id=waiting.node_id,
                    at=record.clock,
                )
            )
            await self._advance(principal, record, graph, TimerFired(timer_id=waiting.timer_id))
            await self._save(record)
            return record

    # --- internals ---------------------------------------------------------------------------------

    @staticmethod
    def _refuse_if_finished(record: PreviewRecord) -> None:
        if record.state.finished:
            raise Conflict("this preview has ended; start a new one")

    @staticmethod
    def _button_title(record: PreviewRecord, button_id: str) -> str | None:
        for bubble in reversed(record.transcript):
            if bubble.direction == "out":
                return next((button.title for button in bubble.buttons if button.id == button_id), None)
        return None

    async def _save(self, record: PreviewRecord) -> None:
        await self.redis.set(_key(record.id), _encoder.encode(record), ex=PREVIEW_TTL)

    async def _advance(
        self, principal: Principal, record: PreviewRecord, graph: dict[str, Any], first: Event
    ) -> None:
        """Feed one event, then perform the resulting actions, feeding HTTP results back, until it waits."""
        compiled = CompiledFlow.from_graph(decode_graph(graph))
        events: deque[Event] = deque([first])
        while events:
            result = step(compiled, record.state, events.popleft(), record.clock)
            record.state = result.state
            for action in result.actions:
                outcome = await self._perform(principal, record, action)
                if outcome is not None:
                    events.append(outcome)
        waiting = record.state.waiting
        record.timers = {
            timer: at
            for timer, at in record.timers.items()
            if waiting is not None and timer == waiting.timer_id
        }

    async def _perform(self, principal: Principal, record: PreviewRecord, action: Any) -> Event | None:
        at = record.clock
        if isinstance(action, SendMessage):
            template = msgspec.to_builtins(action.template) if action.template else None
            record.transcript.append(
                Bubble(
                    direction="out",
                    text=action.text,
                    node_id=action.node_id,
                    at=at,
                    buttons=list(action.buttons),
                    media_url=action.media_url,
                    template=template,
                    message_kind=action.message_kind,
                )
            )
        elif isinstance(action, ScheduleTimer):
            record.timers[action.timer_id] = action.fire_at
        elif isinstance(action, CallHttp):
            return await self._call_http(principal, record, action)
        elif isinstance(action, EndRun):
            record.transcript.append(
                Bubble(
                    direction="note",
                    text=_END_TEXT.get(action.reason, f"The flow ended ({action.reason})."),
                    node_id=action.node_id,
                    at=at,
                )
            )
        else:
            note = _note_for(action)
            if note:
                record.transcript.append(Bubble(direction="note", text=note, node_id=action.node_id, at=at))
        return None

    async def _call_http(self, principal: Principal, record: PreviewRecord, action: CallHttp) -> HttpResult:
        workspace = await workspaces.get_workspace(principal.workspace_id)
        try:
            response = await outbound.request(
                self.http,
                action.method,
                action.url,
                headers=action.headers,
                body=action.body or None,
                timeout_s=action.timeout_seconds,
                allow_private=workspace["allow_private_urls"],
            )
        except outbound.RefusedURL as exc:
            note = f"HTTP {action.method} {action.url} was not sent: {exc}"
            result = HttpResult(request_id=action.request_id, error=str(exc))
        except httpx.HTTPError as exc:
            note = f"HTTP {action.method} {action.url} failed: {exc or type(exc).__name__}"
            result = HttpResult(request_id=action.request_id, error=str(exc) or type(exc).__name__)
        else:
            note = f"HTTP {action.method} {action.url} answered {response.status_code}"
            result = HttpResult(
                request_id=action.request_id, status_code=response.status_code, body=response.body
            )
        record.transcript.append(Bubble(direction="note", text=note, node_id=action.node_id, at=record.clock))
        return result


_END_TEXT = {
    "end": "The flow ended.",
    "no_path": "The flow ended: this output is not connected to anything.",
    "step_budget_exceeded": "The flow stopped: it ran too many steps without waiting (a loop?).",
}


def _note_for(action: Any) -> str:
    if isinstance(action, SetAttribute):
        return f"Set {action.attribute} to {action.value!r}."
    if isinstance(action, AddTag):
        return f"Tagged the contact {action.tag!r}."
    if isinstance(action, ChangeGroup):
        return f"{'Added the contact to' if action.action == 'add' else 'Removed the contact from'} group {action.group_id}."
    if isinstance(action, OptOut):
        scope = f"category {action.category_id}" if action.category_id else "all marketing"
        return f"Opted the contact out of {scope}."
    if isinstance(action, OptIn):
        scope = f"category {action.category_id}" if action.category_id else "all marketing"
        return f"Opted the contact in to {scope}."
    return ""


def preview_out(record: PreviewRecord) -> dict[str, Any]:
    state = record.state
    waiting = state.waiting
    return {
        "id": record.id,
        "flow_id": record.flow_id,
        "version": record.version,
        "status": state.status,
        "active_node": state.current_node,
        "waiting": (
            {"kind": waiting.kind, "node_id": waiting.node_id, "until": waiting.until}
            if waiting is not None
            else None
        ),
        "transcript": [msgspec.to_builtins(bubble) for bubble in record.transcript],
        "path": [{"node_id": p.node_id, "port": p.port, "at": p.at} for p in state.path],
        "variables": dict(state.vars),
        "contact": msgspec.to_builtins(state.contact),
        "clock": record.clock,
    }


def _label_of(graph: dict[str, Any], node_id: str) -> str:
    """The step's label as the marketer wrote it (its id is the editor's, not theirs); "" when it has none."""
    for node in graph.get("nodes", []):
        if node.get("id") == node_id:
            return str(node.get("label") or "")
    return ""
