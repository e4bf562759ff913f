"""Reading a flow graph as a graph: each node's output ports, and a compiled index for fast stepping."""

from __future__ import annotations

from dataclasses import dataclass, field

from flows.schema import (
    BranchNode,
    DelayNode,
    EndNode,
    FlowGraph,
    HttpRequestNode,
    Node,
    SendMessageNode,
    StartNode,
    WaitForReplyNode,
)


def output_ports(node: Node) -> list[str]:
    """The ports a node of this kind, with these settings, can leave through."""
    if isinstance(node, EndNode):
        return []
    if isinstance(node, SendMessageNode):
        return ["next", *(f"button:{button.id}" for button in node.buttons)]
    if isinstance(node, WaitForReplyNode):
        return ["reply", "timeout"]
    if isinstance(node, BranchNode):
        ports = [f"rule:{rule.id}" for rule in node.rules]
        return ports if node.mode == "random" else [*ports, "else"]
    if isinstance(node, HttpRequestNode):
        return ["success", "failure"]
    return ["next"]


@dataclass(frozen=True, slots=True)
class CompiledFlow:
    """A graph indexed for the interpreter: node by id and the target of each (node, port)."""

    graph: FlowGraph
    nodes: dict[str, Node]
    targets: dict[tuple[str, str], str]
    start_id: str | None
    _button_waits: frozenset[str] = field(default=frozenset())

    @classmethod
    def from_graph(cls, graph: FlowGraph) -> CompiledFlow:
        nodes: dict[str, Node] = {}
        for node in graph.nodes:
            nodes.setdefault(node.id, node)
        targets: dict[tuple[str, str], str] = {}
        for edge in graph.edges:
            # An edge to a missing node is kept: a run that follows it fails with ``unknown_node``
            # instead of quietly ending as if the port were unconnected.
            if edge.source in nodes:
                targets.setdefault((edge.source, edge.source_port), edge.target)
        starts = [node.id for node in graph.nodes if isinstance(node, StartNode)]
        button_waits = frozenset(
            node.id
            for node in nodes.values()
            if isinstance(node, SendMessageNode)
            and any((node.id, f"button:{button.id}") in targets for button in node.buttons)
        )
        return cls(graph, nodes, targets, starts[0] if starts else None, button_waits)

    def target(self, node_id: str, port: str) -> str | None:
        return self.targets.get((node_id, port))

    def waits_for_buttons(self, node_id: str) -> bool:
        """A send whose button ports are connected waits for the tap (see SendMessageNode)."""
        return node_id in self._button_waits

    def pauses(self, node_id: str) -> bool:
        """Does a run stop at this node until an outside event (reply, timer, HTTP answer)?"""
        node = self.nodes[node_id]
        return isinstance(node, WaitForReplyNode | DelayNode | HttpRequestNode) or self.waits_for_buttons(
            node_id
        )
