"""``/flows/{id}``: a flow's draft on the node-graph canvas, saved back as it is edited.

The draft is loaded once from the API with its ``revision``; every change on the canvas is saved with
that revision, and the API's answer brings the next one. A 409 means the draft was saved elsewhere (another
tab, another person) since it was loaded: saving stops and a banner offers to reload, so nobody's work is
overwritten silently. Saves run one at a time; changes made while one is under way go out in the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from nicegui import ui

from flows.schema import FlowGraph, FormatError, decode_graph, graph_to_builtins
from ui.backend import ApiError, BackendUnreachable, FlowInfo, api
from ui.components.flow_editor import FlowEditor
from ui.components.flow_status import status_text
from ui.layout import shell_page
from ui.session import Session, forget, login_url

STATE_TEXT = {
    "saved": ("Saved", "cloud_done", "text-emerald-700"),
    "saving": ("Saving…", "cloud_sync", "text-slate-500"),
    "conflict": ("Not saved: changed elsewhere", "sync_problem", "text-red-700"),
    "failed": ("Not saved", "cloud_off", "text-amber-700"),
}


def register() -> None:
    shell_page("/flows/{flow_id}", "Flow", full_width=True)(flow_edit_body)


@dataclass
class DraftSaver:
    """Saves the editor's graph as the flow's draft, one request at a time, never over a newer draft."""

    session: Session
    flow_id: int
    revision: int
    on_state: Callable[[str, str], None] | None = None
    state: str = "saved"
    pending: FlowGraph | None = None
    _running: asyncio.Task | None = field(default=None, repr=False)

    def request_save(self, graph: FlowGraph) -> asyncio.Task | None:
        if self.state == "conflict":
            return None  # the person must reload first; saving now would overwrite the other change
        self.pending = graph
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._drain())
        return self._running

    async def _drain(self) -> None:
        while self.pending is not None and self.state != "conflict":
            graph, self.pending = self.pending, None
            self._set("saving")
            try:
                saved = await api.save_flow_draft(
                    self.session.token, self.flow_id, graph_to_builtins(graph), revision=self.revision
                )
            except ApiError as exc:
                if exc.status == 409:
                    self._set("conflict")
                    return
                if exc.status == 401:
                    forget()
                    ui.navigate.to(login_url(f"/flows/{self.flow_id}"))
                    return
                self._set("failed", exc.detail)
                return
            except BackendUnreachable:
                self._set("failed", "the API is not answering")
                return
            self.revision = saved["revision"]
            self._set("saved")

    def _set(self, state: str, detail: str = "") -> None:
        self.state = state
        if self.on_state is not None:
            self.on_state(state, detail)


async def flow_edit_body(session: Session, flow_id: str = "") -> None:
    if not flow_id.isdigit():
        _missing(f"“{flow_id}” is not a flow number.")
        return
    try:
        flow = await api.get_flow(session.token, int(flow_id))
    except BackendUnreachable as exc:
        _missing(f"Flowgate's API at {exc.url} is not answering; the flow could not be loaded.")
        return
    except ApiError as exc:
        if exc.status == 401:
            forget()
            ui.navigate.to(login_url(f"/flows/{flow_id}"))
            return
        _missing("There is no such flow in this workspace." if exc.status == 404 else exc.detail)
        return
    try:
        graph = decode_graph(flow["graph"])
    except FormatError as exc:
        _missing(f"This flow's draft cannot be drawn: {exc}")
        return
    _editor(session, flow, graph)


def _editor(session: Session, flow: FlowInfo, graph: FlowGraph) -> None:
    readonly = not session.allows("marketer")
    saver = DraftSaver(session, flow["id"], flow["revision"])

    with ui.row().classes("w-full items-center gap-3 px-4 py-2 bg-white border-b border-slate-200 no-wrap"):
        ui.button(icon="arrow_back", on_click=lambda: ui.navigate.to("/flows")).props(
            "flat round dense color=grey-8"
        ).tooltip("All flows")
        ui.label(flow["name"]).classes("text-lg font-semibold text-slate-900 truncate").mark("flow-name")
        ui.label(status_text(flow)).classes(
            "text-xs px-2 py-0.5 rounded-full bg-slate-100 text-slate-600 whitespace-nowrap"
        ).mark("flow-status")
        ui.space()
        if readonly:
            ui.label("Read-only").classes("text-sm text-slate-500").mark("read-only")
        with ui.row().classes("items-center gap-1 no-wrap"):
            state_icon = ui.icon("cloud_done", size="1.1rem")
            state_label = ui.label("Saved").classes("text-sm").mark("save-state")
        editor_ref: list[FlowEditor] = []
        ui.button("Fit", icon="fit_screen", on_click=lambda: editor_ref[0].fit_view()).props(
            "flat no-caps dense color=grey-8"
        ).mark("fit-view")

    with ui.row().classes("w-full items-center gap-3 px-4 py-2 bg-red-50 border-b border-red-200") as banner:
        ui.icon("sync_problem", size="1.25rem").classes("text-red-700")
        ui.label(
            "Someone saved this flow elsewhere since you opened it. Your last change was not saved; reload "
            "to continue from their version."
        ).classes("text-sm text-red-900")
        ui.space()
        ui.button("Reload", icon="refresh", on_click=lambda: ui.navigate.reload()).props(
            "unelevated no-caps dense color=negative"
        ).mark("reload-flow")
    banner.mark("conflict-banner")
    banner.visible = False

    def show_state(state: str, detail: str) -> None:
        text, icon, colour = STATE_TEXT[state]
        state_label.text = f"{text}: {detail}" if detail else text
        state_icon.name = icon
        # Colour the two children: replacing the row's own classes would drop NiceGUI's row layout.
        state_icon.classes(replace=colour)
        state_label.classes(replace=f"text-sm whitespace-nowrap {colour}")
        banner.visible = state == "conflict"
        if state == "conflict":
            editor.set_readonly(True)

    saver.on_state = show_state
    show_state("saved", "")
    editor = (
        FlowEditor(graph, readonly=readonly, on_change=saver.request_save)
        .classes("w-full")
        .style("height: calc(100vh - 56px - 53px)")
    )
    editor.mark("flow-editor")
    editor_ref.append(editor)


def _missing(text: str) -> None:
    with ui.column().classes("w-full max-w-5xl mx-auto px-6 py-8 gap-3").mark("flow-missing"):
        ui.label("Flow not available").classes("text-2xl font-semibold text-slate-900")
        ui.label(text).classes("text-slate-600")
        ui.button("All flows", icon="arrow_back", on_click=lambda: ui.navigate.to("/flows")).props(
            "flat no-caps"
        )
