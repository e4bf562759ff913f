"""What keeps a flow graph from publishing, said so that a marketer can fix it.

Drafts are saved invalid all the time (the editor autosaves half-drawn flows) and only valid graphs
publish, so :func:`validate` accepts any decoded :class:`~flows.schema.FlowGraph`, never raises, and
lists every problem. The order is stable — graph-level problems first, then by the node's position
in ``graph.nodes``, then by field — so the editor can pin each problem on its node and field, and the
API answers the same 422 body for the same draft. It runs on every autosave: apart from scanning text
fields for ``{{variables}}`` the work is linear in nodes and edges.

Codes (stable; tests and clients rely on them):

====================== =================================================================================
code                   triggered by
====================== =================================================================================
no_start               the graph has no start node (graph-level)
multiple_starts        a second, third, … start node (one problem on each extra start)
duplicate_node_id      a node reuses the id of an earlier node (on the later one)
dangling_edge          an edge whose source or target node does not exist (on the end that exists;
                       graph-level when neither does)
unknown_port           an edge leaving a port its source node does not have (``button:x`` of a deleted
                       button), or ``ends`` naming such a port (field ``ends``)
duplicate_edge         a second edge leaving the same (node, port)
edge_into_start        an edge that enters a start node (on the edge's source)
unconnected_output     an output port with no edge and not in ``ends``; a send's ``button:<id>`` ports
                       may stay unconnected (the run falls through ``next``)
unreachable_node       no path from the start leads to the node (only checked with exactly one start)
loop_without_wait      a cycle of nodes none of which pauses (wait for reply, delay, HTTP request, a send
                       with connected buttons), self-loops included; one per cycle, on its first node
missing_field          a required setting is empty (message content, template name, attribute, tag,
                       group, URL, keywords, branch rules, rule value/attribute, time of day, button title,
                       variable of an HTTP save)
invalid_field          a setting has a wrong value: durations outside 1 s … 90 days, HTTP timeout outside
                       0.5 to 60 s, time of day not HH:MM, operator unknown for the branch mode, ``button``
                       rule naming no button of the graph, non-numeric value for gt/gte/lt/lte, URL not
                       http(s), variable or attribute name not an identifier, button title over 20
                       characters, malformed ``{{ }}`` placeholder
unknown_reference      group_id / category_id not among the given ``group_ids`` / ``category_ids``
too_many_buttons       a message with more than 3 buttons
duplicate_button_id    a button reuses the id of an earlier button of the same message
duplicate_rule_id      a branch rule reuses the id of an earlier rule of the same branch
split_not_100          a random split rule with a percentage ≤ 0, or percentages not adding up to 100
unknown_variable       a ``{{variable}}`` without default that nothing defines before the node
unsupported_on_channel a message feature the given channel cannot carry (buttons, template, media)
====================== =================================================================================

Choices worth knowing:

- There is no ``self_loop`` code: a node connected to itself is a cycle like any other, so it is a
  ``loop_without_wait`` unless the node pauses (a wait for reply that asks again on timeout is fine).
- A group or category id missing from ``group_ids``/``category_ids`` is ``unknown_reference``, not
  ``invalid_field``: the setting was fine when made, what it points at was deleted since.
- For problems about a connection, ``field`` is the output port (``next``, ``button:yes``).
- The graph is read as the interpreter reads it (:class:`~flows.graph.CompiledFlow`): the first node
  of a duplicated id, the first edge of a (node, port). Later duplicates are reported, not analysed.
- A variable is defined when *some* path into the node defines it (a wait's ``save_as`` counts even
  on the path through its timeout): rendering never fails, a missing value renders empty, and
  flagging every path-dependent gap would bury the real mistakes.
- ``reply.*`` counts as defined after a wait for reply or a send whose button ports are connected;
  a send with unconnected buttons does not wait, so no reply exists yet.
- A URL may contain ``{{variables}}``; one that *starts* with a variable takes its scheme from the
  variable's value and is only checked when sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_args

import msgspec

from flows.graph import CompiledFlow, output_ports
from flows.schema import (
    AddTagNode,
    AddToGroupNode,
    AttributeOperator,
    BranchNode,
    BranchRule,
    DelayNode,
    EndNode,
    FlowGraph,
    HttpRequestNode,
    Node,
    OptInNode,
    OptOutNode,
    RemoveFromGroupNode,
    ReplyOperator,
    SendMessageNode,
    SetAttributeNode,
    StartNode,
    WaitForReplyNode,
)
from flows.templating import CONTACT_FIELDS, REPLY_FIELDS, Placeholder, malformed_placeholders, placeholders


class Problem(msgspec.Struct, kw_only=True):
    """One reason a graph cannot publish, pinned on a node (None: the whole graph) and a setting."""

    node_id: str | None
    code: str
    message: str
    field: str = ""


CODES = (
    "no_start",
    "multiple_starts",
    "duplicate_node_id",
    "dangling_edge",
    "unknown_port",
    "duplicate_edge",
    "edge_into_start",
    "unconnected_output",
    "unreachable_node",
    "loop_without_wait",
    "missing_field",
    "invalid_field",
    "unknown_reference",
    "too_many_buttons",
    "duplicate_button_id",
    "duplicate_rule_id",
    "split_not_100",
    "unknown_variable",
    "unsupported_on_channel",
)
"""Every code :func:`validate` can report."""

MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
"""WhatsApp's limits for quick-reply buttons; other channels show fewer or none."""
MIN_DURATION_SECONDS = 1
MAX_DURATION_SECONDS = 90 * 86_400
"""Longer waits are almost always a typo (seconds for minutes) and keep runs alive for months."""
HTTP_TIMEOUT_RANGE = (0.5, 60.0)
SPLIT_TOLERANCE = 0.01
"""Percentages like 33.33 + 33.33 + 33.34 come from floats; a hundredth is close enough."""
LOOP_NAMES_SHOWN = 10
"""A loop's message names at most this many of its nodes."""

