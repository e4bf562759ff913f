"""How a flow graph looks on the canvas: the ``nodes`` and ``edges`` props of :class:`FlowEditor`.

Pure functions from :mod:`flows.schema` structs to the plain dicts Vue Flow draws, kept apart from the
element so the canvas shape can be tested without a browser. Each node carries its output ports (from
:func:`flows.graph.output_ports`, the interpreter's own list) with a label for people, so the editor can
never offer a handle the interpreter does not know.
"""

from __future__ import annotations

from typing import Any

from flows.graph import output_ports
from flows.schema import (
    AddTagNode,
    BranchNode,
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

TARGET_HANDLE = "in"
"""The one input handle of every node but ``start``."""

SUMMARY_LIMIT = 140

_FIXED_PORT_LABELS = {
    "next": "Next",
    "else": "Else",
    "reply": "Reply",
    "timeout": "Timeout",
    "success": "Success",
    "failure": "Failure",
}


def port_label(node: Node, port: str) -> str:
    """The words next to a handle: a button's title, a rule's label, or the port's own name."""
    if port in _FIXED_PORT_LABELS:
        return _FIXED_PORT_LABELS[port]
    kind, _, ident = port.partition(":")
    if kind == "button" and isinstance(node, SendMessageNode):
        for button in node.buttons:
            if button.id == ident:
                return button.title or f"Button {ident}"
    if kind == "rule" and isinstance(node, BranchNode):
        for rule in node.rules:
            if rule.id == ident:
                return (
                    rule.label or _rule_text(node, rule.operator, rule.value, rule.percent) or f"Rule {ident}"
                )
    return port


def _rule_text(node: BranchNode, operator: str, value: str, percent: float) -> str:
    if node.mode == "random":
        return f"{percent:g}%"
    words = operator.replace("_", " ")
    return f"{words} {value}".strip() if value else words


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
            else f"Trigger: {node.trigger}"
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


def kind_of(node: Node) -> str:
    return node.__struct_config__.tag  # type: ignore[return-value]


def node_prop(node: Node) -> dict[str, Any]:
    """One node as Vue Flow draws it; ``type`` is the node kind, which picks its look."""
    kind = kind_of(node)
    return {
        "id": node.id,
        "type": kind,
        "position": {"x": node.position.x, "y": node.position.y},
        "data": {
            "label": node.label,
            "summary": summary(node),
            "ports": [{"id": port, "label": port_label(node, port)} for port in output_ports(node)],
            "target": not isinstance(node, StartNode),
        },
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


def canvas_props(graph: FlowGraph) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return [node_prop(node) for node in graph.nodes], [edge_prop(edge) for edge in graph.edges]
