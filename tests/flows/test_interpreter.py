"""The interpreter, node kind by node kind, with hand-made graphs small enough to read in the test."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest

from flows.graph import CompiledFlow
from flows.interpreter import attribute_matches, body_value, next_time_of_day, step
from flows.run import (
    MAX_PATH,
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
    Button,
    DelayNode,
    Edge,
    EndNode,
    FlowGraph,
    HttpRequestNode,
    Node,
    OptInNode,
    OptOutNode,
    RemoveFromGroupNode,
    SaveField,
    SendMessageNode,
    SetAttributeNode,
    StartNode,
    TemplateRef,
    WaitForReplyNode,
)

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)  # a Monday
LATER = NOW + timedelta(minutes=5)
REPO_ROOT = Path(__file__).resolve().parents[2]


# --- helpers -------------------------------------------------------------------------------------------


def edge(spec: str) -> Edge:
    """``"a -> b"`` leaves a through ``next``; ``"a.button:yes -> b"`` through the named port."""
    source, target = spec.split(" -> ")
    node, _, port = source.partition(".")
    return Edge(source=node, source_port=port or "next", target=target)


def compile_flow(*nodes: Node, edges: Iterable[str] = ()) -> CompiledFlow:
    return CompiledFlow.from_graph(FlowGraph(nodes=list(nodes), edges=[edge(spec) for spec in edges]))


def linear(*nodes: Node, edges: Iterable[str] = ()) -> CompiledFlow:
    """A start node, then ``nodes`` chained through ``next``, plus any extra edges."""
    chain = [StartNode(id="start"), *nodes]
    nexts = [f"{a.id} -> {b.id}" for a, b in pairwise(chain)]
    return compile_flow(*chain, edges=[*nexts, *edges])


def begin(
    flow: CompiledFlow, contact: ContactSnapshot | None = None, *, seed: int = 0, budget: int = 1000
) -> StepResult:
    return step(
        flow, None, Start(contact=contact or ContactSnapshot(name="Ann"), seed=seed), NOW, budget=budget
    )


def texts(actions: Iterable[object]) -> list[str]:
    return [action.text for action in actions if isinstance(action, SendMessage)]


def path(state: RunState) -> list[tuple[str, str | None]]:
    return [(entry.node_id, entry.port) for entry in state.path]


def end_of(result: StepResult) -> EndRun:
    ends = [action for action in result.actions if isinstance(action, EndRun)]
    assert len(ends) == 1
    assert result.actions[-1] is ends[0]
    return ends[0]


def frozen(state: RunState) -> bytes:
    return msgspec.json.encode(state)


# --- starting and ignoring -------------------------------------------------------------------------------


def test_start_snapshots_the_contact_and_seed_and_runs_to_the_end() -> None:
    contact = ContactSnapshot(id=7, name="Ann", attributes={"city": "Lisbon"}, tags=["vip"])
    flow = linear(
        SendMessageNode(id="hello", text="Hi {{contact.name}} from {{contact.city}}"), EndNode(id="end")
    )

    result = step(flow, None, Start(contact=contact, seed=42), NOW)

    assert texts(result.actions) == ["Hi Ann from Lisbon"]
    assert end_of(result) == EndRun(status="completed", reason="end", node_id="end")
    state = result.state
    assert (state.status, state.ended_reason, state.waiting) == ("completed", "end", None)
    assert state.seed == 42
    assert state.contact == contact
    assert state.contact.attributes is not contact.attributes
    assert state.contact.tags is not contact.tags
    assert path(state) == [("start", "next"), ("hello", "next"), ("end", None)]
    assert all(entry.at == NOW for entry in state.path)
    assert state.visits == {"start": 1, "hello": 1, "end": 1}
    assert state.steps == 3
    assert state.current_node == "end"


def test_a_start_for_an_existing_run_is_ignored() -> None:
    flow = linear(WaitForReplyNode(id="wait"))
    state = begin(flow).state
    again = step(flow, state, Start(contact=ContactSnapshot(name="Bob")), LATER)
    assert again.state is state
    assert again.actions == []


def test_events_after_the_end_are_ignored() -> None:
    flow = linear(EndNode(id="end"))
    state = begin(flow).state
    for event in (Reply(text="hi"), TimerFired(timer_id="end#1:timeout"), Start(contact=ContactSnapshot())):
        result = step(flow, state, event, LATER)
        assert result.state is state
        assert result.actions == []


def test_an_event_without_a_run_other_than_start_is_an_error() -> None:
    with pytest.raises(ValueError, match="Start"):
        step(linear(EndNode(id="end")), None, Reply(text="hi"), NOW)


def test_a_flow_without_start_fails_the_run() -> None:
    result = begin(compile_flow(EndNode(id="end")))
    assert end_of(result) == EndRun(status="failed", reason="no_start", node_id=None)
    assert result.state.status == "failed"
    assert result.state.path == []


def test_an_edge_to_a_missing_node_fails_the_run() -> None:
    flow = compile_flow(StartNode(id="start"), edges=["start -> ghost"])
    result = begin(flow)
    assert end_of(result) == EndRun(status="failed", reason="unknown_node", node_id="start")
    assert path(result.state) == [("start", "next")]


def test_a_hand_built_index_pointing_at_a_missing_node_fails_the_run() -> None:
    flow = linear(EndNode(id="end"))
    broken = CompiledFlow(flow.graph, flow.nodes, {("start", "next"): "ghost"}, "start")
    assert end_of(begin(broken)).reason == "unknown_node"


def test_a_state_from_another_version_fails_when_its_wait_node_is_gone() -> None:
    old = linear(WaitForReplyNode(id="wait"))
    state = begin(old).state
    new = linear(EndNode(id="end"))
    result = step(new, state, Reply(text="hi"), LATER)
    assert end_of(result) == EndRun(status="failed", reason="unknown_node", node_id="wait")
    assert result.state.waiting is None


@pytest.mark.parametrize("deliberate", [True, False])
def test_leaving_through_an_unconnected_port_completes_with_no_path(deliberate: bool) -> None:
    ends = ["next"] if deliberate else []
    flow = linear(AddTagNode(id="tag", tag="x", ends=ends))
    result = begin(flow)
    assert end_of(result) == EndRun(status="completed", reason="no_path", node_id="tag")
    assert path(result.state) == [("start", "next"), ("tag", "next")]


def test_a_naive_now_is_taken_as_utc() -> None:
    flow = linear(WaitForReplyNode(id="wait", timeout=60))
    result = step(flow, None, Start(contact=ContactSnapshot()), datetime(2024, 5, 6, 12, 0))
    timer = result.actions[0]
    assert isinstance(timer, ScheduleTimer)
    assert timer.fire_at == datetime(2024, 5, 6, 12, 1, tzinfo=UTC)


def test_the_path_keeps_only_the_most_recent_entries() -> None:
    nodes = [AddTagNode(id=f"t{index}", tag="x") for index in range(MAX_PATH + 100)]
    result = begin(linear(*nodes, EndNode(id="end")), budget=10_000)
    state = result.state
    assert len(state.path) == MAX_PATH
    assert state.path[-1].node_id == "end"
    assert state.path[0].node_id == f"t{100 + 1}"  # start + t0..t100 fell off the front
    assert state.steps == MAX_PATH + 102


# --- send message --------------------------------------------------------------------------------------------


def test_send_message_renders_text_media_and_template_from_contact_vars_and_reply() -> None:
    node = SendMessageNode(
        id="msg",
        text="Hi {{contact.name}}, {{ vars.answer }} / {{reply.text}} / {{contact.plan | 'free'}} / {{contact.tier}}",
        media_url="https://cdn.example.com/{{contact.city}}.jpg",
        template=TemplateRef(
            name="promo", language="pt_PT", params=["{{contact.name}}", "{{vars.missing|'x'}}"]
        ),
        message_kind="transactional",
        category_id=3,
    )
    flow = linear(WaitForReplyNode(id="wait", save_as="answer"), node, edges=["wait.reply -> msg"])
    contact = ContactSnapshot(name="Ann", attributes={"city": "porto", "tier": "gold"})
    state = begin(flow, contact).state

    result = step(flow, state, Reply(text="  blue  "), LATER)

    send = result.actions[0]
    assert send == SendMessage(
        node_id="msg",
        message_ref="msg#1",
        message_kind="transactional",
        category_id=3,
        text="Hi Ann,   blue   /   blue   / free / gold",
        media_url="https://cdn.example.com/porto.jpg",
        buttons=[],
        template=send.template,
    )
    assert send.template is not None
    assert (send.template.name, send.template.language, send.template.params) == (
        "promo",
        "pt_PT",
        ["Ann", "x"],
    )


def test_send_without_connected_buttons_moves_on_at_once_and_ignores_send_results() -> None:
    buttons = [Button(id="yes", title="Yes")]
    flow = linear(
        SendMessageNode(id="msg", text="Hello", buttons=buttons),
        WaitForReplyNode(id="wait"),
    )
    result = begin(flow)
    assert [type(action) for action in result.actions] == [SendMessage, ScheduleTimer]
    assert result.actions[0].buttons == buttons
    assert result.state.waiting is not None
    assert result.state.waiting.node_id == "wait"
    late = step(
        flow, result.state, SendResult(message_ref="msg#1", status="failed", reason="opted_out"), LATER
    )
    assert late.state is result.state
    assert late.actions == []


def button_flow(reply_timeout: int = 600) -> CompiledFlow:
    """A question with Yes / No / Maybe buttons; Yes and No connected, Maybe not, ``next`` → fallback."""
    question = SendMessageNode(
        id="ask",
        text="Join?",
        buttons=[
            Button(id="yes", title="Yes"),
            Button(id="no", title="No"),
            Button(id="maybe", title="Maybe"),
        ],
        reply_timeout=reply_timeout,
    )
    return compile_flow(
        StartNode(id="start"),
        question,
        SendMessageNode(id="fallback", text="fallback"),
        SendMessageNode(id="yes_msg", text="yes!"),
        SendMessageNode(id="no_msg", text="no!"),
        EndNode(id="end"),
        edges=[
            "start -> ask",
            "ask.button:yes -> yes_msg",
            "ask.button:no -> no_msg",
            "ask -> fallback",
            "fallback -> end",
            "yes_msg -> end",
            "no_msg -> end",
        ],
    )


def test_send_with_connected_buttons_waits_for_a_tap_with_a_timeout() -> None:
    result = begin(button_flow(reply_timeout=600))
    fire_at = NOW + timedelta(seconds=600)
    assert result.actions[1:] == [ScheduleTimer(node_id="ask", timer_id="ask#1:timeout", fire_at=fire_at)]
    assert result.state.status == "waiting"
    assert result.state.waiting == Waiting(
        kind="buttons", node_id="ask", timer_id="ask#1:timeout", message_ref="ask#1", until=fire_at
    )
    assert path(result.state)[-1] == ("ask", None)


@pytest.mark.parametrize(
    ("event", "port", "sent", "last_reply"),
    [
        (ButtonTap(button_id="yes", text="Yes"), "button:yes", "yes!", LastReply(text="Yes", button="yes")),
        (ButtonTap(button_id="no"), "button:no", "no!", LastReply(text="No", button="no")),
        (ButtonTap(button_id="maybe"), "next", "fallback", LastReply(text="Maybe", button="maybe")),
        (ButtonTap(button_id="zzz"), "next", "fallback", LastReply(text="zzz", button="zzz")),
        (Reply(text="what?"), "next", "fallback", LastReply(text="what?")),
        (TimerFired(timer_id="ask#1:timeout"), "next", "fallback", None),
        (SendResult(message_ref="ask#1", status="failed", reason="opted_out"), "next", "fallback", None),
    ],
)
def test_button_wait_routes_each_kind_of_answer(
    event: Event, port: str, sent: str, last_reply: LastReply | None
) -> None:
    flow = button_flow()
    state = begin(flow).state
    result = step(flow, state, event, LATER)
    assert path(result.state)[1] == ("ask", port)
    assert texts(result.actions) == [sent]
    assert result.state.last_reply == last_reply


@pytest.mark.parametrize(
    "event",
    [
        TimerFired(timer_id="ask#0:timeout"),
        TimerFired(timer_id="other#1:timeout"),
        SendResult(message_ref="ask#1", status="delivered"),
        SendResult(message_ref="other#1", status="failed", reason="opted_out"),
        HttpResult(request_id="ask#1", status_code=200),
    ],
)
def test_button_wait_ignores_what_is_not_an_answer(event: Event) -> None:
    flow = button_flow()
    state = begin(flow).state
    result = step(flow, state, event, LATER)
    assert result.state is state
    assert result.actions == []


def test_an_opted_out_marketing_send_with_buttons_moves_on_to_next() -> None:
    """Seed 002 "sequence": the consent gate blocks the message; the run must not hang on its buttons."""
    flow = compile_flow(
        StartNode(id="start"),
        SendMessageNode(id="promo", text="Sale!", buttons=[Button(id="show", title="Show me")]),
        SendMessageNode(id="receipt", text="Your receipt", message_kind="transactional"),
        SendMessageNode(id="link", text="link"),
        EndNode(id="end"),
        edges=[
            "start -> promo",
            "promo.button:show -> link",
            "promo -> receipt",
            "receipt -> end",
            "link -> end",
        ],
    )
    state = begin(flow).state
    result = step(flow, state, SendResult(message_ref="promo#1", status="failed", reason="opted_out"), LATER)
    assert texts(result.actions) == ["Your receipt"]
    assert path(result.state) == [("start", "next"), ("promo", "next"), ("receipt", "next"), ("end", None)]


def test_message_refs_and_timer_ids_count_visits() -> None:
    flow = compile_flow(
        StartNode(id="start"),
        SendMessageNode(id="ask", text="Again?"),
        WaitForReplyNode(id="wait", timeout=60),
        EndNode(id="end"),
        edges=["start -> ask", "ask -> wait", "wait.reply -> ask", "wait.timeout -> end"],
    )
    first = begin(flow)
    assert first.actions[0].message_ref == "ask#1"
    second = step(flow, first.state, Reply(text="yes"), LATER)
    assert [action.message_ref for action in second.actions if isinstance(action, SendMessage)] == ["ask#2"]
    assert second.state.waiting is not None
    assert second.state.waiting.timer_id == "wait#2:timeout"
    stale = step(flow, second.state, TimerFired(timer_id="wait#1:timeout"), LATER)
    assert stale.state is second.state
    done = step(flow, second.state, TimerFired(timer_id="wait#2:timeout"), LATER)
    assert end_of(done).node_id == "end"
    assert done.state.visits == {"start": 1, "ask": 2, "wait": 2, "end": 1}


# --- wait for reply ------------------------------------------------------------------------------------------


def reply_flow(save_as: str = "answer") -> CompiledFlow:
    return compile_flow(
        StartNode(id="start"),
        WaitForReplyNode(id="wait", timeout=3600, save_as=save_as),
        SendMessageNode(id="echo", text="You said {{vars.answer}} ({{reply.button|'typed'}})"),
        SendMessageNode(id="late", text="Too late"),
        EndNode(id="end"),
        edges=["start -> wait", "wait.reply -> echo", "wait.timeout -> late", "echo -> end", "late -> end"],
    )


def test_wait_for_reply_pauses_with_a_timer() -> None:
    result = begin(reply_flow())
    until = NOW + timedelta(hours=1)
    assert result.actions == [ScheduleTimer(node_id="wait", timer_id="wait#1:timeout", fire_at=until)]
    assert result.state.waiting == Waiting(
        kind="reply", node_id="wait", timer_id="wait#1:timeout", until=until
    )
    assert result.state.status == "waiting"


def test_a_reply_is_saved_into_the_variable_and_leaves_through_reply() -> None:
    flow = reply_flow()
    result = step(flow, begin(flow).state, Reply(text="blue"), LATER)
    assert texts(result.actions) == ["You said blue (typed)"]
    assert result.state.vars == {"answer": "blue"}
    assert result.state.last_reply == LastReply(text="blue")
    assert path(result.state)[1] == ("wait", "reply")
    assert result.state.path[-1].at == LATER


def test_a_button_tap_counts_as_a_reply() -> None:
    flow = reply_flow()
    state = begin(flow).state
    with_text = step(flow, state, ButtonTap(button_id="b1", text="Blue please"), LATER)
    assert with_text.state.vars == {"answer": "Blue please"}
    assert with_text.state.last_reply == LastReply(text="Blue please", button="b1")
    assert texts(with_text.actions) == ["You said Blue please (b1)"]
    without_text = step(flow, state, ButtonTap(button_id="b1"), LATER)
    assert without_text.state.vars == {"answer": "b1"}


def test_without_save_as_the_reply_is_only_remembered_as_last_reply() -> None:
    flow = reply_flow(save_as="")
    result = step(flow, begin(flow).state, Reply(text="blue"), LATER)
    assert result.state.vars == {}
    assert result.state.last_reply == LastReply(text="blue")


def test_the_reply_timeout_leaves_through_timeout() -> None:
    flow = reply_flow()
    result = step(flow, begin(flow).state, TimerFired(timer_id="wait#1:timeout"), LATER)
    assert texts(result.actions) == ["Too late"]
    assert path(result.state)[1] == ("wait", "timeout")
    assert result.state.last_reply is None


@pytest.mark.parametrize(
    "event",
    [
        TimerFired(timer_id="wait#2:timeout"),
        SendResult(message_ref="wait#1", status="failed"),
        HttpResult(request_id="wait#1", status_code=200),
    ],
)
def test_a_reply_wait_ignores_other_events(event: Event) -> None:
    flow = reply_flow()
    state = begin(flow).state
    assert step(flow, state, event, LATER).state is state


# --- branch: reply -------------------------------------------------------------------------------------------


def reply_branch(rule: BranchRule, case_sensitive: bool = False) -> CompiledFlow:
    return compile_flow(
        StartNode(id="start"),
        WaitForReplyNode(id="wait"),
        BranchNode(id="branch", mode="reply", rules=[rule], case_sensitive=case_sensitive),
        edges=["start -> wait", "wait.reply -> branch"],
    )


@pytest.mark.parametrize(
    ("operator", "value", "reply", "case_sensitive", "matches"),
    [
        ("equals", "yes", "  YES ", False, True),
        ("equals", "yes", "YES", True, False),
        ("equals", "yes", "yes please", False, False),
        ("contains", "price", "What's the PRICE?", False, True),
        ("contains", "price", "What's the PRICE?", True, False),
        ("contains", "", "anything", False, False),
        ("starts_with", "stop", "Stop it", False, True),
        ("starts_with", "stop", "please stop", False, False),
        ("contains_any", "price, cost", "what does it COST?", False, True),
        ("contains_any", "price,cost", "nice costume", False, False),
        ("contains_any", "hours,open", "are you open on sunday", False, True),
        ("contains_any", "how much,price", "How much is it", False, True),
        ("contains_any", "how much", "much how", False, False),
        ("contains_any", ", ,", "anything", False, False),
        ("is_number", "", " 42 ", False, True),
        ("is_number", "", "-3.5", False, True),
        ("is_number", "", "1,5", False, True),
        ("is_number", "", "42 kg", False, False),
        ("is_number", "", "", False, False),
        ("unknown_operator", "x", "x", False, False),
    ],
)
def test_reply_rule_operators(
    operator: str, value: str, reply: str, case_sensitive: bool, matches: bool
) -> None:
    flow = reply_branch(BranchRule(id="r", operator=operator, value=value), case_sensitive)
    result = step(flow, begin(flow).state, Reply(text=reply), LATER)
    assert path(result.state)[-1] == ("branch", "rule:r" if matches else "else")


@pytest.mark.parametrize(
    ("event", "matches"),
    [
        (ButtonTap(button_id="yes", text="Sure"), True),
        (ButtonTap(button_id="YES"), True),
        (ButtonTap(button_id="no", text="yes"), False),
        (Reply(text="yes"), False),
    ],
)
def test_button_rule_compares_the_tapped_button_id(event: Event, matches: bool) -> None:
    flow = reply_branch(BranchRule(id="r", operator="button", value="yes"))
    result = step(flow, begin(flow).state, event, LATER)
    assert path(result.state)[-1] == ("branch", "rule:r" if matches else "else")


def test_the_first_matching_rule_wins() -> None:
    rules = [
        BranchRule(id="first", operator="contains", value="a"),
        BranchRule(id="second", operator="contains", value="ab"),
    ]
    flow = compile_flow(
        StartNode(id="start"),
        WaitForReplyNode(id="wait"),
        BranchNode(id="branch", rules=rules),
        edges=["start -> wait", "wait.reply -> branch"],
    )
    result = step(flow, begin(flow).state, Reply(text="abc"), LATER)
    assert path(result.state)[-1] == ("branch", "rule:first")


def test_a_reply_branch_before_any_reply_goes_to_else() -> None:
    flow = linear(BranchNode(id="branch", rules=[BranchRule(id="r", operator="contains", value="x")]))
    assert path(begin(flow).state)[-1] == ("branch", "else")


# --- branch: attribute ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "operator", "value", "matches"),
    [
        ("Lisbon", "equals", " lisbon ", True),
        ("Lisbon", "equals", "Porto", False),
        (None, "equals", "", True),
        (90, "equals", "90.0", True),
        ("007", "equals", "7", False),
        ("Lisbon", "not_equals", "Porto", True),
        ("Lisbon", "not_equals", "LISBON", False),
        (None, "not_equals", "Porto", True),
        ("Greater Lisbon", "contains", "lisbon", True),
        ("Porto", "contains", "lisbon", False),
        (["Coffee", "tea"], "contains", "coffee", True),
        (["coffee"], "contains", "cof", False),
        ("anything", "contains", "", False),
        (120, "gt", "90", True),
        ("120", "gt", "90", True),
        (90, "gt", "90", False),
        (90, "gte", "90", True),
        ("12,5", "lt", "13", True),
        (13, "lte", "12.5", False),
        ("lots", "gt", "90", False),
        (True, "gt", "0", False),
        (None, "lt", "1", False),
        (120, "gt", "ninety", False),
        ("x", "is_set", "", True),
        (0, "is_set", "", True),
        ("  ", "is_set", "", False),
        ([], "is_set", "", False),
        (None, "is_set", "", False),
        (None, "is_not_set", "", True),
        ("x", "is_not_set", "", False),
        ("PT", "one_of", "es, pt ,fr", True),
        ("DE", "one_of", "es,pt,fr", False),
        ("", "one_of", "es,,pt", False),
        (3, "one_of", "1,3", True),
        ("x", "bogus", "x", False),
    ],
)
def test_attribute_operators(actual: object, operator: str, value: str, matches: bool) -> None:
    assert attribute_matches(actual, operator, value) is matches


def test_attribute_rules_can_be_case_sensitive() -> None:
    assert attribute_matches("Lisbon", "equals", "lisbon", case_sensitive=True) is False
    assert attribute_matches("Lisbon", "contains", "Lis", case_sensitive=True) is True


def test_attribute_branch_reads_contact_fields_and_attributes() -> None:
    rules = [
        BranchRule(id="lapsed", attribute="last_order_days", operator="gt", value="90"),
        BranchRule(id="no_email", attribute="email", operator="is_not_set"),
        BranchRule(id="lisbon", attribute="timezone", operator="equals", value="europe/lisbon"),
    ]
    flow = linear(BranchNode(id="branch", mode="attribute", rules=rules))

    def port(contact: ContactSnapshot) -> str | None:
        return path(begin(flow, contact).state)[-1][1]

    assert port(ContactSnapshot(attributes={"last_order_days": 120}, email="a@b.c")) == "rule:lapsed"
    assert port(ContactSnapshot(attributes={"last_order_days": "10"})) == "rule:no_email"
    assert port(ContactSnapshot(email="a@b.c", timezone="Europe/Lisbon")) == "rule:lisbon"
    assert port(ContactSnapshot(email="a@b.c")) == "else"


# --- branch: random split --------------------------------------------------------------------------------


def split_flow(percent_a: float = 50, percent_b: float = 50) -> CompiledFlow:
    rules = [BranchRule(id="a", percent=percent_a), BranchRule(id="b", percent=percent_b)]
    return linear(BranchNode(id="split", mode="random", rules=rules))


def split_port(flow: CompiledFlow, seed: int) -> str | None:
    return path(begin(flow, seed=seed).state)[-1][1]


def test_random_split_is_deterministic_for_a_seed() -> None:
    flow = split_flow()
    first = [split_port(flow, seed) for seed in range(50)]
    again = [split_port(flow, seed) for seed in range(50)]
    assert first == again
    assert set(first) == {"rule:a", "rule:b"}


def test_random_split_is_the_same_in_another_process() -> None:
    """Python's ``hash()`` is salted per process; a split must not depend on it."""
    flow = split_flow()
    expected = "".join(split_port(flow, seed)[-1] for seed in range(40))  # type: ignore[index]
    script = textwrap.dedent(
        """
        from datetime import UTC, datetime
        from flows.graph import CompiledFlow
        from flows.interpreter import step
        from flows.run import ContactSnapshot, Start
        from flows.schema import BranchNode, BranchRule, Edge, FlowGraph, StartNode
        rules = [BranchRule(id="a", percent=50), BranchRule(id="b", percent=50)]
        graph = FlowGraph(
            nodes=[StartNode(id="start"), BranchNode(id="split", mode="random", rules=rules)],
            edges=[Edge(source="start", target="split")],
        )
        flow = CompiledFlow.from_graph(graph)
        now = datetime(2024, 5, 6, 12, tzinfo=UTC)
        ports = [step(flow, None, Start(contact=ContactSnapshot(), seed=s), now).state.path[-1].port for s in range(40)]
        print("".join(port[-1] for port in ports))
        """
    )
    for hash_seed in ("1", "2"):
        env = {"PYTHONHASHSEED": hash_seed, "PATH": ""}
        output = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True, cwd=REPO_ROOT
        )
        assert output.stdout.strip() == expected


