"""``/flows/{id}/versions/{n}``: one published version, read-only, with a way back into the draft.

Versions are frozen (campaigns pin them), so the canvas and settings can be looked at, copied from and
previewed but not changed. "Restore as draft" replaces the draft with this version's graph; the draft
then publishes as a new version, so history is never rewritten.
"""

from __future__ import annotations

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable, FlowInfo, NamedRef, VersionInfo, api
from ui.components.dialogs import transient_dialog
from ui.components.flow_document import FlowDocument
from ui.components.flow_status import status_text
from ui.components.times import absolute_time, parse_timestamp
from ui.layout import shell_page
from ui.pages.flow_workspace import NotShown, build_workspace, frame, load, missing, parse, pickers, toolbar
from ui.session import Session, forget, login_url


def register() -> None:
    shell_page("/flows/{flow_id}/versions/{number}", "Flow version", full_width=True)(flow_version_body)


async def flow_version_body(session: Session, flow_id: str = "", number: str = "") -> None:
    if not (flow_id.isdigit() and number.isdigit()):
        missing("This address does not name a flow version.")
        return
    here = f"/flows/{flow_id}/versions/{number}"
    try:
        flow = await load(session, here, api.get_flow(session.token, int(flow_id)))
        version = await load(
            session, here, api.get_version(session.token, int(flow_id), int(number)), what="version"
        )
        graph = parse(version["graph"])
    except NotShown:
        return
    groups, categories = await pickers(session)
    document = FlowDocument(graph)
    with frame():
        _toolbar_and_workspace(session, flow, version, document, groups, categories)


def _toolbar_and_workspace(
    session: Session,
    flow: FlowInfo,
    version: VersionInfo,
    document: FlowDocument,
    groups: list[NamedRef],
    categories: list[NamedRef],
) -> None:
    flow_id = flow["id"]
    with toolbar():
        ui.button(icon="arrow_back", on_click=lambda: ui.navigate.to(f"/flows/{flow_id}")).props(
            "flat round dense color=grey-8"
        ).tooltip("Back to the draft")
        ui.label(flow["name"]).classes("text-lg font-semibold text-slate-900 truncate").mark("flow-name")
        ui.label(f"Version {version['number']}").classes(
            "text-xs px-2 py-0.5 rounded-full bg-indigo-50 text-indigo-700 whitespace-nowrap"
        ).mark("version-number")
        published = absolute_time(parse_timestamp(version["published_at"]))
        ui.label(f"Published {published} by {version['published_by']} · read-only").classes(
            "text-sm text-slate-500 truncate"
        )
        ui.space()
        preview = (
            ui.button("Preview", icon="smartphone")
            .props("outline dense no-caps color=primary")
            .mark("preview")
        )
        if session.allows("marketer"):
            ui.button(
                "Restore as draft", icon="restore", on_click=lambda: _confirm_restore(session, flow, version)
            ).props("unelevated dense no-caps color=primary").mark("restore-version")
    workspace = build_workspace(
        session,
        document,
        readonly=True,
        groups=groups,
        categories=categories,
        on_graph_change=lambda: None,
    )

    async def open_preview() -> None:
        await workspace.open_preview(session, flow_id, version["number"])

    preview.on_click(open_preview)
    workspace.on_preview_tab = open_preview  # the tab walks this version, not a blank pane


def _confirm_restore(session: Session, flow: FlowInfo, version: VersionInfo) -> None:
    ahead = flow["status"] == "draft_ahead"
    with transient_dialog() as dialog, ui.card().classes("w-[26rem] gap-3").mark("restore-dialog"):
        ui.label(f"Restore version {version['number']} as the draft?").classes("text-lg font-semibold")
        ui.label(
            "The draft becomes this version's graph. Published versions stay as they are; publishing the "
            "restored draft makes a new version."
        ).classes("text-sm text-slate-600")
        if ahead:
            ui.label(
                f"The draft has changes that were never published ({status_text(flow)}); they will be replaced."
            ).classes("text-sm text-amber-800 bg-amber-50 rounded p-2")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")

            async def restore() -> None:
                dialog.close()
                await _restore(session, flow, version)

            ui.button("Restore", on_click=restore).props("unelevated no-caps color=primary").mark(
                "confirm-restore"
            )
    dialog.open()


async def _restore(session: Session, flow: FlowInfo, version: VersionInfo) -> None:
    """Replace the draft at its current revision; a save from elsewhere in between is not overwritten."""
    try:
        current = await api.get_flow(session.token, flow["id"])
        await api.save_flow_draft(
            session.token, flow["id"], revision=current["revision"], graph=version["graph"]
        )
    except BackendUnreachable:
        ui.notify("The API is not answering; the draft was not changed.", type="negative")
        return
    except ApiError as exc:
        if exc.status == 401:
            forget()
            ui.navigate.to(login_url(f"/flows/{flow['id']}/versions/{version['number']}"))
            return
        ui.notify(f"The draft was not changed: {exc.detail}", type="negative")
        return
    ui.notify(f"Version {version['number']} is the draft again.", type="positive")
    ui.navigate.to(f"/flows/{flow['id']}")