CHANNEL_LIMITS: dict[str, frozenset[str]] = {
    "whatsapp": frozenset(),
    "viber": frozenset({"template"}),
    "sms": frozenset({"buttons", "template", "media_url"}),
    "email": frozenset({"buttons", "template"}),
}
"""What a send's message cannot carry on each channel (templates are WhatsApp's own)."""
MEDIA_CAPTION_LIMITS: dict[str, int] = {"whatsapp": 1024, "viber": 768}
"""How long a media message's text (its caption) may be on each channel."""
_CHANNEL_NAMES = {"whatsapp": "WhatsApp", "viber": "Viber", "sms": "SMS", "email": "Email"}

_REPLY_OPERATORS = frozenset(get_args(ReplyOperator))
_ATTRIBUTE_OPERATORS = frozenset(get_args(AttributeOperator))
_VALUELESS_OPERATORS = frozenset({"is_number", "is_set", "is_not_set"})
_NUMERIC_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_TIME_OF_DAY = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")
_HTTP_URL = re.compile(r"https?://[^\s/?#]+(?:[/?#]\S*)?", re.IGNORECASE)
_DIGITS = re.compile(r"(\d+)")

_KIND_NAMES = {
    "start": "Start",
    "send_message": "Send",
    "wait_for_reply": "Wait for reply",
    "branch": "Branch",
    "delay": "Delay",
    "set_attribute": "Set attribute",
    "add_tag": "Add tag",
    "add_to_group": "Add to group",
    "remove_from_group": "Remove from group",
    "http_request": "HTTP request",
    "opt_out": "Opt out",
    "opt_in": "Opt in",
    "end": "End",
}


# --- entry point ----------------------------------------------------------------------------------------


def validate(
    graph: FlowGraph,
    *,
    known_attributes: Collection[str] = (),
    group_ids: Collection[int] | None = None,
    category_ids: Collection[int] | None = None,
    channel: str | None = None,
) -> list[Problem]:
    """Every problem of ``graph``, in a stable order; ``[]`` means it can publish.

    ``known_attributes`` are the workspace's contact attributes (``{{contact.<attr>}}`` is then always
    defined). ``group_ids``/``category_ids``, when given, are the ids that exist; None skips those
    checks (the caller does not know them). ``channel`` (whatsapp, sms, viber, email) adds the checks
    of what that channel can carry; None or an unknown channel adds none.
    """
    report = _Report()
    shape = _Shape.of(graph)
    _check_starts_and_ids(graph, shape, report)
    _check_edges(graph, shape, report)
    _check_outputs(graph, shape, report)
    _check_reachability(shape, report)
    _check_loops(shape, report)
    context = _Context(
        known_attributes=frozenset(known_attributes),
        group_ids=None if group_ids is None else frozenset(group_ids),
        category_ids=None if category_ids is None else frozenset(category_ids),
        channel=channel,
        button_ids=frozenset(
            button.id for node in graph.nodes if isinstance(node, SendMessageNode) for button in node.buttons
        ),
    )
    definitions = _Definitions.of(shape)
    for position, node in enumerate(graph.nodes):
        at = _At(report, node, position)
        _SETTINGS_CHECKS.get(type(node), _no_settings)(node, at, context)
        defined = definitions.checker(node.id, context.known_attributes)
        for field, phrase, text in _template_fields(node):
            _check_template(at, field, phrase, text, defined)
    return report.problems()