def test_random_split_is_roughly_even_over_many_seeds() -> None:
    flow = split_flow()
    ports = [split_port(flow, seed) for seed in range(2000)]
    share_a = ports.count("rule:a") / len(ports)
    assert 0.46 < share_a < 0.54


def test_random_split_follows_the_percentages() -> None:
    flow = split_flow(90, 10)
    ports = [split_port(flow, seed) for seed in range(2000)]
    assert 0.86 < ports.count("rule:a") / len(ports) < 0.94
    assert split_port(split_flow(100, 0), 1) == "rule:a"
    assert {split_port(split_flow(0, 100), seed) for seed in range(100)} == {"rule:b"}


def test_random_split_draws_again_on_each_visit() -> None:
    """Visit 2 of the same split uses its own draw, so a loop does not repeat the first choice forever."""
    rules = [BranchRule(id="a", percent=50), BranchRule(id="b", percent=50)]
    flow = compile_flow(
        StartNode(id="start"),
        WaitForReplyNode(id="wait"),
        BranchNode(id="split", mode="random", rules=rules),
        edges=["start -> wait", "wait.reply -> split", "split.rule:a -> wait", "split.rule:b -> wait"],
    )
    choices = []
    state = begin(flow, seed=3).state
    for _ in range(30):
        state = step(flow, state, Reply(text="again"), LATER).state
        choices.append(state.path[-2].port)
    assert set(choices) == {"rule:a", "rule:b"}


