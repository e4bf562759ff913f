"""The interpreter's contract: the events a run receives, the actions it asks for, and its state.

A run is one contact's journey through one published flow version. Its :class:`RunState` is plain
data (JSON via msgspec), stored by whoever hosts the run: the campaign engine's workers, the preview
API, the tests. :func:`flows.interpreter.step` takes the state and one event and returns new state and
a list of actions; the host performs the actions (send, schedule a timer, call HTTP, change the
contact) and feeds the outcomes back as events.

Ids in actions (``message_ref``, ``timer_id``, ``request_id``) are deterministic (``<node>#<visit>``),
so a host can use them as idempotency keys: a node's message is sent at most once per visit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from msgspec import Struct

from flows.schema import Button, MessageKind

# --- what a run knows about its contact ----------------------------------------------------------------


class ContactSnapshot(Struct, kw_only=True):
    id: int | None = None
    name: str = ""
    phone: str = ""
    email: str = ""
    timezone: str = "UTC"
    attributes: dict[str, Any] = {}
    tags: list[str] = []


# --- events (in) -----------------------------------------------------------------------------------------


class Start(Struct, tag="start", kw_only=True):
    contact: ContactSnapshot
    seed: int = 0
    """Makes random splits reproducible: the same seed takes the same branches."""


class Reply(Struct, tag="reply", kw_only=True):
    text: str


class ButtonTap(Struct, tag="button", kw_only=True):
    button_id: str
    text: str = ""
    """The button's title as the contact saw it (providers send both)."""
    message_ref: str = ""
    """The message whose button was tapped, when the provider says (WhatsApp's context id): a late tap
    on an older message is then ignored instead of answering the current one."""


class TimerFired(Struct, tag="timer", kw_only=True):
    timer_id: str


class SendResult(Struct, tag="send_result", kw_only=True):
    message_ref: str
    status: Literal["sent", "delivered", "read", "failed"]
    reason: str = ""
    """For ``failed``: e.g. ``opted_out``; the run moves on along the node's ``next`` (seed 002)."""


class HttpResult(Struct, tag="http_result", kw_only=True):
    request_id: str
    status_code: int | None = None
    """None when no answer came (timeout, refused, DNS)."""
    body: Any = None
    """The parsed JSON body, or the text when it was not JSON."""
    error: str = ""


Event = Start | Reply | ButtonTap | TimerFired | SendResult | HttpResult


# --- actions (out) ---------------------------------------------------------------------------------------


class RenderedTemplate(Struct, kw_only=True):
    name: str
    language: str
    params: list[str]


class SendMessage(Struct, tag="send_message", kw_only=True):
    node_id: str
    message_ref: str
    message_kind: MessageKind
    category_id: int | None = None
    text: str = ""
    media_url: str = ""
    buttons: list[Button] = []
    template: RenderedTemplate | None = None


class ScheduleTimer(Struct, tag="schedule_timer", kw_only=True):
    node_id: str
    timer_id: str
    fire_at: datetime


class CallHttp(Struct, tag="call_http", kw_only=True):
    node_id: str
    request_id: str
    method: str
    url: str
    headers: dict[str, str] = {}
    body: str = ""
    timeout_seconds: float = 10.0


class SetAttribute(Struct, tag="set_attribute", kw_only=True):
    node_id: str
    attribute: str
    value: str


class AddTag(Struct, tag="add_tag", kw_only=True):
    node_id: str
    tag: str


class ChangeGroup(Struct, tag="change_group", kw_only=True):
    node_id: str
    group_id: int
    action: Literal["add", "remove"]


class OptOut(Struct, tag="opt_out", kw_only=True):
    node_id: str
    category_id: int | None = None


class OptIn(Struct, tag="opt_in", kw_only=True):
    node_id: str
    category_id: int | None = None


class EndRun(Struct, tag="end_run", kw_only=True):
    status: Literal["completed", "failed"]
    reason: str
    """``end`` (an end node), ``no_path`` (an output left unconnected or in ``ends``),
    ``step_budget_exceeded``, ``no_start``, ``unknown_node`` (an edge to a missing node, or a state
    from another version), ``invalid_node`` (settings the interpreter cannot act on)."""
    node_id: str | None = None


Action = (
    SendMessage | ScheduleTimer | CallHttp | SetAttribute | AddTag | ChangeGroup | OptOut | OptIn | EndRun
)


# --- state -----------------------------------------------------------------------------------------------


class PathStep(Struct, kw_only=True):
    node_id: str
    port: str | None = None
    """The port the run left through; None while it is still at the node (or it ended there)."""
    at: datetime


class Waiting(Struct, kw_only=True):
    """What the run is paused for, at ``node_id``."""

    kind: Literal["reply", "buttons", "timer", "http"]
    node_id: str
    timer_id: str = ""
    """The timer that ends the wait (a delay, or a reply/button timeout)."""
    request_id: str = ""
    message_ref: str = ""
    """For ``buttons``: the message whose buttons the run waits on."""
    until: datetime | None = None


class LastReply(Struct, kw_only=True):
    text: str = ""
    button: str = ""


class RunState(Struct, kw_only=True):
    status: Literal["active", "waiting", "completed", "failed"] = "active"
    current_node: str | None = None
    waiting: Waiting | None = None
    contact: ContactSnapshot
    vars: dict[str, Any] = {}
    last_reply: LastReply | None = None
    path: list[PathStep] = []
    """The nodes visited, oldest first (the most recent ``MAX_PATH`` are kept)."""
    visits: dict[str, int] = {}
    last_message_ref: str = ""
    """The run's most recent message: a tap that names an older message is late, not an answer."""
    seed: int = 0
    steps: int = 0
    """Nodes executed over the run's whole life."""
    ended_reason: str = ""

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")


class StepResult(Struct, kw_only=True):
    actions: list[Action]
    state: RunState


MAX_PATH = 500
