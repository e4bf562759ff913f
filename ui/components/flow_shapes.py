"""How a flow graph looks on the canvas: the ``nodes`` and ``edges`` props of :class:`FlowEditor`.

Pure functions from :mod:`flows.schema` structs to the plain dicts Vue Flow draws, kept apart from the
element so the canvas shape can be tested without a browser. Each node carries its output ports (from
:func:`flows.graph.output_ports`, the interpreter's own list) with a label for people, so the editor can
never offer a handle the interpreter does not know.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flows.graph import output_ports
from flows.schema import (
    AddTagNode,
    BranchNode,
    BranchRule,
    DelayNode,
    Edge,
    FlowGraph,
    HttpRequestNode,
    Node,
    SendMessageNode,
    SetAttributeNode,
    StartNode,
    WaitForReplyNode,
)
from ui.components.node_kinds import kind_of

TARGET_HANDLE = "in"
"""The one input handle of every node but ``start``."""

SUMMARY_LIMIT = 140

TRIGGER_WORDS = {
    "manual": "When a campaign sends it",
    "api": "When the API starts it",
    "keyword": "By keyword",
}

_FIXED_PORT_LABELS = {
    "next": "Next",
    "else": "Else",
    "reply": "Reply",
    "timeout": "Timeout",
    "success": "Success",
    "failure": "Failure",
}


REPLY_OPERATOR_WORDS = {
    "equals": "is",
    "contains": "contains",
    "starts_with": "starts with",
    "contains_any": "contains any of",
    "is_number": "is a number",
    "button": "tapped the button",
}
ATTRIBUTE_OPERATOR_WORDS = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "gt": "is greater than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "is_set": "is set",
    "is_not_set": "is not set",
    "one_of": "is one of",
}
"""Branch conditions in words, for the rule's port on the canvas and the side panel's picker."""
VALUELESS_OPERATORS = frozenset({"is_number", "is_set", "is_not_set"})


def port_label(node: Node, port: str) -> str:
    """The words next to a handle: a button's title, a rule's label or condition, or the port's name."""
    if port in _FIXED_PORT_LABELS:
        return _FIXED_PORT_LABELS[port]
    kind, _, ident = port.partition(":")
    if kind == "button" and isinstance(node, SendMessageNode):
        for index, button in enumerate(node.buttons):
            if button.id == ident:
                return button.title or f"Button {index + 1}"
    if kind == "rule" and isinstance(node, BranchNode):
        for index, rule in enumerate(node.rules):
            if rule.id == ident:
                return rule.label or _rule_text(node, rule) or f"Rule {index + 1}"
    return port


def _rule_text(node: BranchNode, rule: BranchRule) -> str:
    """``is "yes"``, ``city is one of "Oslo, Bergen"``, ``40%``; empty while the rule is unfinished."""
    if node.mode == "random":
        return f"{rule.percent:g}%" if rule.percent else ""
    words = (REPLY_OPERATOR_WORDS if node.mode == "reply" else ATTRIBUTE_OPERATOR_WORDS).get(rule.operator)
    if words is None:
        return ""
    subject = f"{rule.attribute} " if node.mode == "attribute" and rule.attribute else ""
    if rule.operator in VALUELESS_OPERATORS:
        return f"{subject}{words}"
    if not rule.value:
        return ""
    shown = rule.value if len(rule.value) <= 24 else rule.value[:23] + "…"
    return f'{subject}{words} "{shown}"'


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def summary(node: Node) -> str:
    """One short line of what the node does, shown under its label (as text, never HTML)."""
    text = ""
    if isinstance(node, StartNode):
        text = (
            f"Keywords: {', '.join(node.keywords)}"
            if node.trigger == "keyword"
            else TRIGGER_WORDS[node.trigger]
        )
    elif isinstance(node, SendMessageNode):
        text = node.text or (f"Template {node.template.name}" if node.template else "") or node.media_url
    elif isinstance(node, WaitForReplyNode):
        text = f"Up to {_duration(node.timeout)}" + (f", saved as {node.save_as}" if node.save_as else "")
    elif isinstance(node, BranchNode):
        text = {"reply": "By reply", "attribute": "By contact attribute", "random": "Random split"}[node.mode]
    elif isinstance(node, DelayNode):
        text = f"Wait {_duration(node.seconds)}" if node.mode == "duration" else f"Until {node.time_of_day}"
    elif isinstance(node, SetAttributeNode):
        text = f"{node.attribute} = {node.value}" if node.attribute else ""
    elif isinstance(node, AddTagNode):
        text = node.tag
    elif isinstance(node, HttpRequestNode):
        text = f"{node.method} {node.url}".strip()
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def node_prop(node: Node, *, selected: bool = False) -> dict[str, Any]:
    """One node as Vue Flow draws it; ``type`` is the node kind, which picks its look.

    ``selected`` travels with the node so a full redraw (undo, paste) keeps what was selected.
    """
    return {
        "id": node.id,
        "type": kind_of(node),
        "position": {"x": node.position.x, "y": node.position.y},
        "selected": selected,
        "data": node_data(node),
    }


def node_data(node: Node) -> dict[str, Any]:
    """What the node component draws; a side-panel edit re-sends only this."""
    return {
        "label": node.label,
        "summary": summary(node),
        "ports": [
            {"id": port, "label": port_label(node, port), "ended": port in node.ends}
            for port in output_ports(node)
        ],
        "target": not isinstance(node, StartNode),
    }


def edge_id(edge: Edge) -> str:
    return edge.id or f"e-{edge.source}-{edge.source_port}-{edge.target}"


def edge_prop(edge: Edge) -> dict[str, Any]:
    return {
        "id": edge_id(edge),
        "source": edge.source,
        "sourceHandle": edge.source_port,
        "target": edge.target,
        "targetHandle": TARGET_HANDLE,
    }


def canvas_props(
    graph: FlowGraph, selection: Iterable[str] = ()
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    selected = set(selection)
    return (
        [node_prop(node, selected=node.id in selected) for node in graph.nodes],
        [edge_prop(edge) for edge in graph.edges],
    )