def test_random_split_without_rules_ends_the_run() -> None:
    flow = linear(BranchNode(id="split", mode="random"))
    result = begin(flow)
    assert end_of(result) == EndRun(status="completed", reason="no_path", node_id="split")


# --- delay -------------------------------------------------------------------------------------------------


def test_duration_delay_schedules_a_utc_timer_and_goes_on_when_it_fires() -> None:
    flow = linear(DelayNode(id="delay", seconds=7200), SendMessageNode(id="after", text="later"))
    result = begin(flow)
    fire_at = NOW + timedelta(hours=2)
    assert result.actions == [ScheduleTimer(node_id="delay", timer_id="delay#1:delay", fire_at=fire_at)]
    assert result.actions[0].fire_at.tzinfo is not None
    assert result.state.waiting == Waiting(
        kind="timer", node_id="delay", timer_id="delay#1:delay", until=fire_at
    )

    for ignored in (Reply(text="hello?"), ButtonTap(button_id="x"), TimerFired(timer_id="delay#2:delay")):
        same = step(flow, result.state, ignored, LATER)
        assert same.state is result.state
        assert same.actions == []

    fired = step(flow, result.state, TimerFired(timer_id="delay#1:delay"), fire_at)
    assert texts(fired.actions) == ["later"]
    assert path(fired.state)[1] == ("delay", "next")
    assert fired.state.last_reply is None


