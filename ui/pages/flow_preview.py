"""``/flows/{id}/preview``: the preview simulator on a page of its own.

Campaign forms and the flows list link here to let a marketer check a published version before it is
sent; ``?version=N`` opens that version (the latest otherwise). The pane does all the work; this page only
frames it with a way back to the flow.
"""

from __future__ import annotations

from nicegui import context, ui

from ui.components.preview_pane import PreviewPane
from ui.layout import page_heading, shell_page
from ui.session import Session


def register() -> None:
    shell_page("/flows/{flow_id}/preview", "Preview")(flow_preview_body)


def requested_version() -> int | None:
    """The ``?version=`` of this page's request; anything but a positive number means the latest."""
    raw = context.client.request.query_params.get("version", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


async def flow_preview_body(session: Session, flow_id: str = "") -> None:
    back_to = f"/flows/{flow_id}" if flow_id.isdigit() else "/flows"
    with (
        ui.link(target=back_to)
        .classes("flex items-center gap-1 text-sm text-slate-600 no-underline hover:text-primary -mb-3")
        .mark("preview-back")
    ):
        ui.icon("arrow_back", size="1rem")
        ui.label("Back to the flow" if flow_id.isdigit() else "All flows")
    page_heading(
        "Preview",
        "Walk a published version as a test contact. Nothing is sent to anyone; no contact changes.",
    )
    if not flow_id.isdigit():
        ui.label(f"“{flow_id}” is not a flow number.").classes("text-slate-600").mark("preview-missing")
        return
    version = requested_version()
    with ui.column().classes("w-full items-center"):
        pane = PreviewPane(session, int(flow_id), version=version)
    await pane.start(version)