# --- collecting problems ----------------------------------------------------------------------------------


class _Report:
    """Problems with the key that orders them: graph-level first, node position, field, then arrival."""

    def __init__(self) -> None:
        self._rows: list[tuple[int, tuple[Any, ...], int, Problem]] = []

    def add(self, position: int, node_id: str | None, code: str, message: str, field: str = "") -> None:
        problem = Problem(node_id=node_id, code=code, message=message, field=field)
        self._rows.append((position, _field_key(field), len(self._rows), problem))

    def problems(self) -> list[Problem]:
        return [row[3] for row in sorted(self._rows, key=lambda row: row[:3])]


def _field_key(field: str) -> tuple[Any, ...]:
    """Sort ``rules[10]`` after ``rules[9]``: digit runs compare as numbers (they alternate with text)."""
    return tuple(int(part) if index % 2 else part for index, part in enumerate(_DIGITS.split(field)))


@dataclass(frozen=True, slots=True)
class _At:
    """Reports problems on one node, starting each message with the node's name."""

    report: _Report
    node: Node
    position: int

    def __call__(self, code: str, text: str, field: str = "") -> None:
        self.report.add(self.position, self.node.id, code, f"{node_name(self.node)}: {text}", field)


def node_name(node: Node) -> str:
    """How the canvas shows the node to its author: kind and label, or kind and id when unlabelled.

    Every problem on a node starts with this name and ": ", so a list of problems reads on its own; the
    editor, which shows a problem *on* its node, drops that prefix.
    """
    kind = node.__struct_config__.tag
    title = _KIND_NAMES.get(kind, str(kind))
    label = node.label.strip()
    return f'{title} "{label}"' if label else f"{title} (node {node.id})"


def _port_name(node: Node, port: str) -> str:
    """An output port in the words of the editor: buttons and rules by their titles."""
    kind, _, key = port.partition(":")
    if kind == "button" and isinstance(node, SendMessageNode):
        title = next((button.title.strip() for button in node.buttons if button.id == key), "")
        return f'the output of button "{title or key}"'
    if kind == "rule" and isinstance(node, BranchNode):
        label = next((rule.label.strip() for rule in node.rules if rule.id == key), "")
        return f'the output of rule "{label or key}"'
    return f'the "{port}" output'


# --- the graph as the interpreter reads it ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Shape:
    """The graph indexed once: first node per id, its ports, its position, and the edges that are followed."""

    compiled: CompiledFlow
    position: dict[str, int]
    ports: dict[str, frozenset[str]]
    successors: dict[str, list[str]]
    start_id: str | None
    """The start when there is exactly one; reachability means nothing otherwise."""

    @classmethod
    def of(cls, graph: FlowGraph) -> _Shape:
        compiled = CompiledFlow.from_graph(graph)
        position: dict[str, int] = {}
        for index, node in enumerate(graph.nodes):
            position.setdefault(node.id, index)
        ports = {node_id: frozenset(output_ports(node)) for node_id, node in compiled.nodes.items()}
        successors: dict[str, list[str]] = {node_id: [] for node_id in compiled.nodes}
        for (source, port), target in compiled.targets.items():
            # Edges to missing nodes are reported as dangling_edge; they lead nowhere in the graph.
            if port in ports[source] and target in compiled.nodes:
                successors[source].append(target)
        starts = [node.id for node in graph.nodes if isinstance(node, StartNode)]
        start_id = starts[0] if len(starts) == 1 else None
        return cls(compiled, position, ports, successors, start_id)

    @property
    def nodes(self) -> dict[str, Node]:
        return self.compiled.nodes

    def at(self, report: _Report, node_id: str) -> _At:
        return _At(report, self.nodes[node_id], self.position[node_id])


def _strongly_connected(order: Sequence[str], successors: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Tarjan's components, iteratively (flows can be long chains; no recursion limit applies).

    Components come out in reverse topological order: one is emitted after every one it leads to.
    ``successors`` must only name nodes of ``order``.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node_id: str) -> Iterator[str]:
        index[node_id] = low[node_id] = len(index)
        stack.append(node_id)
        on_stack.add(node_id)
        return iter(successors[node_id])

    for root in order:
        if root in index:
            continue
        work = [(root, visit(root))]
        while work:
            node_id, children = work[-1]
            child = next(
                (child for child in children if _descend(child, node_id, index, low, on_stack)), None
            )
            if child is not None:
                work.append((child, visit(child)))
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node_id])
            if low[node_id] == index[node_id]:
                components.append(_pop_component(node_id, stack, on_stack))
    return components