def time_of_day_fire(now: datetime, at: str, timezone_name: str, days: list[str] | None = None) -> datetime:
    flow = linear(DelayNode(id="delay", mode="time_of_day", time_of_day=at, days=days or []))
    result = step(flow, None, Start(contact=ContactSnapshot(timezone=timezone_name)), now)
    timer = result.actions[0]
    assert isinstance(timer, ScheduleTimer)
    assert timer.fire_at.utcoffset() == timedelta(0)
    return timer.fire_at


def test_time_of_day_later_today_or_tomorrow_in_the_contacts_timezone() -> None:
    lisbon = "Europe/Lisbon"  # UTC+1 in May
    assert time_of_day_fire(datetime(2024, 5, 6, 7, 0, tzinfo=UTC), "10:00", lisbon) == datetime(
        2024, 5, 6, 9, 0, tzinfo=UTC
    )
    assert time_of_day_fire(datetime(2024, 5, 6, 12, 0, tzinfo=UTC), "10:00", lisbon) == datetime(
        2024, 5, 7, 9, 0, tzinfo=UTC
    )
    # Exactly 10:00 local is not "after now": tomorrow.
    assert time_of_day_fire(datetime(2024, 5, 6, 9, 0, tzinfo=UTC), "10:00", lisbon) == datetime(
        2024, 5, 7, 9, 0, tzinfo=UTC
    )


