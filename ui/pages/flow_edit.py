"""``/flows/{id}``: a flow's draft on the node-graph canvas, saved and validated as it is edited.

The toolbar carries what a marketer does with the whole flow: rename it, see whether every change is
saved, undo and redo, see how many problems keep it from publishing, open published versions,
preview, publish. Publish is enabled only when the saved draft validated without problems; it then
says the new version's number.
"""

from __future__ import annotations

from nicegui import ui

from flows.schema import graph_to_builtins
from flows.validation import node_name
from ui.backend import ApiError, BackendUnreachable, FlowInfo, ProblemInfo, VersionSummary, api
from ui.components.dialogs import transient_dialog
from ui.components.draft_sync import DraftSync, SaveState
from ui.components.field_errors import graph_field
from ui.components.flow_document import FlowDocument
from ui.components.flow_status import STATUS_STYLE, status_text
from ui.components.node_kinds import display_name
from ui.components.node_settings.context import on_node
from ui.components.times import relative_now
from ui.layout import shell_page
from ui.pages.flow_workspace import (
    NotShown,
    Workspace,
    build_workspace,
    frame,
    load,
    missing,
    parse,
    pickers,
    toolbar,
)
from ui.session import Session, forget, login_url

STATE_TEXT: dict[SaveState, tuple[str, str, str]] = {
    "saved": ("Saved", "cloud_done", "text-emerald-700"),
    "pending": ("Unsaved changes", "edit", "text-slate-500"),
    "saving": ("Saving…", "cloud_sync", "text-slate-500"),
    "conflict": ("Not saved: changed elsewhere", "sync_problem", "text-red-700"),
    "failed": ("Not saved", "cloud_off", "text-amber-700"),
    "signed_out": ("Not saved: signed out", "lock", "text-red-700"),
}


def register() -> None:
    shell_page("/flows/{flow_id}", "Flow", full_width=True)(flow_edit_body)


async def flow_edit_body(session: Session, flow_id: str = "") -> None:
    here = f"/flows/{flow_id}"
    if not flow_id.isdigit():
        missing(f"“{flow_id}” is not a flow number.")
        return
    try:
        flow = await load(session, here, api.get_flow(session.token, int(flow_id)))
        graph = parse(flow["graph"])
    except NotShown:
        return
    groups, categories = await pickers(session)
    page = DraftPage(session, flow, FlowDocument(graph))
    page.build(groups, categories)
    await page.sync.validate()