def _descend(
    child: str, node_id: str, index: dict[str, int], low: dict[str, int], on_stack: set[str]
) -> bool:
    """Whether Tarjan must visit ``child`` now; otherwise fold a back edge into ``node_id``'s low link."""
    if child not in index:
        return True
    if child in on_stack:
        low[node_id] = min(low[node_id], index[child])
    return False


def _pop_component(root: str, stack: list[str], on_stack: set[str]) -> list[str]:
    component: list[str] = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == root:
            return component


def _is_cycle(component: Sequence[str], successors: Mapping[str, Sequence[str]]) -> bool:
    return len(component) > 1 or component[0] in successors[component[0]]


# --- structure: starts, ids, edges, outputs, reachability, loops ----------------------------------------------


def _check_starts_and_ids(graph: FlowGraph, shape: _Shape, report: _Report) -> None:
    first_start: Node | None = None
    for position, node in enumerate(graph.nodes):
        at = _At(report, node, position)
        if shape.position[node.id] != position:
            at(
                "duplicate_node_id",
                f'another node already uses the id "{node.id}"; each node needs its own id.',
            )
        if not isinstance(node, StartNode):
            continue
        if first_start is None:
            first_start = node
        else:
            at(
                "multiple_starts",
                f"a flow has exactly one start and it already begins at {node_name(first_start)}; "
                "remove this start or the other.",
            )
    if first_start is None:
        report.add(
            -1, None, "no_start", "The flow has no Start node; add one so that runs know where to begin."
        )


def _check_edges(graph: FlowGraph, shape: _Shape, report: _Report) -> None:
    """Edges to nowhere, from ports that do not exist, twice from one port, or back into a start."""
    seen: set[tuple[str, str]] = set()
    for edge in graph.edges:
        source, target, port = edge.source, edge.target, edge.source_port
        if source not in shape.nodes or target not in shape.nodes:
            _report_dangling(edge.source, edge.target, port, shape, report)
            continue
        at = shape.at(report, source)
        if port not in shape.ports[source]:
            hint = " (was its button or rule deleted?)" if port.startswith(("button:", "rule:")) else ""
            at(
                "unknown_port",
                f'a connection leaves from "{port}", an output this node does not have{hint}; '
                "remove that connection.",
                port,
            )
            continue
        if (source, port) in seen:
            at(
                "duplicate_edge",
                f"{_port_name(at.node, port)} is connected more than once; an output leads to one node only.",
                port,
            )
            continue
        seen.add((source, port))
        if isinstance(shape.nodes[target], StartNode):
            at(
                "edge_into_start",
                f"{_port_name(at.node, port)} leads back to {node_name(shape.nodes[target])}; "
                "nothing can connect into a start.",
                port,
            )


def _report_dangling(source: str, target: str, port: str, shape: _Shape, report: _Report) -> None:
    if source in shape.nodes:
        at = shape.at(report, source)
        at(
            "dangling_edge",
            f"{_port_name(at.node, port)} leads to a node that no longer exists ({target}).",
            port,
        )
    elif target in shape.nodes:
        shape.at(report, target)(
            "dangling_edge", f"a connection comes from a node that no longer exists ({source})."
        )
    else:
        report.add(
            -1,
            None,
            "dangling_edge",
            f"A connection links two nodes that no longer exist ({source} to {target}).",
        )


def _check_outputs(graph: FlowGraph, shape: _Shape, report: _Report) -> None:
    """Every output leads somewhere or is deliberately an end; unconnected buttons fall through ``next``."""
    connected = {(edge.source, edge.source_port) for edge in graph.edges}
    for node_id, node in shape.nodes.items():
        at = shape.at(report, node_id)
        ports = output_ports(node)
        for port in dict.fromkeys(node.ends):
            if port not in shape.ports[node_id]:
                at(
                    "unknown_port",
                    f'"{port}" is marked as a deliberate end, but this node has no such output.',
                    "ends",
                )
        ends = set(node.ends)
        for port in dict.fromkeys(ports):
            if (node_id, port) in connected or port in ends:
                continue
            if isinstance(node, SendMessageNode) and port.startswith("button:"):
                continue
            at(
                "unconnected_output",
                f"{_port_name(node, port)} is not connected; connect it or mark it as the end of the flow.",
                port,
            )