def test_time_of_day_uses_the_local_date_not_the_utc_date() -> None:
    # 23:30 UTC on Monday is already Tuesday 08:30 in Tokyo: 09:00 Tokyo is half an hour away.
    assert time_of_day_fire(datetime(2024, 5, 6, 23, 30, tzinfo=UTC), "09:00", "Asia/Tokyo") == datetime(
        2024, 5, 7, 0, 0, tzinfo=UTC
    )


def test_time_of_day_only_on_allowed_weekdays() -> None:
    friday_noon = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
    assert time_of_day_fire(friday_noon, "10:00", "UTC", ["mon", "tue"]) == datetime(
        2024, 5, 13, 10, 0, tzinfo=UTC
    )
    # Today is allowed but 10:00 has passed: the same weekday next week.
    assert time_of_day_fire(friday_noon, "10:00", "UTC", ["fri"]) == datetime(2024, 5, 17, 10, 0, tzinfo=UTC)


def test_time_of_day_across_the_spring_forward_in_new_york() -> None:
    # Saturday 9 March 2024 10:00 EST; clocks go forward on Sunday 10 March at 02:00.
    now = datetime(2024, 3, 9, 15, 0, tzinfo=UTC)
    assert time_of_day_fire(now, "09:00", "America/New_York") == datetime(2024, 3, 10, 13, 0, tzinfo=UTC)
    # 02:30 does not exist that Sunday: it happens at 03:30 EDT, an hour "late" in wall time.
    assert time_of_day_fire(now, "02:30", "America/New_York") == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)


