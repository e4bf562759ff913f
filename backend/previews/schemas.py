from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from backend.core.schemas import Input, Output
from flows.run import RunState
from flows.schema import Button


class TestContact(Input):
    name: Annotated[str, Meta(max_length=200)] = "Test contact"
    phone: Annotated[str, Meta(max_length=32)] = ""
    email: Annotated[str, Meta(max_length=254)] = ""
    timezone: Annotated[str, Meta(max_length=64)] = "UTC"
    attributes: dict[str, Any] = {}


class PreviewCreate(Input):
    flow_id: int
    version: Annotated[int, Meta(ge=1)] | None = None
    """A published version number; none = the latest."""
    contact: TestContact = msgspec.field(default_factory=TestContact)
    seed: int = 0
    """Fixes the outcome of random splits, so a preview can be replayed."""


class PreviewReply(Input):
    """Exactly one of ``text`` (typed reply) and ``button_id`` (tapped button)."""

    text: Annotated[str, Meta(max_length=4096)] | None = None
    button_id: Annotated[str, Meta(max_length=64)] | None = None


class Bubble(Struct, kw_only=True):
    direction: Literal["out", "in", "note"]
    """``out``: the flow's message; ``in``: the test contact's reply; ``note``: what the flow did silently."""
    text: str = ""
    node_id: str | None = None
    at: datetime
    buttons: list[Button] = []
    media_url: str = ""
    template: dict[str, Any] | None = None
    message_kind: str | None = None


class PreviewRecord(Struct, kw_only=True):
    """What Redis keeps of a preview."""

    id: str
    workspace_id: int
    flow_id: int
    version: int
    created_at: datetime
    clock: datetime
    """The preview's own time: "skip wait" moves it forward to the timer, like the real wait would."""
    state: RunState
    transcript: list[Bubble] = []
    timers: dict[str, datetime] = {}


class WaitingOut(Output):
    kind: str
    node_id: str
    until: datetime | None


class PathStepOut(Output):
    node_id: str
    port: str | None
    at: datetime


class PreviewOut(Output):
    id: str
    flow_id: int
    version: int
    status: str
    active_node: str | None
    """The node the run is at (waiting there, or where it ended)."""
    waiting: WaitingOut | None
    transcript: list[Bubble]
    path: list[PathStepOut]
    variables: dict[str, Any]
    contact: dict[str, Any]
    clock: datetime
