"""The pure flow interpreter: one event in, new run state and a list of actions out.

:func:`step` runs a contact's journey through a compiled flow until the run must wait for the outside
world (a reply, a button tap, a timer, an HTTP answer) or ends. It never does I/O and never reads the
clock: the host performs the actions and feeds their outcomes back as events, with the ``now`` it
chose. That keeps campaign workers, the preview API and the tests on one implementation, and makes a
run reproducible from its events alone (random splits are seeded from the run's ``seed``).

Shape: :func:`step` decides first whether the event is for this run at all (anything unexpected is
ignored and the very same state object comes back, so a host can compare by identity); only then is
the state copied, once, and a :class:`_Run` walks the graph, dispatching each node to a small handler
per node kind. A handler returns the port to leave through, or ``None`` when it paused or ended the
run.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from msgspec.structs import replace

from flows import templating
from flows.graph import CompiledFlow
from flows.run import (
    MAX_PATH,
    Action,
    AddTag,
    ButtonTap,
    CallHttp,
    ChangeGroup,
    ContactSnapshot,
    EndRun,
    Event,
    HttpResult,
    LastReply,
    OptIn,
    OptOut,
    PathStep,
    RenderedTemplate,
    Reply,
    RunState,
    ScheduleTimer,
    SendMessage,
    SendResult,
    SetAttribute,
    Start,
    StepResult,
    TimerFired,
    Waiting,
)
from flows.schema import (
    AddTagNode,
    AddToGroupNode,
    BranchNode,
    BranchRule,
    DelayNode,
    EndNode,
    HttpRequestNode,
    Node,
    OptInNode,
    OptOutNode,
    RemoveFromGroupNode,
    SendMessageNode,
    SetAttributeNode,
    StartNode,
    TemplateRef,
    WaitForReplyNode,
)

__all__ = [
    "DEFAULT_BUDGET",
    "attribute_matches",
    "body_value",
    "contact_value",
    "next_time_of_day",
    "parse_time_of_day",
    "step",
    "zone",
]

DEFAULT_BUDGET = 1000
"""Node executions allowed per :func:`step` call: a loop without a wait stops here instead of spinning."""

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Index = :meth:`datetime.date.weekday`; the spelling of :data:`flows.schema.Weekday`."""

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")
"""Numbers as :mod:`flows.validation` accepts them in rules, plus a decimal comma ("1,5")."""
_TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d{2})")
_WAIT_NODE_KIND: dict[str, type[Node]] = {
    "reply": WaitForReplyNode,
    "buttons": SendMessageNode,
    "timer": DelayNode,
    "http": HttpRequestNode,
}
"""The node kind that can own each kind of wait; anything else means the state is not from this flow."""


# --- entry point -------------------------------------------------------------------------------------------