def test_time_of_day_across_the_fall_back_in_lisbon() -> None:
    # Saturday 26 October 2024 13:00 WEST (UTC+1); Sunday 27 October the clocks go back to UTC+0.
    now = datetime(2024, 10, 26, 12, 0, tzinfo=UTC)
    assert time_of_day_fire(now, "10:00", "Europe/Lisbon") == datetime(2024, 10, 27, 10, 0, tzinfo=UTC)
    # 01:30 happens twice that night: the first time (still WEST).
    assert time_of_day_fire(now, "01:30", "Europe/Lisbon") == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)


def test_time_of_day_in_an_unknown_timezone_is_utc() -> None:
    for name in ("Mars/Olympus", "", "../etc/passwd"):
        assert time_of_day_fire(NOW, "18:00", name) == datetime(2024, 5, 6, 18, 0, tzinfo=UTC)


def test_next_time_of_day_accepts_any_aware_now() -> None:
    lisbon_now = NOW.astimezone(ZoneInfo("Europe/Lisbon"))
    other_now = NOW.astimezone(timezone(timedelta(hours=-7)))
    expected = datetime(2024, 5, 7, 9, 0, tzinfo=UTC)
    for now in (NOW, lisbon_now, other_now):
        assert next_time_of_day(now, time(10, 0), ZoneInfo("Europe/Lisbon")) == expected


def test_an_invalid_time_of_day_fails_the_run_at_that_node() -> None:
    flow = linear(DelayNode(id="delay", mode="time_of_day", time_of_day="25:00"))
    assert end_of(begin(flow)) == EndRun(status="failed", reason="invalid_node", node_id="delay")


# --- contact changes ---------------------------------------------------------------------------------------


def test_set_attribute_updates_fields_and_attributes_and_later_nodes_see_them() -> None:
    flow = compile_flow(
        StartNode(id="start"),
        WaitForReplyNode(id="wait", save_as="city"),
        SetAttributeNode(id="set_city", attribute="city", value="{{vars.city}}"),
        SetAttributeNode(id="set_name", attribute="name", value="Ann {{contact.city}}"),
        SetAttributeNode(id="blank", attribute="", value="ignored"),
        SendMessageNode(id="msg", text="{{contact.name}} in {{contact.city}}"),
        EndNode(id="end"),
        edges=[
            "start -> wait",
            "wait.reply -> set_city",
            "set_city -> set_name",
            "set_name -> blank",
            "blank -> msg",
            "msg -> end",
        ],
    )
    state = begin(flow, ContactSnapshot(name="Ann")).state
    result = step(flow, state, Reply(text="Porto"), LATER)
    assert result.actions[:2] == [
        SetAttribute(node_id="set_city", attribute="city", value="Porto"),
        SetAttribute(node_id="set_name", attribute="name", value="Ann Porto"),
    ]
    assert texts(result.actions) == ["Ann Porto in Porto"]
    assert result.state.contact.name == "Ann Porto"
    assert result.state.contact.attributes == {"city": "Porto"}
    assert state.contact.attributes == {}
    assert state.contact.name == "Ann"


