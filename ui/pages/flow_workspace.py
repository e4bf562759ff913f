"""What the draft editor (``/flows/{id}``) and a published version (``/flows/{id}/versions/{n}``) share:
loading with errors people can act on, the canvas with its side panel (step settings and preview), and
the clipboard that lets steps be copied from one flow into another.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from nicegui import app, ui

from flows.schema import FlowGraph, FormatError, decode_graph
from ui.backend import ApiError, BackendUnreachable, NamedRef, ProblemInfo, api
from ui.components.flow_document import Clipboard, FlowDocument
from ui.components.flow_editor import FlowEditor
from ui.components.node_settings import PanelActions, SettingsPanel
from ui.components.node_settings.context import Change, on_node
from ui.components.preview_pane import PreviewPane
from ui.session import Session, forget, login_url

log = logging.getLogger(__name__)

T = TypeVar("T")
TOOLBAR_HEIGHT = 53
HEADER_HEIGHT = 56
PAGE_HEIGHT = f"calc(100vh - {HEADER_HEIGHT}px)"
"""The page under the app's header: toolbar, any banner, and the canvas, which takes what is left."""
CLIPBOARD_KEY = "flow_clipboard"


class NotShown(Exception):
    """The page already shows why it cannot show the flow; the caller just stops."""


async def load(session: Session, here: str, call: Awaitable[T], *, what: str = "flow") -> T:
    """Await an API call for the page; any failure becomes a page that says what happened."""
    try:
        return await call
    except BackendUnreachable as exc:
        missing(f"Flowgate's API at {exc.url} is not answering; the {what} could not be loaded.")
    except ApiError as exc:
        if exc.status == 401:
            forget()
            ui.navigate.to(login_url(here))
        else:
            missing(f"There is no such {what} in this workspace." if exc.status == 404 else exc.detail)
    raise NotShown


def parse(raw: dict[str, Any]) -> FlowGraph:
    try:
        return decode_graph(raw)
    except FormatError as exc:
        missing(f"This flow cannot be drawn: {exc}")
        raise NotShown from None


async def pickers(session: Session) -> tuple[list[NamedRef], list[NamedRef]]:
    """Groups and categories for the settings' pickers; empty (not an error page) when they fail."""
    try:
        groups, categories = await asyncio.gather(
            api.list_groups(session.token), api.list_categories(session.token)
        )
    except (ApiError, BackendUnreachable) as exc:
        log.warning("could not load groups and categories for the flow editor: %s", exc)
        return [], []
    return groups, categories


def missing(text: str) -> None:
    with ui.column().classes("w-full max-w-5xl mx-auto px-6 py-8 gap-3").mark("flow-missing"):
        ui.label("Flow not available").classes("text-2xl font-semibold text-slate-900")
        ui.label(text).classes("text-slate-600")
        ui.button("All flows", icon="arrow_back", on_click=lambda: ui.navigate.to("/flows")).props(
            "flat no-caps"
        )


def frame() -> ui.column:
    """The column the whole flow page goes in, exactly as high as the window under the header.

    Toolbar and banners keep their own height and the canvas row flexes into the rest, so a banner
    that appears (a save conflict) shrinks the canvas instead of pushing its zoom controls and
    minimap below the window's edge.
    """
    return ui.column().classes("w-full gap-0 no-wrap").style(f"height: {PAGE_HEIGHT}")


def toolbar() -> ui.row:
    return (
        ui.row()
        .classes("w-full shrink-0 items-center gap-2 px-3 py-2 bg-white border-b border-slate-200 no-wrap")
        .style(f"min-height: {TOOLBAR_HEIGHT}px")
    )


class UserClipboard:
    """Copied steps in this browser's server-side storage: paste works in another tab or flow."""

    def get(self) -> Clipboard | None:
        raw = app.storage.user.get(CLIPBOARD_KEY)
        try:
            return msgspec.convert(raw, Clipboard) if raw else None
        except msgspec.ValidationError:
            return None

    def put(self, clipboard: Clipboard) -> None:
        app.storage.user[CLIPBOARD_KEY] = msgspec.to_builtins(clipboard)