def _check_reachability(shape: _Shape, report: _Report) -> None:
    if shape.start_id is None:
        return
    reached = {shape.start_id}
    queue = [shape.start_id]
    while queue:
        for target in shape.successors.get(queue.pop(), ()):
            if target not in reached:
                reached.add(target)
                queue.append(target)
    for node_id in shape.nodes:
        if node_id not in reached:
            shape.at(report, node_id)(
                "unreachable_node", "no path from the start leads here, so this step never runs."
            )


def _check_loops(shape: _Shape, report: _Report) -> None:
    """Cycles among nodes that do not pause would spin until the step budget kills the run."""
    busy = [node_id for node_id in shape.nodes if not shape.compiled.pauses(node_id)]
    busy_set = set(busy)
    successors = {node_id: [t for t in shape.successors[node_id] if t in busy_set] for node_id in busy}
    for component in _strongly_connected(busy, successors):
        if not _is_cycle(component, successors):
            continue
        members = sorted(component, key=shape.position.__getitem__)
        steps = _loop_steps([shape.nodes[member] for member in members])
        what = "connects back to itself" if len(members) == 1 else f"is in a loop ({steps})"
        shape.at(report, members[0])(
            "loop_without_wait",
            f"this step {what} with no wait for reply, delay or HTTP request, so a run could repeat it "
            "endlessly; add a wait or a delay inside the loop.",
        )


def _loop_steps(nodes: Sequence[Node]) -> str:
    """The loop's steps in canvas order; a huge loop is cut short so the message stays readable."""
    names = " → ".join(node_name(node) for node in nodes[:LOOP_NAMES_SHOWN])
    hidden = len(nodes) - LOOP_NAMES_SHOWN
    return f"{names} and {hidden} more" if hidden > 0 else names


# --- settings of each node kind ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    """What settings checks need beyond the node: the workspace's ids and the graph's button ids."""

    known_attributes: frozenset[str]
    group_ids: frozenset[int] | None
    category_ids: frozenset[int] | None
    channel: str | None
    button_ids: frozenset[str]


def _no_settings(node: Any, at: _At, context: _Context) -> None:
    """End nodes (and any kind added later without checks) have nothing to fill in."""


def _check_start(node: StartNode, at: _At, context: _Context) -> None:
    if node.trigger != "keyword":
        return
    if not any(keyword.strip() for keyword in node.keywords):
        at("missing_field", "a keyword trigger needs at least one keyword.", "keywords")
        return
    for index, keyword in enumerate(node.keywords):
        if not keyword.strip():
            at("missing_field", f"keyword {index + 1} is empty.", f"keywords[{index}]")


def _check_send(node: SendMessageNode, at: _At, context: _Context) -> None:
    if node.template is not None and not node.template.name.strip():
        at("missing_field", "the template has no name; pick an approved template.", "template.name")
    elif node.template is None and not node.text.strip() and not node.media_url.strip():
        at("missing_field", "the message has no text, media or template.", "text")
    if node.media_url.strip() and not _is_http_url(node.media_url):
        at(
            "invalid_field",
            "the media URL must be a web address starting with http:// or https://.",
            "media_url",
        )
    _check_buttons(node, at)
    if node.buttons and node.template is None and not node.text.strip():
        at("missing_field", "buttons need a text above them; write the message's text.", "text")
    if node.buttons:
        _check_duration(at, node.reply_timeout, "reply_timeout", "the time to wait for a button tap")
    _check_reference(at, node.category_id, context.category_ids, "category_id", "marketing category")
    _check_channel(node, at, context.channel)


def _check_buttons(node: SendMessageNode, at: _At) -> None:
    if len(node.buttons) > MAX_BUTTONS:
        at(
            "too_many_buttons",
            f"a message can have at most {MAX_BUTTONS} buttons; this one has {len(node.buttons)}.",
            "buttons",
        )
    seen: set[str] = set()
    for index, button in enumerate(node.buttons):
        if button.id in seen:
            at(
                "duplicate_button_id",
                f'two buttons use the id "{button.id}"; each needs its own.',
                f"buttons[{index}].id",
            )
        seen.add(button.id)
        title = button.title.strip()
        if not title:
            at("missing_field", f"button {index + 1} has no title.", f"buttons[{index}].title")
        elif len(title) > MAX_BUTTON_TITLE:
            at(
                "invalid_field",
                f'the button title "{title}" has {len(title)} characters; WhatsApp shows at most {MAX_BUTTON_TITLE}.',
                f"buttons[{index}].title",
            )