def test_add_tag_adds_once_and_always_reports() -> None:
    flow = linear(AddTagNode(id="t1", tag="vip"), AddTagNode(id="t2", tag="vip"), AddTagNode(id="t3", tag=""))
    result = begin(flow, ContactSnapshot(tags=["old"]))
    assert result.actions[:2] == [AddTag(node_id="t1", tag="vip"), AddTag(node_id="t2", tag="vip")]
    assert result.state.contact.tags == ["old", "vip"]


def test_group_changes_and_opt_in_out() -> None:
    flow = linear(
        AddToGroupNode(id="join", group_id=5),
        RemoveFromGroupNode(id="leave", group_id=6),
        AddToGroupNode(id="nothing", group_id=None),
        RemoveFromGroupNode(id="nothing_either"),
        OptOutNode(id="out", category_id=2),
        OptInNode(id="in"),
        EndNode(id="end"),
    )
    result = begin(flow)
    assert result.actions == [
        ChangeGroup(node_id="join", group_id=5, action="add"),
        ChangeGroup(node_id="leave", group_id=6, action="remove"),
        OptOut(node_id="out", category_id=2),
        OptIn(node_id="in", category_id=None),
        EndRun(status="completed", reason="end", node_id="end"),
    ]


# --- http request ------------------------------------------------------------------------------------------


def http_flow() -> CompiledFlow:
    request = HttpRequestNode(
        id="lookup",
        method="POST",
        url="https://api.example.com/orders?phone={{contact.phone}}",
        headers={"X-Contact": "{{contact.name}}", "Accept": "application/json"},
        body='{"city": "{{contact.city}}"}',
        save=[
            SaveField(variable="status", path="order.status"),
            SaveField(variable="first_item", path="order.items.0.name"),
            SaveField(variable="last_item", path="order.items.-1.name"),
            SaveField(variable="missing", path="order.nope.deeper"),
            SaveField(variable="", path="order"),
        ],
        timeout_seconds=5,
    )
    return compile_flow(
        StartNode(id="start"),
        request,
        SendMessageNode(id="ok", text="Order {{vars.status}}: {{vars.first_item}}"),
        SendMessageNode(id="sorry", text="Sorry, try later"),
        EndNode(id="end"),
        edges=[
            "start -> lookup",
            "lookup.success -> ok",
            "lookup.failure -> sorry",
            "ok -> end",
            "sorry -> end",
        ],
    )


def test_http_request_asks_the_host_to_call_and_waits() -> None:
    contact = ContactSnapshot(name="Ann", phone="+351900", attributes={"city": "Porto"})
    result = begin(http_flow(), contact)
    assert result.actions == [
        CallHttp(
            node_id="lookup",
            request_id="lookup#1",
            method="POST",
            url="https://api.example.com/orders?phone=%2B351900",  # "+" in a query would read as a space
            headers={"X-Contact": "Ann", "Accept": "application/json"},
            body='{"city": "Porto"}',
            timeout_seconds=5,
        )
    ]
    assert result.state.waiting == Waiting(kind="http", node_id="lookup", request_id="lookup#1")


def test_http_success_saves_the_chosen_fields() -> None:
    flow = http_flow()
    state = begin(flow).state
    body = {"order": {"status": "shipped", "items": [{"name": "Beans"}, {"name": "Mug"}]}}
    result = step(flow, state, HttpResult(request_id="lookup#1", status_code=201, body=body), LATER)
    assert result.state.vars == {
        "status": "shipped",
        "first_item": "Beans",
        "last_item": "Mug",
        "missing": None,
    }
    assert texts(result.actions) == ["Order shipped: Beans"]
    assert path(result.state)[1] == ("lookup", "success")


@pytest.mark.parametrize(
    "result_event",
    [
        HttpResult(request_id="lookup#1", status_code=404, body={"error": "no"}),
        HttpResult(request_id="lookup#1", status_code=302),
        HttpResult(request_id="lookup#1", status_code=None, error="timeout"),
    ],
)
def test_http_failure_goes_to_failure_and_saves_nothing(result_event: HttpResult) -> None:
    flow = http_flow()
    result = step(flow, begin(flow).state, result_event, LATER)
    assert texts(result.actions) == ["Sorry, try later"]
    assert path(result.state)[1] == ("lookup", "failure")
    assert result.state.vars == {}


@pytest.mark.parametrize(
    "event",
    [
        HttpResult(request_id="lookup#2", status_code=200),
        Reply(text="hello"),
        TimerFired(timer_id="lookup#1"),
    ],
)
def test_http_wait_ignores_other_events(event: Event) -> None:
    flow = http_flow()
    state = begin(flow).state
    assert step(flow, state, event, LATER).state is state


@pytest.mark.parametrize(
    ("body", "path_", "expected"),
    [
        ({"a": {"b": [10, 20]}}, "a.b.1", 20),
        ({"a": {"b": [10, 20]}}, "a.b.2", None),
        ({"a": {"b": [10, 20]}}, "a.b.x", None),
        ({"a": 1}, "a.b", None),
        ([{"id": 3}], "0.id", 3),
        ("plain text", "", "plain text"),
        ("plain text", "a", None),
        (None, "a", None),
    ],
)
def test_body_paths(body: object, path_: str, expected: object) -> None:
    assert body_value(body, path_) == expected


# --- budget ------------------------------------------------------------------------------------------------


