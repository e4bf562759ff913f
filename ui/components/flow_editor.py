"""The node-graph editor element: Vue Flow (from ``ui/editor``'s bundle) with Flowgate's node kinds.

The element keeps ``graph``, a :class:`flows.schema.FlowGraph`, as the one true state. Canvas events
(a node moved, an edge connected or removed, nodes deleted) change ``graph`` and its mirror in the
props *without* sending the props back: the browser already shows the change, and re-sending every node
on each drag would reset the canvas. Changes made from Python (:meth:`set_graph`, :meth:`set_marks`,
:meth:`highlight`) send the props; :meth:`add_node` pushes just the one node.

``on_change`` is called after every change the person made on the canvas, with the new graph; the page
decides when to save it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec
from nicegui import ui
from nicegui.events import GenericEventArguments

from flows.schema import Edge, FlowGraph, Node, Position
from ui.components.flow_shapes import canvas_props, edge_id, edge_prop, node_prop

log = logging.getLogger(__name__)

BUNDLE = Path(__file__).resolve().parent.parent / "static" / "dist" / "editor"
"""Where ``ui/editor/build.py`` writes the bundle (``make install`` runs it)."""

ChangeHandler = Callable[[FlowGraph], Awaitable[None] | None]
SelectHandler = Callable[[str | None], Awaitable[None] | None]


class FlowEditor(ui.element, component="flow_editor.js", esm={"flowgate-editor": str(BUNDLE)}):
    def __init__(
        self,
        graph: FlowGraph,
        *,
        readonly: bool = False,
        on_change: ChangeHandler | None = None,
        on_select: SelectHandler | None = None,
    ) -> None:
        super().__init__()
        _add_styles()
        self.graph = graph
        self.selected: str | None = None
        self._on_change = on_change
        self._on_select = on_select
        self._assign_edge_ids()
        self._props["nodes"], self._props["edges"] = canvas_props(graph)
        self._props["readonly"] = readonly
        self._props["marks"] = {}
        self._props["activeNode"] = None
        self._props["path"] = []
        self.on("nodesMoved", self._moved)
        self.on("edgeConnected", self._connected)
        self.on("edgesRemoved", self._edges_removed)
        self.on("nodesDeleted", self._nodes_deleted)
        self.on("nodeSelected", self._node_selected)

    # --- changes from Python ------------------------------------------------------------------------

    def set_graph(self, graph: FlowGraph) -> None:
        """Show another graph (a reload after a conflict, a restored version)."""
        self.graph = graph
        self._assign_edge_ids()
        self._props["nodes"], self._props["edges"] = canvas_props(graph)
        self.update()

    def set_readonly(self, readonly: bool) -> None:
        self._props["readonly"] = readonly
        self.update()

    def set_marks(self, marks: dict[str, str]) -> None:
        """Outline these nodes in red with their error text (node id -> message)."""
        self._props["marks"] = dict(marks)
        self.update()

    def highlight(self, active_node: str | None, path: Iterable[str] = ()) -> None:
        """Mark the node a preview run is at and draw the path it took (node ids in visiting order)."""
        self._props["activeNode"] = active_node
        self._props["path"] = list(path)
        self.update()

    def fit_view(self) -> None:
        self.run_method("fit_view")

    def add_node(self, node: Node) -> None:
        """Add a node to the graph and draw it, without re-sending the rest of the canvas."""
        self.graph.nodes.append(node)
        shape = node_prop(node)
        self._props["nodes"].append(shape)
        self.run_method("add_node", shape)

    # --- changes from the canvas --------------------------------------------------------------------

    async def _moved(self, event: GenericEventArguments) -> None:
        moves = {str(move["id"]): move for move in event.args or [] if isinstance(move, dict)}
        for node in self.graph.nodes:
            if node.id in moves:
                node.position = Position(x=float(moves[node.id]["x"]), y=float(moves[node.id]["y"]))
        for shape in self._props["nodes"]:
            if shape["id"] in moves:
                shape["position"] = {"x": moves[shape["id"]]["x"], "y": moves[shape["id"]]["y"]}
        if moves:
            await self._changed()

    async def _connected(self, event: GenericEventArguments) -> None:
        args = event.args or {}
        ids = {node.id for node in self.graph.nodes}
        source, target = str(args.get("source", "")), str(args.get("target", ""))
        port = str(args.get("source_port") or "next")
        if source not in ids or target not in ids or source == target:
            log.warning("ignored a connection between unknown nodes: %r", args)
            return
        # A port leads to one node: the new edge replaces the one that left the same port.
        self.graph.edges = [
            edge for edge in self.graph.edges if not (edge.source == source and edge.source_port == port)
        ]
        edge = Edge(id=str(args.get("id") or ""), source=source, source_port=port, target=target)
        edge.id = edge_id(edge)
        self.graph.edges.append(edge)
        self._props["edges"] = [edge_prop(edge) for edge in self.graph.edges]
        await self._changed()

    async def _edges_removed(self, event: GenericEventArguments) -> None:
        gone = set((event.args or {}).get("ids") or [])
        kept = [edge for edge in self.graph.edges if edge.id not in gone]
        if len(kept) != len(self.graph.edges):
            self.graph.edges = kept
            self._props["edges"] = [edge_prop(edge) for edge in kept]
            await self._changed()

    async def _nodes_deleted(self, event: GenericEventArguments) -> None:
        gone = set((event.args or {}).get("ids") or [])
        if not gone & {node.id for node in self.graph.nodes}:
            return
        self.graph.nodes = [node for node in self.graph.nodes if node.id not in gone]
        self.graph.edges = [
            edge for edge in self.graph.edges if edge.source not in gone and edge.target not in gone
        ]
        self._props["nodes"], self._props["edges"] = canvas_props(self.graph)
        if self.selected in gone:
            self.selected = None
        await self._changed()

    async def _node_selected(self, event: GenericEventArguments) -> None:
        node_id = (event.args or {}).get("id")
        self.selected = str(node_id) if node_id else None
        if self._on_select is not None:
            result = self._on_select(self.selected)
            if isinstance(result, Awaitable):
                await result

    async def _changed(self) -> None:
        if self._on_change is None:
            return
        result = self._on_change(self.graph)
        if isinstance(result, Awaitable):
            await result

    def _assign_edge_ids(self) -> None:
        """Vue Flow needs an id per edge; drafts may have edges without one."""
        for edge in self.graph.edges:
            if not edge.id:
                edge.id = edge_id(edge)

    def graph_json(self) -> dict[str, Any]:
        return msgspec.to_builtins(self.graph)


def _add_styles() -> None:
    """Add the bundle's CSS (Vue Flow's own plus ours, all in ``@layer components``) to this page."""
    css = BUNDLE / "editor.css"
    if css.is_file():
        ui.add_css(css)
    else:
        log.warning("the flow editor bundle is missing (%s): run `make install`", css)