def _check_channel(node: SendMessageNode, at: _At, channel: str | None) -> None:
    unsupported = CHANNEL_LIMITS.get(channel or "", frozenset())
    name = _CHANNEL_NAMES.get(channel or "", channel)
    if node.buttons and "buttons" in unsupported:
        at(
            "unsupported_on_channel",
            f"{name} messages cannot show buttons; remove them for this channel.",
            "buttons",
        )
    if node.template is not None and "template" in unsupported:
        at("unsupported_on_channel", f"{name} has no message templates; write the text instead.", "template")
    if node.media_url.strip() and "media_url" in unsupported:
        at(
            "unsupported_on_channel",
            f"{name} messages cannot carry media; send a link in the text.",
            "media_url",
        )
    caption = MEDIA_CAPTION_LIMITS.get(channel or "")
    if caption and node.media_url.strip() and not node.buttons and len(node.text) > caption:
        at(
            "invalid_field",
            f"with media the text is its caption, which {name} limits to {caption} characters; this one has "
            f"{len(node.text)}. Shorten it, or send the media in a step of its own.",
            "text",
        )


def _check_wait(node: WaitForReplyNode, at: _At, context: _Context) -> None:
    _check_duration(at, node.timeout, "timeout", "the time to wait for a reply")
    if node.save_as:
        _check_identifier(at, node.save_as, "save_as")


def _check_branch(node: BranchNode, at: _At, context: _Context) -> None:
    if not node.rules:
        at("missing_field", "a branch needs at least one rule.", "rules")
        return
    seen: set[str] = set()
    for index, rule in enumerate(node.rules):
        if rule.id in seen:
            at(
                "duplicate_rule_id",
                f'two rules use the id "{rule.id}"; each needs its own.',
                f"rules[{index}].id",
            )
        seen.add(rule.id)
        if node.mode == "reply":
            _check_reply_rule(rule, f"rules[{index}]", at, context)
        elif node.mode == "attribute":
            _check_attribute_rule(rule, f"rules[{index}]", at)
    if node.mode == "random":
        _check_split(node.rules, at)


def _rule_name(rule: BranchRule) -> str:
    return f'rule "{rule.label.strip() or rule.id}"'


def _check_reply_rule(rule: BranchRule, where: str, at: _At, context: _Context) -> None:
    name = _rule_name(rule)
    if rule.operator not in _REPLY_OPERATORS:
        at(
            "invalid_field",
            f'{name} uses "{rule.operator}", which does not apply to replies.',
            f"{where}.operator",
        )
        return
    if rule.operator not in _VALUELESS_OPERATORS and not rule.value.strip():
        at("missing_field", f"{name} has no value to compare the reply with.", f"{where}.value")
    elif rule.operator == "button" and rule.value not in context.button_ids:
        at(
            "invalid_field",
            f'{name} waits for button "{rule.value}", but no message has that button.',
            f"{where}.value",
        )


def _check_attribute_rule(rule: BranchRule, where: str, at: _At) -> None:
    name = _rule_name(rule)
    if not rule.attribute.strip():
        at("missing_field", f"{name} does not say which contact attribute to check.", f"{where}.attribute")
    if rule.operator not in _ATTRIBUTE_OPERATORS:
        at(
            "invalid_field",
            f'{name} uses "{rule.operator}", which does not apply to attributes.',
            f"{where}.operator",
        )
        return
    if rule.operator not in _VALUELESS_OPERATORS and not rule.value.strip():
        at("missing_field", f"{name} has no value to compare the attribute with.", f"{where}.value")
    elif rule.operator in _NUMERIC_OPERATORS and not _NUMBER.fullmatch(rule.value.strip()):
        at("invalid_field", f'{name} compares with "{rule.value}", which is not a number.', f"{where}.value")


def _check_split(rules: Sequence[BranchRule], at: _At) -> None:
    for index, rule in enumerate(rules):
        if not rule.percent > 0:
            at(
                "split_not_100",
                f"{_rule_name(rule)} gets {rule.percent:g}%; every path of a split needs more than 0%.",
                f"rules[{index}].percent",
            )
    total = sum(rule.percent for rule in rules)
    if not abs(total - 100) <= SPLIT_TOLERANCE:
        at("split_not_100", f"the split's percentages add up to {total:g}%, not 100%.", "rules")


def _check_delay(node: DelayNode, at: _At, context: _Context) -> None:
    if node.mode == "duration":
        _check_duration(at, node.seconds, "seconds", "the delay")
    elif not node.time_of_day.strip():
        at("missing_field", "the time of day to wait for is empty.", "time_of_day")
    elif not _TIME_OF_DAY.fullmatch(node.time_of_day):
        at(
            "invalid_field",
            f'"{node.time_of_day}" is not a time of day; write it as HH:MM, e.g. 09:30.',
            "time_of_day",
        )