def test_a_loop_without_a_wait_stops_at_the_budget() -> None:
    flow = linear(
        SetAttributeNode(id="a", attribute="x", value="1"), AddTagNode(id="b", tag="spin"), edges=["b -> a"]
    )
    result = begin(flow, budget=50)
    assert end_of(result) == EndRun(
        status="failed", reason="step_budget_exceeded", node_id=result.state.current_node
    )
    assert result.state.steps == 50
    assert result.state.status == "failed"
    assert result.state.waiting is None
    assert len(result.actions) == 50  # 49 changes (start made none) + the EndRun


def test_exactly_the_budget_is_allowed() -> None:
    flow = linear(*(AddTagNode(id=f"t{index}", tag="x") for index in range(8)), WaitForReplyNode(id="wait"))
    assert begin(flow, budget=10).state.status == "waiting"
    assert end_of(begin(flow, budget=9)).reason == "step_budget_exceeded"


def test_the_budget_counts_per_step_call() -> None:
    flow = compile_flow(
        StartNode(id="start"),
        WaitForReplyNode(id="wait"),
        *(AddTagNode(id=f"t{index}", tag="x") for index in range(5)),
        edges=[
            "start -> wait",
            "wait.reply -> t0",
            *(f"t{index} -> t{index + 1}" for index in range(4)),
            "t4 -> wait",
        ],
    )
    state = begin(flow, budget=6).state
    for _ in range(5):
        state = step(flow, state, Reply(text="go"), LATER, budget=6).state
        assert state.status == "waiting"
    assert state.steps == 2 + 5 * 6


# --- the caller's state is never touched -----------------------------------------------------------------------


def test_the_input_state_is_not_mutated() -> None:
    flow = compile_flow(
        StartNode(id="start"),
        WaitForReplyNode(id="wait", save_as="answer"),
        SetAttributeNode(id="set", attribute="city", value="{{vars.answer}}"),
        AddTagNode(id="tag", tag="replied"),
        SendMessageNode(id="ask", text="Again?", buttons=[Button(id="yes", title="Yes")]),
        EndNode(id="end"),
        edges=[
            "start -> wait",
            "wait.reply -> set",
            "set -> tag",
            "tag -> ask",
            "ask.button:yes -> wait",
            "ask -> end",
        ],
    )
    state = begin(flow, ContactSnapshot(attributes={"a": 1}, tags=["t"])).state
    for event in (Reply(text="Porto"), ButtonTap(button_id="yes"), Reply(text="Faro"), Reply(text="done")):
        before = frozen(state)
        result = step(flow, state, event, LATER)
        assert frozen(state) == before
        assert result.state is not state
        assert result.state.path[-1] is not state.path[-1]
        state = result.state
    assert state.contact.attributes == {"a": 1, "city": "Faro"}
    assert state.status == "completed"


# --- escaping of values in HTTP requests and late button taps ----------------------------------------------


def _http_flow(url: str, body: str = "", headers: dict[str, str] | None = None) -> CompiledFlow:
    from flows.schema import FlowGraph, HttpRequestNode, StartNode

    graph = FlowGraph(
        nodes=[
            StartNode(id="s"),
            HttpRequestNode(id="h", method="POST", url=url, body=body, headers=headers or {}),
        ],
        edges=[Edge(source="s", target="h")],
    )
    return CompiledFlow.from_graph(graph)


def _call(flow: CompiledFlow, **contact) -> CallHttp:
    result = step(flow, None, Start(contact=ContactSnapshot(**contact)), NOW)
    return next(action for action in result.actions if isinstance(action, CallHttp))


def test_values_in_urls_are_escaped_but_a_whole_url_variable_is_not():
    flow = _http_flow("https://crm.example/find?name={{contact.name}}")
    assert _call(flow, name="Ann & Bob=1").url == "https://crm.example/find?name=Ann%20%26%20Bob%3D1"
    whole = _http_flow("{{contact.callback}}")
    assert (
        _call(whole, attributes={"callback": "https://hooks.example/x?a=1"}).url
        == "https://hooks.example/x?a=1"
    )


def test_values_in_json_bodies_cannot_break_out_of_their_string():
    import json

    flow = _http_flow("https://crm.example", body='{"name": "{{contact.name}}"}')
    body = _call(flow, name='Ann "the hacker" \\ O\'Neil').body
    assert json.loads(body) == {"name": 'Ann "the hacker" \\ O\'Neil'}


def test_header_values_cannot_add_headers():
    flow = _http_flow("https://crm.example", headers={"X-Name": "{{contact.name}}"})
    assert _call(flow, name="Ann\r\nX-Admin: yes").headers["X-Name"] == "Ann  X-Admin: yes"


def test_a_late_tap_on_an_older_message_is_ignored():
    from flows.schema import Button, FlowGraph, SendMessageNode, StartNode

    graph = FlowGraph(
        nodes=[
            StartNode(id="s"),
            SendMessageNode(id="q1", text="First?", buttons=[Button(id="yes", title="Yes")]),
            SendMessageNode(id="q2", text="Second?", buttons=[Button(id="yes", title="Yes")]),
            SendMessageNode(id="done", text="Done"),
        ],
        edges=[
            Edge(source="s", target="q1"),
            Edge(source="q1", source_port="button:yes", target="q2"),
            Edge(source="q1", target="q2"),
            Edge(source="q2", source_port="button:yes", target="done"),
            Edge(source="q2", target="done"),
        ],
    )
    flow = CompiledFlow.from_graph(graph)
    state = step(flow, None, Start(contact=ContactSnapshot()), NOW).state
    state = step(flow, state, ButtonTap(button_id="yes", message_ref="q1#1"), NOW).state
    assert state.current_node == "q2"
    late = step(flow, state, ButtonTap(button_id="yes", message_ref="q1#1"), NOW)
    assert late.actions == [] and late.state is state
    answered = step(flow, state, ButtonTap(button_id="yes", message_ref="q2#1"), NOW)
    assert answered.state.current_node == "done"