def step(
    flow: CompiledFlow,
    state: RunState | None,
    event: Event,
    now: datetime,
    *,
    budget: int = DEFAULT_BUDGET,
) -> StepResult:
    """Apply one event to a run and run on until it must wait again or ends.

    ``Start`` with no state creates the run. Events a run is not waiting for (a second ``Start``, any
    event after the end, a reply during a delay, a stale timer, another request's HTTP result) are
    ignored: the same state object comes back with no actions, so retried or late deliveries are
    harmless. ``now`` is the host's clock; a naive value is taken as UTC. The input state is never
    mutated: callers keep it as the "before" picture (previews, retries).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        now = now.replace(tzinfo=UTC)
    if isinstance(event, Start):
        if state is not None:
            return _ignored(state)
        return _start(flow, event, now, budget)
    if state is None:
        raise ValueError(f"a run begins with a Start event, not {type(event).__name__}")
    waiting = state.waiting
    if state.finished or waiting is None:
        return _ignored(state)
    node = flow.nodes.get(waiting.node_id)
    if not isinstance(node, _WAIT_NODE_KIND[waiting.kind]):
        # The state was made by another version of the flow: the run cannot go on from here.
        run = _Run(flow, _own_copy(state), now, budget)
        run.end("failed", "unknown_node")
        return run.result()
    outcome = _MATCHERS[waiting.kind](flow, node, waiting, event, state)
    if outcome is None:
        return _ignored(state)
    run = _Run(flow, _own_copy(state), now, budget)
    run.resume(outcome)
    return run.result()


def _ignored(state: RunState) -> StepResult:
    return StepResult(actions=[], state=state)


def _start(flow: CompiledFlow, event: Start, now: datetime, budget: int) -> StepResult:
    contact = event.contact
    snapshot = replace(contact, attributes=dict(contact.attributes), tags=list(contact.tags))
    run = _Run(flow, RunState(contact=snapshot, seed=event.seed), now, budget)
    if flow.start_id is None:
        run.end("failed", "no_start")
    else:
        run.run_from(flow.start_id)
    return run.result()


def _own_copy(state: RunState) -> RunState:
    """Copy everything a step may change, once per call, so the caller's state stays untouched.

    Shallow on purpose: values inside ``vars`` and attributes are replaced, never edited in place, and
    only the last path entry can get its port set (when the run leaves the node it waited at).
    """
    contact = state.contact
    path = list(state.path)
    if path:
        path[-1] = replace(path[-1])
    return replace(
        state,
        contact=replace(contact, attributes=dict(contact.attributes), tags=list(contact.tags)),
        vars=dict(state.vars),
        path=path,
        visits=dict(state.visits),
    )


# --- matching an event against what the run waits for -------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How a wait ends: the port to leave through and what the event teaches the run."""

    port: str
    reply: LastReply | None = None
    saves: Mapping[str, Any] | None = None


def _late_tap(state: RunState, event: ButtonTap) -> bool:
    """A tap on a button of an older message than the run's latest (a second tap on an offer already
    answered) is not an answer to whatever the run asks now."""
    return bool(event.message_ref and state.last_message_ref and event.message_ref != state.last_message_ref)


def _match_reply(
    flow: CompiledFlow, node: Any, waiting: Waiting, event: Event, state: RunState
) -> _Outcome | None:
    """wait_for_reply: a reply or a tap (which is a reply too) goes to ``reply``, its timer to ``timeout``."""
    if isinstance(event, Reply):
        reply = LastReply(text=event.text)
    elif isinstance(event, ButtonTap):
        if _late_tap(state, event):
            return None
        reply = LastReply(text=event.text or event.button_id, button=event.button_id)
    elif isinstance(event, TimerFired) and event.timer_id == waiting.timer_id:
        return _Outcome("timeout")
    else:
        return None
    saves = {node.save_as: reply.text} if node.save_as else None
    return _Outcome("reply", reply, saves)


def _match_buttons(
    flow: CompiledFlow, node: Any, waiting: Waiting, event: Event, state: RunState
) -> _Outcome | None:
    """A send waiting on its buttons: a tap on a connected button takes its port; the rest goes to ``next``.

    A failed send (e.g. ``opted_out``) must not strand the run at a message nobody saw (seed 002).
    """
    if isinstance(event, ButtonTap):
        if event.message_ref and event.message_ref != waiting.message_ref:
            return None  # a late tap on an older message's button
        button = next((button for button in node.buttons if button.id == event.button_id), None)
        title = button.title if button is not None else ""
        reply = LastReply(text=event.text or title or event.button_id, button=event.button_id)
        if button is not None:
            port = f"button:{button.id}"
            if flow.target(node.id, port) is not None:
                return _Outcome(port, reply)
        return _Outcome("next", reply)
    if isinstance(event, Reply):
        return _Outcome("next", LastReply(text=event.text))
    if isinstance(event, TimerFired) and event.timer_id == waiting.timer_id:
        return _Outcome("next")
    if (
        isinstance(event, SendResult)
        and event.message_ref == waiting.message_ref
        and event.status == "failed"
    ):
        return _Outcome("next")
    return None