class DraftPage:
    def __init__(self, session: Session, flow: FlowInfo, document: FlowDocument) -> None:
        self.session = session
        self.flow = flow
        self.document = document
        self.readonly = not session.allows("marketer")
        self.sync = DraftSync(
            api,
            session.token,
            flow["id"],
            flow["revision"],
            graph=lambda: graph_to_builtins(self.document.graph),
            on_state=self._show_state,
            on_problems=self._show_problems,
            on_saved=self._saved,
        )
        self.workspace: Workspace | None = None
        self.refused: ProblemInfo | None = None
        """The setting the API refused to save (a text too long for its field), shown at the field."""
        self.client = ui.context.client

    # --- layout -------------------------------------------------------------------------------

    def build(self, groups: list, categories: list) -> None:
        with frame():
            with toolbar():
                self._toolbar_left()
                ui.space()
                self._toolbar_right()
            self._conflict_banner()
            self.workspace = build_workspace(
                self.session,
                self.document,
                readonly=self.readonly,
                groups=groups,
                categories=categories,
                on_graph_change=self._graph_changed,
            )
        self.workspace.on_preview_tab = self._preview_latest
        self._show_status()
        self._show_state("saved", "")
        self._refresh_history()
        # Leaving the page (or losing the connection) saves what is pending right away; the save
        # runs in the server, so it completes even when the tab is gone.
        ui.context.client.on_disconnect(self.sync.flush)

    def _toolbar_left(self) -> None:
        ui.button(icon="arrow_back", on_click=lambda: ui.navigate.to("/flows")).props(
            'flat round dense color=grey-8 aria-label="All flows"'
        ).tooltip("All flows")
        self.name = (
            ui.input(value=self.flow["name"])
            .props('dense borderless maxlength=200 input-class="text-lg font-semibold text-slate-900"')
            .classes("min-w-[12rem] max-w-[22rem]")
            .mark("flow-name")
        )
        if self.readonly:
            self.name.props("readonly")
        else:
            self.name.tooltip("Rename the flow")
            self.name.on("blur", self._rename)
            self.name.on("keydown.enter", self._rename)
        self.status = ui.label().mark("flow-status")
        self._show_status()
        with ui.row().classes("items-center gap-1 no-wrap pl-2"):
            self.state_icon = ui.icon("cloud_done", size="1.1rem")
            self.state_label = ui.label("Saved").classes("text-sm whitespace-nowrap").mark("save-state")

    def _toolbar_right(self) -> None:
        if self.readonly:
            ui.label("Read-only").classes("text-sm text-slate-500 pr-2").mark("read-only")
        else:
            self.undo_button = (
                ui.button(icon="undo", on_click=self._undo)
                .props('flat round dense color=grey-8 aria-label="Undo"')
                .tooltip("Undo (Ctrl+Z)")
                .mark("undo")
            )
            self.redo_button = (
                ui.button(icon="redo", on_click=self._redo)
                .props('flat round dense color=grey-8 aria-label="Redo"')
                .tooltip("Redo (Ctrl+Shift+Z)")
                .mark("redo")
            )
        if not self.readonly:
            ui.button(
                icon="auto_fix_high", on_click=lambda: self.workspace and self.workspace.editor.tidy()
            ).props('flat round dense color=grey-8 aria-label="Tidy up the layout"').tooltip(
                "Tidy up the layout (undo with Ctrl+Z)"
            ).mark("tidy")
        ui.button(
            icon="fit_screen", on_click=lambda: self.workspace and self.workspace.editor.fit_view()
        ).props('flat round dense color=grey-8 aria-label="Fit the flow on screen"').tooltip(
            "Fit the flow on screen"
        ).mark("fit-view")
        self.problems_chip = (
            ui.button("Checking…", on_click=self._show_overview)
            .props("flat dense no-caps color=grey-7")
            .mark("problems-chip")
        )
        ui.button("Versions", icon="history", on_click=self._open_versions).props(
            "flat dense no-caps color=grey-8"
        ).mark("versions")
        ui.button("Preview", icon="smartphone", on_click=self._preview_latest).props(
            "outline dense no-caps color=primary"
        ).mark("preview")
        if not self.readonly:
            self.publish_button = (
                ui.button("Publish", icon="rocket_launch", on_click=self._publish)
                .props("unelevated dense no-caps color=primary")
                .classes("px-3")
                .mark("publish")
            )
            self.publish_button.disable()

    def _conflict_banner(self) -> None:
        with ui.row().classes(
            "w-full shrink-0 items-center gap-3 px-4 py-2 bg-red-50 border-b border-red-200"
        ) as banner:
            ui.icon("sync_problem", size="1.25rem").classes("text-red-700")
            ui.label(
                "Someone saved this flow elsewhere since you opened it. Your last change was not saved; "
                "reload to continue from their version."
            ).classes("text-sm text-red-900")
            ui.space()
            ui.button("Reload", icon="refresh", on_click=lambda: ui.navigate.reload()).props(
                "unelevated no-caps dense color=negative"
            ).mark("reload-flow")
        banner.mark("conflict-banner")
        banner.visible = False
        self.banner = banner

    # --- editing ------------------------------------------------------------------------------

    def _graph_changed(self) -> None:
        self.sync.changed()
        self._refresh_history()
        self._refresh_publish()

    async def _undo(self) -> None:
        assert self.workspace is not None
        await self.workspace.editor.undo()

    async def _redo(self) -> None:
        assert self.workspace is not None
        await self.workspace.editor.redo()

    def _refresh_history(self) -> None:
        if self.readonly:
            return
        self.undo_button.set_enabled(self.document.can_undo and self.sync.state != "conflict")
        self.redo_button.set_enabled(self.document.can_redo and self.sync.state != "conflict")

    def _rename(self) -> None:
        name = (self.name.value or "").strip()
        if not name:
            self.name.value = self.flow["name"]
            ui.notify("A flow needs a name; the old one is kept.", type="warning")
            return
        if name != self.flow["name"]:
            self.flow["name"] = name
            self.sync.rename(name)

    def _show_overview(self) -> None:
        assert self.workspace is not None
        self.workspace.editor.select([])
        self.workspace.tabs.set_value(self.workspace.step_tab)
        self.workspace.panel.show()

    # --- saving and validation ----------------------------------------------------------------

    def _show_state(self, state: SaveState, detail: str) -> None:
        text, icon, colour = STATE_TEXT[state]
        refused = self._refused_setting(detail) if state == "failed" else None
        if refused is not None:
            node = self.document.node(refused["node_id"] or "")
            detail = (
                f"{display_name(node) if node else refused['node_id']}: {on_node(refused['message'], node)}"
            )
        if refused != self.refused and (refused is not None or state == "saved"):
            self.refused = refused  # a refused setting stays shown until a save goes through
            self._redraw_problems()
        self.state_label.text = f"{text}: {detail}" if detail else text
        self.state_icon.name = icon
        # Colour the two children: replacing the row's own classes would drop NiceGUI's row layout.
        self.state_icon.classes(replace=colour)
        self.state_label.classes(replace=f"text-sm whitespace-nowrap {colour}")
        if state == "conflict":
            self.banner.visible = True
            if self.workspace is not None:
                self.workspace.editor.set_readonly(True)
            self._refresh_history()
        elif state == "signed_out" and self.client.has_socket_connection:
            # (A tab closed meanwhile has no storage or page left to send anywhere.)
            forget()
            ui.notify("Your session ended. Sign in again; the last change was not saved.", type="negative")
            ui.navigate.to(login_url(f"/flows/{self.flow['id']}"))
        self._refresh_publish()

    def _saved(self, flow: FlowInfo) -> None:
        self.flow.update({key: flow[key] for key in ("status", "latest_version", "revision", "name")})
        self._show_status()
        self._refresh_publish()

    def _show_status(self) -> None:
        self.status.text = status_text(self.flow)
        self.status.classes(
            replace="text-xs px-2 py-0.5 rounded-full whitespace-nowrap " + STATUS_STYLE[self.flow["status"]]
        )
        if self.workspace is not None:
            self.workspace.panel.show_status(self.flow["status"], self.flow["latest_version"])

    def _refused_setting(self, detail: str) -> ProblemInfo | None:
        """A save the API refused for one step's setting (``$.graph.nodes[3].time_of_day``), as a
        problem of that step in words; None for other failures (the API down, a server error)."""
        place = graph_field(detail)
        nodes = self.document.graph.nodes
        if place is None or place.node_index >= len(nodes):
            return None
        node = nodes[place.node_index]
        return ProblemInfo(
            node_id=node.id, code="refused", message=f"{node_name(node)}: {place.words}", field=place.field
        )

    def _redraw_problems(self) -> None:
        if self.sync.problems is not None or self.refused is not None:
            self._show_problems(self.sync.problems or [])

    def _show_problems(self, problems: list[ProblemInfo]) -> None:
        """Validation's problems of the saved draft, and the setting a save was refused for, if any."""
        if self.refused is not None:
            problems = [self.refused, *problems]
        if self.workspace is not None:
            self.workspace.show_problems(problems)
        count = len(problems)
        if count:
            self.problems_chip.text = f"{count} problem{'s' if count != 1 else ''}"
            self.problems_chip.props("icon=error_outline color=negative")
        else:
            self.problems_chip.text = "No problems"
            self.problems_chip.props("icon=check_circle color=positive")
        self._refresh_publish()

    def _refresh_publish(self) -> None:
        """Enabled while the last validation found no problems; Publish saves what is pending first."""
        if self.readonly:
            return
        usable = self.sync.state in ("saved", "pending", "saving")
        unchanged = self.flow["status"] == "published" and self.sync.state == "saved"
        self.publish_button.set_enabled(usable and self.sync.problems == [] and not unchanged)
        if self.sync.state == "conflict":
            tip = "Reload first: the flow changed elsewhere"
        elif self.sync.problems:
            tip = "Fix the problems to publish"
        elif unchanged:
            tip = f"Nothing new to publish: the draft is version {self.flow['latest_version']}"
        else:
            tip = "Freeze the draft as a new version that campaigns can use"
        self.publish_button.props(f'title="{tip}"')

    # --- publishing, versions, preview --------------------------------------------------------

    async def _publish(self) -> None:
        self.publish_button.disable()
        try:
            if not await self.sync.flush():
                ui.notify("The draft could not be saved, so nothing was published.", type="warning")
                return
            if self.sync.problems:
                ui.notify("Fix the problems first: they are marked on the canvas.", type="warning")
                return
            try:
                result = await api.publish_flow(
                    self.session.token, self.flow["id"], revision=self.sync.revision
                )
            except BackendUnreachable:
                ui.notify("The API is not answering; nothing was published. Try again.", type="negative")
                return
            except ApiError as exc:
                if exc.status == 409:
                    self.sync.conflicted()
                elif exc.status == 422:
                    await self.sync.validate()
                    ui.notify("Not published: the flow has problems; they are marked.", type="warning")
                else:
                    ui.notify(f"Not published: {exc.detail}", type="negative")
                return
            self.flow.update(latest_version=result["version"], status="published")
            self._show_status()
            if result["created"]:
                ui.notify(f"Published as version {result['version']}", type="positive")
            else:
                ui.notify(f"No changes since version {result['version']}: nothing new to publish.")
            if self.workspace is not None and self.workspace.preview is not None:
                await self.workspace.preview.start(None)
            elif self.workspace is not None and self.workspace.previewing:
                await self._preview_latest()  # published from the Preview tab's "nothing published"
        finally:
            self._refresh_publish()

    async def _preview_latest(self) -> None:
        """Walk the latest published version in the Preview tab, or say there is none yet."""
        assert self.workspace is not None
        if self.flow["latest_version"] is None:
            count = len(self.sync.problems or [])
            blocked = (
                f"First fix the {count} problem{'s' if count != 1 else ''} listed under Step."
                if count
                else ""
            )
            self.workspace.show_unpublished(None if self.readonly else self._publish, blocked)
            return
        note = ""
        if self.flow["status"] == "draft_ahead":
            note = (
                f"This previews version {self.flow['latest_version']}, as campaigns would send it. "
                "The draft's newer changes show here once published."
            )
        await self.workspace.open_preview(self.session, self.flow["id"], None, note=note)

    async def _open_versions(self) -> None:
        try:
            versions = await api.list_versions(self.session.token, self.flow["id"])
        except (ApiError, BackendUnreachable) as exc:
            ui.notify(f"Could not load the versions: {getattr(exc, 'detail', exc)}", type="negative")
            return
        with transient_dialog() as dialog, ui.card().classes("w-[28rem] p-0 gap-0").mark("versions-dialog"):
            with ui.row().classes("w-full items-center px-4 py-3 border-b border-slate-200"):
                ui.label("Published versions").classes("text-base font-semibold")
                ui.space()
                ui.button(icon="close", on_click=dialog.close).props("flat round dense")
            if not versions:
                ui.label("Nothing published yet. Publish makes version 1, frozen for campaigns.").classes(
                    "p-4 text-sm text-slate-600"
                )
            with ui.list().props("separator").classes("w-full max-h-[60vh] overflow-y-auto"):
                for version in versions:
                    self._version_row(dialog, version)
        dialog.open()

    def _version_row(self, dialog: ui.dialog, version: VersionSummary) -> None:
        number = version["number"]
        with ui.item().classes("px-4 py-2").mark("version-row"):
            with ui.item_section():
                ui.item_label(f"Version {number}").classes("font-medium")
                relative, exact = relative_now(version["published_at"])
                ui.item_label(f"{relative} · {version['published_by']}").props("caption").tooltip(exact)
            with ui.item_section().props("side"), ui.row().classes("gap-1 no-wrap"):

                async def preview(number: int = number) -> None:
                    dialog.close()
                    assert self.workspace is not None
                    await self.workspace.open_preview(self.session, self.flow["id"], number)

                ui.button("Preview", on_click=preview).props("flat dense no-caps color=primary")
                ui.button(
                    "Open",
                    on_click=lambda number=number: ui.navigate.to(
                        f"/flows/{self.flow['id']}/versions/{number}"
                    ),
                ).props("flat dense no-caps color=grey-8").mark(f"open-version-{number}")