@dataclass
class Workspace:
    """The canvas and the side panel with its two tabs, wired to one document."""

    editor: FlowEditor
    panel: SettingsPanel
    tabs: ui.tabs
    step_tab: ui.tab
    preview_tab: ui.tab
    preview_box: ui.column
    preview_note: ui.label
    preview: PreviewPane | None = None
    on_preview_tab: Callable[[], Awaitable[None]] | None = None
    """What opening the Preview tab starts when no preview runs there yet (the page decides which
    version: the latest, or the one on screen); without it the tab would open on a blank pane."""
    _unpublished: ui.column | None = None

    def show_problems(self, problems: list[ProblemInfo]) -> None:
        self.editor.set_marks(marks_of(problems, self.editor.document))
        self.panel.show_problems(problems)

    @property
    def previewing(self) -> bool:
        """Whether the Preview tab is the one shown."""
        return tab_name(self.tabs.value) == "preview"

    async def open_preview(
        self, session: Session, flow_id: int, version: int | None, *, note: str = ""
    ) -> None:
        """Show the preview tab and (re)start a run there; the walked path is drawn on the canvas.

        ``note`` says what the preview is not showing (e.g. a draft's unpublished changes).
        """
        self._clear_unpublished()
        self.preview_note.text = note
        self.preview_note.visible = bool(note)
        if self.preview is None:
            with self.preview_box:
                self.preview = PreviewPane(
                    session, flow_id, version=version, on_progress=self.editor.highlight
                )
        self.tabs.set_value(self.preview_tab)
        await self.preview.start(version)

    def show_unpublished(self, publish: Callable[[], Awaitable[None]] | None, blocked: str = "") -> None:
        """Say in the Preview tab that there is nothing published to walk yet, with a way to publish
        (``publish``) for people who may, disabled while ``blocked`` says what to do first; viewers are
        told who can publish."""
        self.tabs.set_value(self.preview_tab)
        self.preview_note.visible = False
        self._clear_unpublished()
        with self.preview_box:
            self._unpublished = ui.column().classes("w-full items-center gap-2 px-4 py-10 text-center")
            with self._unpublished.mark("preview-unpublished"):
                ui.icon("unpublished", size="2.25rem").classes("text-slate-400")
                ui.label("Not published yet").classes("text-base font-medium text-slate-800")
                ui.label(
                    "The preview walks a published version, exactly what campaigns send. "
                    + (
                        "Publish the flow to walk it here."
                        if publish is not None
                        else "A marketer or an admin can publish it."
                    )
                ).classes("text-sm text-slate-500")
                if publish is not None:
                    button = ui.button("Publish and preview", icon="rocket_launch", on_click=publish)
                    button.props("unelevated no-caps").mark("preview-publish")
                    if blocked:
                        button.disable()
                        ui.label(blocked).classes("text-sm text-red-800").mark("preview-blocked")

    def _clear_unpublished(self) -> None:
        if self._unpublished is not None:
            self._unpublished.delete()
            self._unpublished = None

    async def _tab_changed(self) -> None:
        if self.previewing and self.preview is None and self.on_preview_tab is not None:
            await self.on_preview_tab()


def tab_name(value: Any) -> str | None:
    """The name of the tab a ``ui.tabs`` value stands for (NiceGUI keeps either the tab or its name)."""
    if isinstance(value, ui.tab):
        return str(value.props.get("name"))
    return value if isinstance(value, str) else None


def build_workspace(
    session: Session,
    document: FlowDocument,
    *,
    readonly: bool,
    groups: list[NamedRef],
    categories: list[NamedRef],
    on_graph_change: Callable[[], None],
) -> Workspace:
    """Lay out canvas and panel; ``on_graph_change`` hears of every edit (the draft saves on it)."""

    # The closures below run only after ``editor`` and ``panel`` exist (they call each other).
    def apply_change(node_id: str, change: Change, key: str | None) -> bool:
        ports_changed = document.update(node_id, change, key=key)
        editor.node_changed(node_id, ports_changed=ports_changed)
        on_graph_change()
        return ports_changed

    async def canvas_changed(what: str) -> None:
        on_graph_change()
        if what != "moved":
            panel.show()  # an edge, a deletion or an undo may have changed what the panel shows

    def focus(node_id: str) -> None:
        editor.focus_node(node_id)
        document.select([node_id])
        panel.show()

    with ui.row().classes("w-full flex-1 min-h-0 gap-0 no-wrap"):
        editor = (
            FlowEditor(
                document,
                readonly=readonly,
                on_change=canvas_changed,
                on_select=lambda ids: panel.show(),
                clipboard=UserClipboard(),
            )
            .classes("flex-1 min-w-0 h-full")
            .mark("flow-editor")
        )
        with ui.column().classes("w-[380px] shrink-0 h-full gap-0 bg-white border-l border-slate-200"):
            with (
                ui.tabs()
                .props("dense no-caps align=left active-color=primary indicator-color=primary")
                .classes("w-full border-b border-slate-200 text-slate-600") as tabs
            ):
                step_tab = ui.tab("step", "Step", icon="tune").mark("tab-step")
                preview_tab = ui.tab("preview", "Preview", icon="smartphone").mark("tab-preview")
            with ui.tab_panels(tabs, value=step_tab).props("animated=false").classes("w-full flex-1 min-h-0"):
                with ui.tab_panel(step_tab).classes("p-0"), ui.scroll_area().classes("w-full h-full"):
                    settings = ui.column().classes("w-full gap-0")
                with ui.tab_panel(preview_tab).classes("p-2 items-center"):
                    preview_note = (
                        ui.label()
                        .classes(
                            "w-full text-xs text-amber-900 bg-amber-50 border border-amber-200 rounded p-2"
                        )
                        .mark("preview-note")
                    )
                    preview_note.visible = False
                    preview_box = ui.column().classes("w-full items-center gap-2").mark("preview-box")
    panel = SettingsPanel(
        settings,
        document,
        PanelActions(
            apply_change=apply_change,
            focus=focus,
            duplicate=editor.duplicate_selected,
            delete=editor.delete_selected,
            copy=editor.copy_selected,
        ),
        readonly=readonly,
        groups=groups,
        categories=categories,
    )
    panel.show()
    workspace = Workspace(editor, panel, tabs, step_tab, preview_tab, preview_box, preview_note)
    tabs.on_value_change(workspace._tab_changed)
    return workspace


def marks_of(problems: list[ProblemInfo], document: FlowDocument) -> dict[str, str]:
    """Each node's first problem, and how many more it has, for the red mark on the canvas."""
    by_node: dict[str, list[str]] = {}
    for problem in problems:
        if problem["node_id"]:
            by_node.setdefault(problem["node_id"], []).append(problem["message"])
    marks = {}
    for node_id, messages in by_node.items():
        first = on_node(messages[0], document.node(node_id))
        marks[node_id] = first if len(messages) == 1 else f"{first} (+{len(messages) - 1} more)"
    return marks