def _match_timer(
    flow: CompiledFlow, node: Any, waiting: Waiting, event: Event, state: RunState
) -> _Outcome | None:
    """A delay only listens to its own timer; replies meanwhile are not for it."""
    if isinstance(event, TimerFired) and event.timer_id == waiting.timer_id:
        return _Outcome("next")
    return None


def _match_http(
    flow: CompiledFlow, node: Any, waiting: Waiting, event: Event, state: RunState
) -> _Outcome | None:
    """2xx saves the chosen response fields and goes to ``success``; anything else is a ``failure``."""
    if not isinstance(event, HttpResult) or event.request_id != waiting.request_id:
        return None
    code = event.status_code
    if code is None or not 200 <= code < 300:
        return _Outcome("failure")
    # A missing field is saved as None on purpose: a loop must not keep the previous call's value.
    saves = {item.variable: body_value(event.body, item.path) for item in node.save if item.variable}
    return _Outcome("success", saves=saves or None)


_MATCHERS: dict[str, Callable[[CompiledFlow, Any, Waiting, Event, RunState], _Outcome | None]] = {
    "reply": _match_reply,
    "buttons": _match_buttons,
    "timer": _match_timer,
    "http": _match_http,
}


def body_value(body: Any, path: str) -> Any:
    """The value at a dotted ``path`` of a JSON body (``data.items.0.name``; ``-1`` is the last item).

    An empty path is the whole body. Anything missing is None rather than an error: a partner's API
    changing shape should send the run down its normal path with an empty variable, not crash it.
    """
    if not path:
        return body
    value = body
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list):
            try:
                index = int(part)
            except ValueError:
                return None
            if not -len(value) <= index < len(value):
                return None
            value = value[index]
        else:
            return None
    return value


# --- the walk -------------------------------------------------------------------------------------------


