"""Properties of the interpreter over random graphs and random event sequences (hypothesis).

The graphs are deliberately not validated: any node kind, missing or broken settings, cycles with and
without waits, unconnected ports, edges to nodes that do not exist. Whatever the graph and the events,
a run must stay inside its budget, be either waiting or ended with exactly one EndRun, only act for
nodes it entered along real edges, and survive a JSON round trip.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import msgspec
from hypothesis import event as note_event
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.graph import CompiledFlow, output_ports
from flows.interpreter import step
from flows.run import (
    MAX_PATH,
    ButtonTap,
    ContactSnapshot,
    EndRun,
    Event,
    HttpResult,
    Reply,
    RunState,
    SendResult,
    Start,
    StepResult,
    TimerFired,
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
    WaitForReplyNode,
    decode_graph,
    encode_graph,
)

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
T0 = datetime(2024, 3, 9, 12, 0, tzinfo=UTC)  # the weekend New York springs forward

TEXTS = [
    "",
    "Hi {{contact.name}}",
    "{{vars.answer | 'none'}}",
    "{{reply.text}}",
    "{{contact.age}} {{ vars.x }}",
]
REPLIES = ["yes", "No", "price?", "42", "  hours, please ", ""]
OPERATORS = [
    "equals",
    "contains",
    "starts_with",
    "contains_any",
    "is_number",
    "button",
    "not_equals",
    "gt",
    "lte",
    "is_set",
    "one_of",
    "bogus",
]


# --- graphs ----------------------------------------------------------------------------------------------


BUTTONS: st.SearchStrategy[list[Button]] = st.lists(
    st.sampled_from(["b0", "b1", "b2"]), max_size=3, unique=True
).map(lambda ids: [Button(id=button_id, title=button_id.upper()) for button_id in ids])
_RULE = st.builds(
    BranchRule,
    id=st.just(""),
    operator=st.sampled_from(OPERATORS),
    value=st.sampled_from(["yes", "42", "90", "price,hours", "b0", "", "Ann"]),
    attribute=st.sampled_from(["age", "name", "city", "email", ""]),
    percent=st.sampled_from([0.0, 10.0, 50.0, 100.0, -5.0]),
)
RULES: st.SearchStrategy[list[BranchRule]] = st.lists(_RULE, max_size=3).map(
    lambda drawn: [msgspec.structs.replace(item, id=f"r{index}") for index, item in enumerate(drawn)]
)


_TEXT = st.sampled_from(TEXTS)
_SECONDS = st.integers(-10, 200_000)
_ID = st.just("?")  # each node gets its real id once drawn: strategies are built once, not per node
NODES: st.SearchStrategy[Node] = st.one_of(
    st.builds(
        SendMessageNode,
        id=_ID,
        text=_TEXT,
        buttons=BUTTONS,
        message_kind=st.sampled_from(["marketing", "transactional"]),
        reply_timeout=_SECONDS,
    ),
    st.builds(
        WaitForReplyNode,
        id=_ID,
        timeout=_SECONDS,
        save_as=st.sampled_from(["", "answer", "x"]),
    ),
    st.builds(
        BranchNode,
        id=_ID,
        mode=st.sampled_from(["reply", "attribute", "random"]),
        rules=RULES,
        case_sensitive=st.booleans(),
    ),
    st.builds(
        DelayNode,
        id=_ID,
        mode=st.sampled_from(["duration", "time_of_day"]),
        seconds=_SECONDS,
        time_of_day=st.sampled_from(["09:00", "02:30", "23:59", "0:00", "25:00", "soon"]),
        days=st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), unique=True),
    ),
    st.builds(
        SetAttributeNode,
        id=_ID,
        attribute=st.sampled_from(["", "name", "timezone", "city", "age"]),
        value=_TEXT,
    ),
    st.builds(AddTagNode, id=_ID, tag=st.sampled_from(["", "vip", "lead"])),
    st.builds(AddToGroupNode, id=_ID, group_id=st.none() | st.integers(1, 5)),
    st.builds(RemoveFromGroupNode, id=_ID, group_id=st.none() | st.integers(1, 5)),
    st.builds(OptOutNode, id=_ID, category_id=st.none() | st.integers(1, 3)),
    st.builds(OptInNode, id=_ID),
    st.builds(
        HttpRequestNode,
        id=_ID,
        url=st.sampled_from(["https://api.example.com/x?n={{contact.name}}", ""]),
        save=st.lists(
            st.builds(
                SaveField,
                variable=st.sampled_from(["x", "answer", ""]),
                path=st.sampled_from(["", "a", "a.b", "list.0", "list.-1", "nope.deep"]),
            ),
            max_size=3,
        ),
    ),
    st.builds(EndNode, id=_ID),
)


@st.composite
def graphs(draw: st.DrawFn) -> FlowGraph:
    """A start (usually), up to 9 more nodes, and edges from their real ports to any node, or nowhere."""
    count = draw(st.integers(0, 9))
    nodes: list[Node] = [msgspec.structs.replace(draw(NODES), id=f"n{index}") for index in range(count)]
    if draw(st.sampled_from([True] * 19 + [False])):  # one graph in twenty has no start
        nodes.insert(draw(st.integers(0, len(nodes))), StartNode(id="start"))
    node_ids = [node.id for node in nodes]
    # Mostly connected (so runs get somewhere), some ports left open, a few edges to a missing node.
    targets = st.sampled_from([*node_ids, *node_ids, None, "ghost"]) if node_ids else st.none()
    edges: list[Edge] = []
    for node in nodes:
        for port in output_ports(node):
            target = draw(targets)
            if target is not None:
                edges.append(Edge(id=f"{node.id}:{port}", source=node.id, source_port=port, target=target))
    return FlowGraph(nodes=nodes, edges=edges)


contacts = st.builds(
    ContactSnapshot,
    name=st.sampled_from(["", "Ann", "Bob"]),
    timezone=st.sampled_from(["UTC", "Europe/Lisbon", "America/New_York", "Nowhere/Zone"]),
    attributes=st.fixed_dictionaries(
        {}, optional={"age": st.integers(0, 120) | st.sampled_from(["91", "old"]), "city": st.just("Porto")}
    ),
)


# --- events --------------------------------------------------------------------------------------------


def next_event(data: st.DataObject, state: RunState) -> Event:
    """Mostly an event the run waits for (so runs get somewhere), sometimes anything at all."""
    waiting = state.waiting
    if waiting is None or data.draw(st.sampled_from(["expected", "expected", "expected", "any"])) == "any":
        return data.draw(any_event(), label="event")
    timer = st.builds(TimerFired, timer_id=st.just(waiting.timer_id))
    reply = st.builds(Reply, text=st.sampled_from(REPLIES))
    tap = st.builds(
        ButtonTap, button_id=st.sampled_from(["b0", "b1", "b2", "zz"]), text=st.sampled_from(["", "Ok"])
    )
    expected = {
        "reply": st.one_of(reply, tap, timer),
        "buttons": st.one_of(
            tap,
            reply,
            timer,
            st.builds(SendResult, message_ref=st.just(waiting.message_ref), status=st.just("failed")),
        ),
        "timer": timer,
        "http": st.builds(
            HttpResult,
            request_id=st.just(waiting.request_id),
            status_code=st.sampled_from([200, 204, 404, 500, None]),
            body=BODIES,
        ),
    }[waiting.kind]
    return data.draw(expected, label="event")


BODIES = st.sampled_from([None, "text", {"a": {"b": 1}, "list": [1, {"x": "y"}]}, [1]])


def any_event() -> st.SearchStrategy[Event]:
    """Unrelated, stale and duplicate deliveries: all of these must be harmless."""
    return st.one_of(
        st.builds(Reply, text=st.sampled_from(REPLIES)),
        st.builds(ButtonTap, button_id=st.sampled_from(["b0", "zz"])),
        st.builds(TimerFired, timer_id=st.sampled_from(["n1#1:timeout", "n2#1:delay", "stale"])),
        st.builds(
            SendResult,
            message_ref=st.sampled_from(["n1#1", "n2#2"]),
            status=st.sampled_from(["sent", "failed"]),
        ),
        st.builds(
            HttpResult, request_id=st.sampled_from(["n1#1", "x"]), status_code=st.just(200), body=BODIES
        ),
        st.builds(Start, contact=contacts),
    )


# --- checks ---------------------------------------------------------------------------------------------


def check_step(flow: CompiledFlow, before: RunState | None, result: StepResult, budget: int) -> None:
    state = result.state
    actions = result.actions
    steps_before = before.steps if before is not None else 0
    assert 0 <= state.steps - steps_before <= budget

    if before is not None and before.finished:
        assert state is before
    if before is not None and state is before:
        assert actions == []  # an ignored event: nothing happens
        return
    ends = [action for action in actions if isinstance(action, EndRun)]
    if state.finished:
        assert state.waiting is None
        assert state.ended_reason
        assert len(ends) == 1
        assert actions[-1] is ends[0]
        assert (ends[0].status, ends[0].reason) == (state.status, state.ended_reason)
    else:
        assert ends == []
        assert state.status == "waiting"
        assert state.waiting is not None
        assert state.path[-1].node_id == state.waiting.node_id == state.current_node
        assert state.path[-1].port is None

    check_path(flow, state)

    # Every action belongs to a node this call entered (or the one it resumed from).
    # (Counted by visits, not path entries: the path keeps only the last MAX_PATH.)
    old_visits = before.visits if before is not None else {}
    entered = {node_id for node_id, count in state.visits.items() if count > old_visits.get(node_id, 0)}
    if before is not None and before.waiting is not None:
        entered.add(before.waiting.node_id)
    for action in actions:
        node_id = action.node_id
        assert node_id is None or node_id in entered, (action, entered)
        assert node_id is None or node_id in flow.nodes

    assert msgspec.json.decode(msgspec.json.encode(state), type=RunState) == state


def check_path(flow: CompiledFlow, state: RunState) -> None:
    """Each entry was reached from the previous one through a real edge, leaving by a real port."""
    entries = state.path
    if entries and len(entries) < MAX_PATH:
        assert entries[0].node_id == flow.start_id
    for entry in entries:
        node = flow.nodes[entry.node_id]
        assert entry.port is None or entry.port in output_ports(node)
    for previous, current in pairwise(entries):
        assert previous.port is not None
        assert flow.target(previous.node_id, previous.port) == current.node_id


# --- properties -------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(
    graph=graphs(),
    contact=contacts,
    seed=st.integers(0, 2**32),
    budget=st.sampled_from([40, 1000, 3]),
    data=st.data(),
)
def test_runs_stay_in_budget_and_only_act_along_real_edges(
    graph: FlowGraph, contact: ContactSnapshot, seed: int, budget: int, data: st.DataObject
) -> None:
    flow = CompiledFlow.from_graph(graph)
    events: list[Event] = [Start(contact=contact, seed=seed)]
    times = [T0]
    result = step(flow, None, events[0], T0, budget=budget)
    check_step(flow, None, result, budget)
    history = [msgspec.json.encode(result.state)]
    state = result.state
    for _ in range(data.draw(st.integers(0, 12), label="events")):
        event = next_event(data, state)
        now = times[-1] + timedelta(minutes=data.draw(st.integers(0, 3000), label="minutes"))
        snapshot = msgspec.json.encode(state)
        result = step(flow, state, event, now, budget=budget)
        assert msgspec.json.encode(state) == snapshot, "step changed its input state"
        check_step(flow, state, result, budget)
        if result.state is not state:
            note_event(f"{type(event).__name__} resumed a {state.waiting and state.waiting.kind} wait")
        state = result.state
        events.append(event)
        times.append(now)
        history.append(msgspec.json.encode(state))

    # The same events at the same times give the same run: nothing depends on the process or the clock.
    replay: RunState | None = None
    replayed = []
    for event, now in zip(events, times, strict=True):
        replay = step(flow, replay, event, now, budget=budget).state
        replayed.append(msgspec.json.encode(replay))
    assert replayed == history
    note_event(f"run {state.status} {state.ended_reason}".strip())


@PROPERTY_SETTINGS
@given(graph=graphs())
def test_graphs_round_trip_through_json(graph: FlowGraph) -> None:
    assert decode_graph(encode_graph(graph)) == graph
    assert decode_graph(msgspec.json.decode(encode_graph(graph))) == graph


@PROPERTY_SETTINGS
@given(graph=graphs(), seed=st.integers(0, 2**32))
def test_a_start_either_waits_or_ends_with_one_end_run(graph: FlowGraph, seed: int) -> None:
    flow = CompiledFlow.from_graph(graph)
    result = step(flow, None, Start(contact=ContactSnapshot(name="Ann"), seed=seed), T0)
    check_step(flow, None, result, 1000)
    again = step(flow, None, Start(contact=ContactSnapshot(name="Ann"), seed=seed), T0)
    assert msgspec.json.encode(again) == msgspec.json.encode(result)