def _check_set_attribute(node: SetAttributeNode, at: _At, context: _Context) -> None:
    if not node.attribute.strip():
        at("missing_field", "it does not say which attribute to set.", "attribute")
    else:
        _check_identifier(at, node.attribute, "attribute")


def _check_add_tag(node: AddTagNode, at: _At, context: _Context) -> None:
    if not node.tag.strip():
        at("missing_field", "it does not say which tag to add.", "tag")


def _check_group(node: AddToGroupNode | RemoveFromGroupNode, at: _At, context: _Context) -> None:
    if node.group_id is None:
        at("missing_field", "no group is chosen.", "group_id")
    _check_reference(at, node.group_id, context.group_ids, "group_id", "group")


def _check_opt(node: OptOutNode | OptInNode, at: _At, context: _Context) -> None:
    _check_reference(at, node.category_id, context.category_ids, "category_id", "marketing category")


def _check_http(node: HttpRequestNode, at: _At, context: _Context) -> None:
    if not node.url.strip():
        at("missing_field", "the request has no URL.", "url")
    elif not _is_http_url(node.url):
        at("invalid_field", "the URL must be a web address starting with http:// or https://.", "url")
    low, high = HTTP_TIMEOUT_RANGE
    if not low <= node.timeout_seconds <= high:
        at(
            "invalid_field",
            f"the timeout is {node.timeout_seconds:g} seconds; it must be between {low:g} and {high:g}.",
            "timeout_seconds",
        )
    for index, saved in enumerate(node.save):
        if not saved.variable.strip():
            at("missing_field", f"saved field {index + 1} has no variable name.", f"save[{index}].variable")
        else:
            _check_identifier(at, saved.variable, f"save[{index}].variable")


_SETTINGS_CHECKS: dict[type, Callable[[Any, _At, _Context], None]] = {
    StartNode: _check_start,
    SendMessageNode: _check_send,
    WaitForReplyNode: _check_wait,
    BranchNode: _check_branch,
    DelayNode: _check_delay,
    SetAttributeNode: _check_set_attribute,
    AddTagNode: _check_add_tag,
    AddToGroupNode: _check_group,
    RemoveFromGroupNode: _check_group,
    HttpRequestNode: _check_http,
    OptOutNode: _check_opt,
    OptInNode: _check_opt,
    EndNode: _no_settings,
}


def _check_duration(at: _At, seconds: int, field: str, what: str) -> None:
    if not MIN_DURATION_SECONDS <= seconds <= MAX_DURATION_SECONDS:
        at(
            "invalid_field",
            f"{what} is {_duration_text(seconds)}; it must be between 1 second and 90 days.",
            field,
        )