class _Run:
    """One ``step`` call's working set: the (already copied) state, the actions so far, the budget."""

    __slots__ = ("actions", "budget", "executed", "flow", "now", "now_utc", "state")

    def __init__(self, flow: CompiledFlow, state: RunState, now: datetime, budget: int) -> None:
        self.flow = flow
        self.state = state
        self.now = now
        self.now_utc = now.astimezone(UTC)
        self.budget = budget
        self.executed = 0
        self.actions: list[Action] = []

    def result(self) -> StepResult:
        path = self.state.path
        if len(path) > MAX_PATH:
            del path[:-MAX_PATH]
        return StepResult(actions=self.actions, state=self.state)

    def resume(self, outcome: _Outcome) -> None:
        """Leave the node the run waited at through the outcome's port, then run on."""
        state = self.state
        node_id = state.waiting.node_id  # type: ignore[union-attr]  # step() only resumes waiting runs
        state.waiting = None
        state.status = "active"
        if outcome.reply is not None:
            state.last_reply = outcome.reply
        if outcome.saves:
            state.vars.update(outcome.saves)
        path = state.path
        if path and path[-1].node_id == node_id:
            path[-1].port = outcome.port
        target = self.flow.targets.get((node_id, outcome.port))
        if target is None:
            self.dead_end(node_id, outcome.port)
        else:
            self.run_from(target)

    def run_from(self, node_id: str) -> None:
        """Execute nodes from ``node_id`` on until one pauses or the run ends.

        The hot loop of the interpreter: locals instead of attribute look-ups, one PathStep per node
        and no copying, so simple nodes cost a few hundred nanoseconds each.
        """
        nodes = self.flow.nodes
        targets = self.flow.targets
        state = self.state
        path = state.path
        visits = state.visits
        now = self.now
        budget = self.budget
        while True:
            node = nodes.get(node_id)
            if node is None:
                self.end("failed", "unknown_node")
                return
            if self.executed >= budget:
                self.end("failed", "step_budget_exceeded")
                return
            self.executed += 1
            state.steps += 1
            visit = visits.get(node_id, 0) + 1
            visits[node_id] = visit
            state.current_node = node_id
            entry = PathStep(node_id=node_id, at=now)
            path.append(entry)
            port = _HANDLERS[type(node)](self, node, visit)
            if port is None:
                return
            entry.port = port
            target = targets.get((node_id, port))
            if target is None:
                self.dead_end(node_id, port)
                return
            node_id = target

    def dead_end(self, node_id: str, port: str) -> None:
        """Nothing is connected to the port the run left through.

        Deliberate (``ends``) or not, the run is complete there: validation reports the accidental ones
        before publishing.
        """
        self.end("completed", "no_path")

    def end(self, status: Literal["completed", "failed"], reason: str) -> None:
        """Finish the run; the single EndRun is always the last action of the call."""
        state = self.state
        state.status = status
        state.ended_reason = reason
        state.waiting = None
        self.actions.append(EndRun(status=status, reason=reason, node_id=state.current_node))

    def pause(self, waiting: Waiting) -> None:
        self.state.status = "waiting"
        self.state.waiting = waiting

    def wait_with_timer(
        self,
        kind: Literal["reply", "buttons", "timer"],
        node_id: str,
        timer_id: str,
        fire_at: datetime,
        message_ref: str = "",
    ) -> None:
        """Pause until an event or the timer that bounds the wait; the host schedules the timer."""
        self.actions.append(ScheduleTimer(node_id=node_id, timer_id=timer_id, fire_at=fire_at))
        self.pause(
            Waiting(kind=kind, node_id=node_id, timer_id=timer_id, message_ref=message_ref, until=fire_at)
        )

    def after(self, seconds: float) -> datetime:
        """``now`` plus a duration, in UTC; negative durations (a draft's typo) mean "at once"."""
        return self.now_utc + timedelta(seconds=max(0, seconds))

    def render(self, text: str, escape: templating.Escape | None = None) -> str:
        """Fill ``{{placeholders}}``; the context is built only when the text has any."""
        if "{{" not in text:
            return text
        return templating.render(text, self.context(), escape)

    def context(self) -> dict[str, Any]:
        """The namespaces of :mod:`flows.templating`, built fresh: vars and attributes change as it runs."""
        state = self.state
        contact = state.contact
        last = state.last_reply
        return {
            "contact": {
                "name": contact.name,
                "phone": contact.phone,
                "email": contact.email,
                "timezone": contact.timezone,
                "attributes": contact.attributes,
            },
            "vars": state.vars,
            "reply": {"text": last.text, "button": last.button} if last else {"text": "", "button": ""},
        }


# --- one handler per node kind ---------------------------------------------------------------------------
# Each gets the run, the node and this visit's number (1 for the first), and returns the port to leave
# through, or None when it paused or ended the run.


def _start_node(run: _Run, node: StartNode, visit: int) -> str | None:
    return "next"


def _send_message(run: _Run, node: SendMessageNode, visit: int) -> str | None:
    """Hand the message over; wait for a tap only when a button port is connected (see the schema)."""
    message_ref = f"{node.id}#{visit}"
    run.state.last_message_ref = message_ref
    run.actions.append(
        SendMessage(
            node_id=node.id,
            message_ref=message_ref,
            message_kind=node.message_kind,
            category_id=node.category_id,
            text=run.render(node.text),
            media_url=run.render(node.media_url),
            buttons=list(node.buttons),
            template=_render_template(run, node.template),
        )
    )
    if not run.flow.waits_for_buttons(node.id):
        return "next"
    run.wait_with_timer(
        "buttons", node.id, f"{message_ref}:timeout", run.after(node.reply_timeout), message_ref=message_ref
    )
    return None


def _render_template(run: _Run, template: TemplateRef | None) -> RenderedTemplate | None:
    if template is None:
        return None
    return RenderedTemplate(
        name=template.name,
        language=template.language,
        params=[run.render(param) for param in template.params],
    )


def _wait_for_reply(run: _Run, node: WaitForReplyNode, visit: int) -> str | None:
    run.wait_with_timer("reply", node.id, f"{node.id}#{visit}:timeout", run.after(node.timeout))
    return None


