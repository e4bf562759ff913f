"""The flow being edited: its graph, what is selected, and undo/redo over every kind of change.

Canvas gestures (move, connect, delete, paste) and side-panel edits (a message's text, a button) all
change the graph through this one object, so a single history covers both and Ctrl+Z undoes whatever
the person did last, wherever they did it. Pure Python, no NiceGUI: the editor element and the page
drive it, tests drive it directly.

History keeps whole-graph snapshots (msgspec JSON, a few kB for a large flow) rather than inverse
operations: every operation is then undoable by construction, including ones added later. Edits that
share a ``key`` and follow each other within :data:`COALESCE_SECONDS` (typing a message) become one
step, so undo does not walk back a character at a time.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec

from flows.graph import output_ports
from flows.schema import Edge, FlowGraph, Node, Position, decode_graph, encode_graph
from ui.components.flow_shapes import edge_id
from ui.components.node_kinds import free_id, info, new_node

HISTORY_LIMIT = 200
COALESCE_SECONDS = 1.5
PASTE_OFFSET = 40.0
"""How far a duplicate lands from its original, so both stay visible."""


class Clipboard(msgspec.Struct, kw_only=True):
    """Copied nodes with their settings and the edges among them (edges to outside nodes are dropped)."""

    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]


class FlowDocument:
    def __init__(self, graph: FlowGraph, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.graph = _with_edge_ids(graph)
        self.selection: list[str] = []
        self._undo: list[bytes] = []
        self._redo: list[bytes] = []
        self._last_key: str | None = None
        self._last_at = 0.0
        self._clock = clock
        self.revision = 0
        """Counts changes, so callers can tell whether anything happened since they last looked."""

    # --- history --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def edit(self, key: str | None = None) -> Iterator[FlowGraph]:
        """Change ``self.graph`` inside the block as one undoable step (merged with the last if ``key`` repeats)."""
        now = self._clock()
        merge = key is not None and key == self._last_key and now - self._last_at <= COALESCE_SECONDS
        before = encode_graph(self.graph)
        yield self.graph
        if encode_graph(self.graph) == before:
            return  # nothing changed: no history step, no save
        if not merge:
            self._undo.append(before)
            del self._undo[:-HISTORY_LIMIT]
        self._redo.clear()
        self._last_key, self._last_at = key, now
        self.revision += 1

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        return self._step(self._undo, self._redo)

    def redo(self) -> bool:
        return self._step(self._redo, self._undo)

    def _step(self, source: list[bytes], target: list[bytes]) -> bool:
        if not source:
            return False
        target.append(encode_graph(self.graph))
        self.graph = _with_edge_ids(decode_graph(source.pop()))
        self._last_key = None
        self.revision += 1
        self._keep_selection_valid()
        return True

    def replace(self, graph: FlowGraph) -> None:
        """Show another graph (a restored version) as one undoable step."""
        with self.edit():
            self.graph = _with_edge_ids(graph)
        self._keep_selection_valid()

    # --- reading --------------------------------------------------------------------------------

    def node(self, node_id: str) -> Node | None:
        return next((node for node in self.graph.nodes if node.id == node_id), None)

    def ids(self) -> set[str]:
        return {node.id for node in self.graph.nodes}

    def target_of(self, node_id: str, port: str) -> Node | None:
        edge = next(
            (edge for edge in self.graph.edges if edge.source == node_id and edge.source_port == port), None
        )
        return self.node(edge.target) if edge else None

    def select(self, ids: Iterable[str]) -> None:
        known = self.ids()
        self.selection = [node_id for node_id in dict.fromkeys(ids) if node_id in known]

    def _keep_selection_valid(self) -> None:
        self.select(self.selection)

    # --- canvas operations ----------------------------------------------------------------------

    def add_node(self, kind: str, x: float, y: float) -> Node:
        with self.edit():
            node = new_node(kind, self.ids(), Position(x=round(x), y=round(y)))
            self.graph.nodes.append(node)
        self.selection = [node.id]
        return node

    def move(self, positions: dict[str, tuple[float, float]]) -> bool:
        start = self.revision
        with self.edit():
            for node in self.graph.nodes:
                if node.id in positions:
                    x, y = positions[node.id]
                    node.position = Position(x=float(round(x)), y=float(round(y)))
        return self.revision != start

    def connect(self, source: str, port: str, target: str) -> Edge | None:
        """Connect ``source``'s ``port`` to ``target``; the port's previous edge goes (a port leads to one node).

        None when the connection cannot exist: unknown nodes, a port the node does not have, or a
        node connected to itself by mistake of the pointer.
        """
        origin, destination = self.node(source), self.node(target)
        if origin is None or destination is None or source == target or port not in output_ports(origin):
            return None
        edge = Edge(id=f"e-{source}-{port}-{target}", source=source, source_port=port, target=target)
        with self.edit():
            self.graph.edges = [
                kept for kept in self.graph.edges if not (kept.source == source and kept.source_port == port)
            ]
            self.graph.edges.append(edge)
            if port in origin.ends:
                origin.ends = [ended for ended in origin.ends if ended != port]
        return edge

    def remove_edges(self, ids: Iterable[str]) -> bool:
        gone = set(ids)
        start = self.revision
        with self.edit():
            self.graph.edges = [edge for edge in self.graph.edges if edge.id not in gone]
        return self.revision != start

    def delete_nodes(self, ids: Iterable[str]) -> bool:
        gone = set(ids)
        start = self.revision
        with self.edit():
            self.graph.nodes = [node for node in self.graph.nodes if node.id not in gone]
            self.graph.edges = [
                edge for edge in self.graph.edges if edge.source not in gone and edge.target not in gone
            ]
        self._keep_selection_valid()
        return self.revision != start

    # --- settings -------------------------------------------------------------------------------

    def update(self, node_id: str, change: Callable[[Node], None], *, key: str | None = None) -> bool:
        """Apply ``change`` to one node's settings; edges and ``ends`` of ports it no longer has go too.

        Returns whether the node's ports changed (a button or rule added or removed), which the canvas
        must redraw differently from a text change.
        """
        node = self.node(node_id)
        if node is None:
            return False
        ports_before = output_ports(node)
        with self.edit(key):
            change(node)
            ports = set(output_ports(node))
            node.ends = [port for port in node.ends if port in ports]
            self.graph.edges = [
                edge for edge in self.graph.edges if edge.source != node_id or edge.source_port in ports
            ]
        return output_ports(node) != ports_before

    # --- clipboard ------------------------------------------------------------------------------

    def copy(self, ids: Iterable[str] | None = None) -> Clipboard | None:
        chosen = set(self.selection if ids is None else ids)
        nodes = [node for node in self.graph.nodes if node.id in chosen]
        if not nodes:
            return None
        edges = [edge for edge in self.graph.edges if edge.source in chosen and edge.target in chosen]
        return Clipboard(nodes=msgspec.to_builtins(nodes), edges=msgspec.to_builtins(edges))

    def paste(self, clipboard: Clipboard, at: tuple[float, float] | None = None) -> list[str]:
        """Add copies of the clipboard's nodes with new ids; the top-left one lands at ``at``.

        Without ``at`` the copies land :data:`PASTE_OFFSET` from the originals. The copies become the
        selection, so they can be dragged away at once.
        """
        try:
            graph = decode_graph({"nodes": clipboard.nodes, "edges": clipboard.edges})
        except ValueError:
            return []  # a clipboard from an older Flowgate: nothing sensible to paste
        if not graph.nodes:
            return []
        left = min(node.position.x for node in graph.nodes)
        top = min(node.position.y for node in graph.nodes)
        dx, dy = (at[0] - left, at[1] - top) if at else (PASTE_OFFSET, PASTE_OFFSET)
        renamed: dict[str, str] = {}
        taken = self.ids()
        with self.edit():
            for node in graph.nodes:
                renamed[node.id] = free_id(info(node).id_prefix, taken)
                taken.add(renamed[node.id])
                node.id = renamed[node.id]
                node.position = Position(x=round(node.position.x + dx), y=round(node.position.y + dy))
                self.graph.nodes.append(node)
            for edge in graph.edges:
                source, target = renamed.get(edge.source), renamed.get(edge.target)
                if source is None or target is None:
                    continue
                self.graph.edges.append(
                    Edge(
                        id=f"e-{source}-{edge.source_port}-{target}",
                        source=source,
                        source_port=edge.source_port,
                        target=target,
                    )
                )
        self.selection = list(renamed.values())
        return self.selection

    def duplicate(self, ids: Iterable[str] | None = None) -> list[str]:
        clipboard = self.copy(ids)
        return self.paste(clipboard) if clipboard else []


def mark_ended(node: Node, port: str, ended: bool) -> None:
    """Mark an unconnected output as a deliberate end of the run (validation stops asking for an edge)."""
    ends = [existing for existing in node.ends if existing != port]
    node.ends = [*ends, port] if ended else ends


def _with_edge_ids(graph: FlowGraph) -> FlowGraph:
    """Give id-less edges (drafts written by hand or by the API) the id the canvas uses for them."""
    for edge in graph.edges:
        if not edge.id:
            edge.id = edge_id(edge)
    return graph