def _duration_text(seconds: int) -> str:
    """``7862400`` reads as "91 days": the editor shows durations in the largest whole unit."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _check_identifier(at: _At, name: str, field: str) -> None:
    if not _IDENTIFIER.fullmatch(name):
        at(
            "invalid_field",
            f'"{name}" is not a valid name; use letters, digits and underscores, not starting with a digit.',
            field,
        )


def _check_reference(at: _At, value: int | None, known: frozenset[int] | None, field: str, what: str) -> None:
    if value is not None and known is not None and value not in known:
        at(
            "unknown_reference",
            f"the {what} it uses (id {value}) does not exist any more; choose another.",
            field,
        )


def _is_http_url(url: str) -> bool:
    """An http(s) address once its ``{{variables}}`` are filled; one that starts with a variable passes."""
    text = url.strip()
    found = placeholders(text)
    if found and found[0].start == 0:
        return True
    concrete, cursor = [], 0
    for placeholder in found:
        concrete.append(text[cursor : placeholder.start] + "x")
        cursor = placeholder.end
    concrete.append(text[cursor:])
    return _HTTP_URL.fullmatch("".join(concrete)) is not None


# --- {{variables}} ------------------------------------------------------------------------------------------


def _template_fields(node: Node) -> Iterator[tuple[str, str, str]]:
    """Each text template of a node: (field, how a marketer calls it, text)."""
    if isinstance(node, SendMessageNode):
        yield "text", "the message text", node.text
        yield "media_url", "the media URL", node.media_url
        if node.template is not None:
            for index, param in enumerate(node.template.params):
                yield f"template.params[{index}]", f"template parameter {index + 1}", param
    elif isinstance(node, HttpRequestNode):
        yield "url", "the URL", node.url
        for name, value in node.headers.items():
            yield f"headers.{name}", f'the "{name}" header', value
        yield "body", "the request body", node.body
    elif isinstance(node, SetAttributeNode):
        yield "value", "the value", node.value


def _check_template(
    at: _At, field: str, phrase: str, text: str, defined: Callable[[Placeholder], bool]
) -> None:
    if "{{" not in text:
        return
    broken = malformed_placeholders(text)
    if broken:
        snippet = _snippet(text, broken[0])
        at(
            "invalid_field",
            f'{phrase} has a broken placeholder "{snippet}"; write it like {{{{contact.name}}}}.',
            field,
        )
    reported: set[str] = set()
    for placeholder in placeholders(text):
        if placeholder.default is not None or placeholder.path in reported or defined(placeholder):
            continue
        reported.add(placeholder.path)
        at(
            "unknown_variable",
            f"{phrase} uses {{{{{placeholder.path}}}}}, but no earlier step or contact field provides it; "
            f'set it earlier or give it a default, like {{{{{placeholder.path} | "..."}}}}.',
            field,
        )


def _snippet(text: str, start: int) -> str:
    """The broken placeholder as written: up to its closing braces, or a short excerpt."""
    end = text.find("}}", start)
    end = min(start + 40, len(text)) if end < 0 else min(end + 2, start + 40)
    return text[start:end]


@dataclass(frozen=True, slots=True)
class _Definitions:
    """Which variables some path into each node defines, as bitmasks over the symbols the graph defines.

    Symbols are ``("contact", attr)``, ``("vars", name)`` and ``("reply", "")``. One pass over the
    condensation of the graph (its strongly connected components, in topological order) makes this
    linear: every node of a cycle is its own ancestor, so it sees what the whole cycle defines.
    """

    symbols: dict[tuple[str, str], int]
    reaching: dict[str, int]

    @classmethod
    def of(cls, shape: _Shape) -> _Definitions:
        symbols: dict[tuple[str, str], int] = {}
        made = {
            node_id: _mask(_defines(node, shape.compiled), symbols) for node_id, node in shape.nodes.items()
        }
        components = _strongly_connected(list(shape.nodes), shape.successors)
        component_of = {member: number for number, component in enumerate(components) for member in component}
        incoming = [0] * len(components)
        reaching: dict[str, int] = {}
        for number in reversed(range(len(components))):
            component = components[number]
            inside = 0
            for member in component:
                inside |= made[member]
            here = incoming[number] | (inside if _is_cycle(component, shape.successors) else 0)
            leaving = incoming[number] | inside
            for member in component:
                reaching[member] = here
                for target in shape.successors[member]:
                    if component_of[target] != number:
                        incoming[component_of[target]] |= leaving
        return cls(symbols, reaching)

    def checker(self, node_id: str, known_attributes: frozenset[str]) -> Callable[[Placeholder], bool]:
        mask = self.reaching.get(node_id, 0)

        def has(namespace: str, name: str) -> bool:
            bit = self.symbols.get((namespace, name))
            return bit is not None and bool(mask >> bit & 1)

        def defined(placeholder: Placeholder) -> bool:
            namespace, name = placeholder.namespace, placeholder.name
            head = name.split(".", 1)[0]
            if namespace == "contact":
                return head in CONTACT_FIELDS or head in known_attributes or has("contact", head)
            if namespace == "vars":
                return bool(head) and has("vars", head)
            if namespace == "reply":
                return name in REPLY_FIELDS and has("reply", "")
            return False

        return defined


def _defines(node: Node, compiled: CompiledFlow) -> Iterator[tuple[str, str]]:
    """The symbols a node makes available to the nodes after it."""
    if isinstance(node, SetAttributeNode) and node.attribute.strip():
        yield "contact", node.attribute.strip()
    elif isinstance(node, WaitForReplyNode):
        yield "reply", ""
        if node.save_as.strip():
            yield "vars", node.save_as.strip()
    elif isinstance(node, SendMessageNode) and compiled.waits_for_buttons(node.id):
        yield "reply", ""
    elif isinstance(node, HttpRequestNode):
        for saved in node.save:
            if saved.variable.strip():
                yield "vars", saved.variable.strip()


def _mask(symbols: Iterator[tuple[str, str]], numbering: dict[tuple[str, str], int]) -> int:
    mask = 0
    for symbol in symbols:
        mask |= 1 << numbering.setdefault(symbol, len(numbering))
    return mask