def _branch(run: _Run, node: BranchNode, visit: int) -> str | None:
    if node.mode == "random":
        return _random_port(run, node, visit)
    if node.mode == "attribute":
        contact = run.state.contact
        for rule in node.rules:
            if attribute_matches(
                contact_value(contact, rule.attribute), rule.operator, rule.value, node.case_sensitive
            ):
                return f"rule:{rule.id}"
        return "else"
    last = run.state.last_reply or LastReply()
    reply = _ReplyText(last.text, last.button, node.case_sensitive)
    for rule in node.rules:
        if reply.matches(rule):
            return f"rule:{rule.id}"
    return "else"


def _random_port(run: _Run, node: BranchNode, visit: int) -> str | None:
    """Weighted by ``percent``, seeded by (run seed, node, visit): reproducible across processes.

    The seed is a string because ``random.Random`` hashes strings with SHA-512, while Python's
    ``hash()`` is salted per process. Zero or broken percentages fall back to an even split rather
    than stranding the run; a split with no rules has nowhere to go and ends there.
    """
    rules = node.rules
    if not rules:
        run.end("completed", "no_path")
        return None
    weights = [rule.percent if 0 < rule.percent < math.inf else 0.0 for rule in rules]
    total = sum(weights)
    if total <= 0:
        weights = [1.0] * len(rules)
        total = float(len(rules))
    draw = random.Random(f"{run.state.seed}:{node.id}:{visit}").random() * total
    cumulative = 0.0
    chosen = rules[-1]
    for rule, weight in zip(rules, weights, strict=True):
        if weight <= 0:
            continue
        chosen = rule  # the last positive-weight rule catches float rounding at the top end
        cumulative += weight
        if draw < cumulative:
            break
    return f"rule:{chosen.id}"


def _delay(run: _Run, node: DelayNode, visit: int) -> str | None:
    if node.mode == "time_of_day":
        at = parse_time_of_day(node.time_of_day)
        if at is None:
            # Better a visible failure on this node than a message at a time nobody chose.
            run.end("failed", "invalid_node")
            return None
        fire_at = next_time_of_day(run.now_utc, at, zone(run.state.contact.timezone), node.days)
    else:
        fire_at = run.after(node.seconds)
    run.wait_with_timer("timer", node.id, f"{node.id}#{visit}:delay", fire_at)
    return None


def _set_attribute(run: _Run, node: SetAttributeNode, visit: int) -> str | None:
    """Change the snapshot too, so later nodes of this run see the new value."""
    name = node.attribute
    if not name:
        return "next"
    value = run.render(node.value)
    contact = run.state.contact
    if name in templating.CONTACT_FIELDS:
        setattr(contact, name, value)
    else:
        contact.attributes[name] = value
    run.actions.append(SetAttribute(node_id=node.id, attribute=name, value=value))
    return "next"


def _add_tag(run: _Run, node: AddTagNode, visit: int) -> str | None:
    """Emitted even when the snapshot has the tag already: the snapshot may be older than the database."""
    tag = node.tag
    if not tag:
        return "next"
    tags = run.state.contact.tags
    if tag not in tags:
        tags.append(tag)
    run.actions.append(AddTag(node_id=node.id, tag=tag))
    return "next"


def _add_to_group(run: _Run, node: AddToGroupNode, visit: int) -> str | None:
    if node.group_id is not None:
        run.actions.append(ChangeGroup(node_id=node.id, group_id=node.group_id, action="add"))
    return "next"


def _remove_from_group(run: _Run, node: RemoveFromGroupNode, visit: int) -> str | None:
    if node.group_id is not None:
        run.actions.append(ChangeGroup(node_id=node.id, group_id=node.group_id, action="remove"))
    return "next"


def _opt_out(run: _Run, node: OptOutNode, visit: int) -> str | None:
    run.actions.append(OptOut(node_id=node.id, category_id=node.category_id))
    return "next"


def _opt_in(run: _Run, node: OptInNode, visit: int) -> str | None:
    run.actions.append(OptIn(node_id=node.id, category_id=node.category_id))
    return "next"


def _body_escape(node: HttpRequestNode) -> templating.Escape | None:
    """Escape values for the body's format: JSON (by header or by its look), form encoding, or none."""
    content_type = next((value for name, value in node.headers.items() if name.lower() == "content-type"), "")
    if "json" in content_type.lower() or (not content_type and node.body.lstrip()[:1] in ("{", "[")):
        return templating.json_string_content
    if "x-www-form-urlencoded" in content_type.lower():
        return templating.url_component
    return None


def _http_request(run: _Run, node: HttpRequestNode, visit: int) -> str | None:
    """Ask the host to call; it reports back (also timeouts) as an HttpResult with this request id."""
    request_id = f"{node.id}#{visit}"
    run.actions.append(
        CallHttp(
            node_id=node.id,
            request_id=request_id,
            method=node.method,
            # A URL that is itself a variable ({{vars.callback}}) is taken whole; values inside one are escaped.
            url=run.render(
                node.url, None if node.url.lstrip().startswith("{{") else templating.url_component
            ),
            headers={
                name: run.render(value, templating.header_value) for name, value in node.headers.items()
            },
            body=run.render(node.body, _body_escape(node)),
            timeout_seconds=node.timeout_seconds,
        )
    )
    run.pause(Waiting(kind="http", node_id=node.id, request_id=request_id))
    return None


def _end(run: _Run, node: EndNode, visit: int) -> str | None:
    run.end("completed", "end")
    return None


_HANDLERS: dict[type, Callable[[_Run, Any, int], str | None]] = {
    StartNode: _start_node,
    SendMessageNode: _send_message,
    WaitForReplyNode: _wait_for_reply,
    BranchNode: _branch,
    DelayNode: _delay,
    SetAttributeNode: _set_attribute,
    AddTagNode: _add_tag,
    AddToGroupNode: _add_to_group,
    RemoveFromGroupNode: _remove_from_group,
    OptOutNode: _opt_out,
    OptInNode: _opt_in,
    HttpRequestNode: _http_request,
    EndNode: _end,
}


# --- branch rules -----------------------------------------------------------------------------------------


class _ReplyText:
    """The last reply, normalised once per branch (trimmed, case-folded unless case-sensitive)."""

    __slots__ = ("_padded_words", "button", "case_sensitive", "text")

    def __init__(self, text: str, button: str, case_sensitive: bool) -> None:
        self.case_sensitive = case_sensitive
        self.text = _normalise(text, case_sensitive)
        self.button = _normalise(button, case_sensitive)
        self._padded_words: str | None = None

    def matches(self, rule: BranchRule) -> bool:
        operator = rule.operator
        if operator == "is_number":
            return _NUMBER.fullmatch(self.text) is not None
        value = _normalise(rule.value, self.case_sensitive)
        if operator == "equals":
            return self.text == value
        if operator == "button":
            return bool(self.button) and self.button == value
        if operator == "contains":
            return bool(value) and value in self.text
        if operator == "starts_with":
            return bool(value) and self.text.startswith(value)
        if operator == "contains_any":
            return self.contains_any(value)
        return False

    def contains_any(self, words: str) -> bool:
        """Whole words or phrases: "cost" matches "what does it cost?" but not "costume"."""
        if self._padded_words is None:
            self._padded_words = f" {' '.join(_WORD.findall(self.text))} "
        padded = self._padded_words
        return any(phrase in padded for phrase in _phrases(words))


@lru_cache(maxsize=4096)
def _phrases(words: str) -> tuple[str, ...]:
    """``"price, how much"`` → ``(" price ", " how much ")``: split once per rule, not per reply."""
    phrases = (" ".join(_WORD.findall(word)) for word in words.split(","))
    return tuple(f" {phrase} " for phrase in phrases if phrase)


def _normalise(text: str, case_sensitive: bool) -> str:
    text = text.strip()
    return text if case_sensitive else text.casefold()


def contact_value(contact: ContactSnapshot, attribute: str) -> Any:
    """A contact field (name, phone, email, timezone) or free attribute, None when absent."""
    if attribute in templating.CONTACT_FIELDS:
        return getattr(contact, attribute)
    return contact.attributes.get(attribute)


def attribute_matches(actual: Any, operator: str, expected: str, case_sensitive: bool = False) -> bool:
    """One attribute rule. Unknown operators never match, so a typo cannot route every contact.

    Numbers: ``gt``/``gte``/``lt``/``lte`` need both sides numeric (text like "120" counts), otherwise
    the rule does not match. ``equals`` compares numerically only when the attribute holds a number,
    so text such as postcodes or phone numbers keeps its leading zeros and plus signs.
    """
    if operator == "is_set":
        return _is_set(actual)
    if operator == "is_not_set":
        return not _is_set(actual)
    if operator == "equals":
        return _equals(actual, expected, case_sensitive)
    if operator == "not_equals":
        return not _equals(actual, expected, case_sensitive)
    if operator == "one_of":
        return any(
            _equals(actual, option, case_sensitive) for option in expected.split(",") if option.strip()
        )
    if operator == "contains":
        needle = _normalise(expected, case_sensitive)
        if not needle:
            return False
        if isinstance(actual, list):
            return any(_normalise(_as_text(item), case_sensitive) == needle for item in actual)
        return needle in _normalise(_as_text(actual), case_sensitive)
    if operator in ("gt", "gte", "lt", "lte"):
        left, right = _number(actual), _number(expected)
        if left is None or right is None:
            return False
        if operator == "gt":
            return left > right
        if operator == "gte":
            return left >= right
        if operator == "lt":
            return left < right
        return left <= right
    return False


def _equals(actual: Any, expected: str, case_sensitive: bool) -> bool:
    if isinstance(actual, int | float) and not isinstance(actual, bool):
        number = _number(expected)
        return number is not None and float(actual) == number
    return _normalise(_as_text(actual), case_sensitive) == _normalise(expected, case_sensitive)


def _is_set(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | dict):
        return bool(value)
    return True


def _number(value: Any) -> float | None:
    """A finite number from a number or numeric text ("1,5" too); None for anything else, booleans too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER.fullmatch(text):
            number = float(text.replace(",", "."))
            return number if math.isfinite(number) else None
    return None


def _as_text(value: Any) -> str:
    """Like the templating's rendering of a value: true/false, 3 not 3.0, nothing for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- time of day ------------------------------------------------------------------------------------------


def parse_time_of_day(text: str) -> time | None:
    """``HH:MM`` (or ``H:MM``) as a time, None when it is not a time of day."""
    match = _TIME_OF_DAY.fullmatch(text.strip())
    if match is None:
        return None
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


@lru_cache(maxsize=256)
def zone(name: str) -> tzinfo:
    """The contact's timezone, UTC when unknown: a bad import value must not stop the run.

    Cached because a failed look-up searches the tz database again every time.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return UTC


def next_time_of_day(now: datetime, at: time, where: tzinfo, days: Sequence[str] = ()) -> datetime:
    """The first moment strictly after ``now`` when the wall clock in ``where`` shows ``at``, in UTC.

    Only on ``days`` (weekday names; empty = any day). Each candidate is built from the local date and
    wall time, so a DST change in between moves the UTC instant, not the local hour. A wall time that
    does not exist that day (the spring-forward gap) happens that many minutes later in the new offset;
    one that happens twice (fall back) is taken the first time.
    """
    allowed = {day for day in days if day in WEEKDAYS}
    today = now.astimezone(where).date()
    for offset in range(8):  # today, then a full week: every allowed weekday comes round once more
        day = today + timedelta(days=offset)
        if allowed and WEEKDAYS[day.weekday()] not in allowed:
            continue
        candidate = datetime.combine(day, at, tzinfo=where).astimezone(UTC)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a week always has the allowed weekday once more")
