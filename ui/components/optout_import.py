"""The "Import opt-outs" dialog: pick a CSV, map its ``sender`` values to senders (seed 004's sender
mapping), send it, and follow the import while a worker applies it.

The API stores the file and answers at once (202); a worker reads it in batches and reports its progress
at ``GET /imports/{id}``, which the dialog polls to move its progress bar, then lists every row error
(row, column, message) the API found. The file is read here only to find its ``sender`` values and to
refuse a file that cannot be an opt-out CSV at all; each row is the API's to judge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import events, ui

from ui.backend import ApiError, BackendUnreachable, SenderRef
from ui.clients import consent
from ui.clients.consent import ImportInfo
from ui.components.dialogs import transient_dialog
from ui.components.optout_rules import (
    AS_WRITTEN,
    SAMPLE_CSV,
    WORKSPACE,
    ImportFileProblem,
    ImportPreview,
    channel_label,
    import_progress_text,
    mapping_body,
    preview_import,
)
from ui.components.times import plural
from ui.session import Session

MAX_FILE_BYTES = 100 * 1024 * 1024
"""The API's upload limit."""
POLL_S = 0.5
"""How often a running import is asked for its progress."""
SHOWN_ERRORS = 200
"""Row errors listed in the dialog; the rest are counted (the API keeps the first 1,000)."""

Finished = Callable[[ImportInfo], Awaitable[None] | None]


class ImportDialog:
    def __init__(self, session: Session, senders: list[SenderRef], on_finished: Finished) -> None:
        self.session = session
        self.senders = senders
        self.on_finished = on_finished
        self.filename = ""
        self.data = b""
        self.preview: ImportPreview | None = None
        self.choices: dict[str, Any] = {}
        self.job: ImportInfo | None = None
        self.timer: ui.timer | None = None
        with (
            transient_dialog() as self.dialog,
            ui.card().classes("w-[44rem] max-w-full p-6 gap-4 rounded-xl").mark("import-dialog"),
        ):
            ui.label("Import opt-outs from a CSV file").classes("text-lg font-semibold text-slate-900")
            with ui.column().classes("gap-1 text-sm text-slate-600"):
                ui.label(
                    "Columns: channel and address are required; category (name), sender (its address or name), "
                    "valid_days or valid_until (neither: permanent) and remarks are optional. An address with an "
                    "active opt-out of the same category and scope is extended: the days add up."
                )
                ui.button(
                    "Download a sample file",
                    icon="download",
                    on_click=lambda: ui.download(SAMPLE_CSV.encode(), "optouts-sample.csv", "text/csv"),
                ).props("flat dense no-caps color=primary").classes("self-start").mark("sample-csv")
            self.upload = (
                ui.upload(
                    auto_upload=True,
                    max_file_size=MAX_FILE_BYTES,
                    on_upload=self.received,
                    on_rejected=lambda: self._problem(
                        "That file was not accepted: pick one .csv file of at most 100 MB."
                    ),
                    label="Choose or drop a .csv file",
                )
                .props('accept=".csv,text/csv" flat bordered color=grey-1 text-color=grey-9')
                .classes("w-full")
                .mark("import-upload")
            )
            self.problem = ui.label("").classes("text-sm text-red-700 break-words").mark("import-problem")
            self.problem.visible = False
            self.setup = ui.column().classes("w-full gap-3")
            self.progress_area = ui.column().classes("w-full gap-2")
            with ui.row().classes("w-full justify-end gap-2"):
                self.close_button = (
                    ui.button("Cancel", on_click=self.dialog.close)
                    .props("flat no-caps color=grey-8")
                    .mark("close-import")
                )
                self.start_button = (
                    ui.button("Import", icon="upload", on_click=self.start)
                    .props("unelevated no-caps color=primary")
                    .mark("start-import")
                )
                self.start_button.disable()

    def open(self) -> None:
        self.dialog.open()

    # --- the file -----------------------------------------------------------------------------------------

    async def received(self, event: events.UploadEventArguments) -> None:
        self.problem.visible = False
        data = await event.file.read()
        try:
            preview = preview_import(data)
        except ImportFileProblem as exc:
            self._problem(str(exc))
            self.upload.reset()
            return
        self.filename, self.data, self.preview = event.file.name, data, preview
        self.choices = {value: AS_WRITTEN for value in preview.senders}
        self._draw_setup()
        self.start_button.enable()

    def _draw_setup(self) -> None:
        assert self.preview is not None
        self.setup.clear()
        with self.setup:
            ui.label(f"{self.filename}: {plural(self.preview.rows, 'row')}").classes(
                "text-sm font-medium text-slate-800"
            ).mark("import-file")
            if self.preview.senders:
                ui.label("Which sender does each value of the sender column mean?").classes(
                    "text-sm font-medium text-slate-700"
                )
                options: dict[Any, str] = {
                    AS_WRITTEN: "As written (the sender with this address or name)",
                    WORKSPACE: "The whole workspace (every sender)",
                } | {
                    sender["id"]: f"{sender['name']} · {channel_label(sender['channel'])} {sender['address']}"
                    for sender in self.senders
                }
                with ui.column().classes("w-full gap-2").mark("sender-mapping"):
                    for value in self.preview.senders:
                        with ui.row().classes("w-full items-center gap-3 no-wrap"):
                            ui.label(value).classes("w-44 truncate font-mono text-sm text-slate-800").tooltip(
                                value
                            )
                            ui.icon("arrow_forward", size="1rem").classes("text-slate-400")
                            ui.select(
                                options,
                                value=AS_WRITTEN,
                                on_change=lambda e, value=value: self.choices.__setitem__(value, e.value),
                            ).props("outlined dense options-dense").classes("flex-1").mark(f"map-{value}")
                if self.preview.more_senders:
                    ui.label("More values than shown: the others are matched as written.").classes(
                        "text-xs text-slate-500"
                    )
            self.on_error = (
                ui.radio(
                    {
                        "skip": "Import the good rows and list the bad ones",
                        "reject": "Import nothing if any row is bad",
                    },
                    value="skip",
                )
                .props("dense")
                .mark("import-on-error")
            )

    # --- the import ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.data:
            self._problem("Pick a file first.")
            return
        self.start_button.disable()
        self.problem.visible = False
        try:
            job = await consent.upload_optouts(
                self.session.token,
                self.filename,
                self.data,
                sender_mapping=mapping_body(self.choices),
                on_error=self.on_error.value,
            )
        except ApiError as exc:
            self._problem(f"Not imported: {exc.detail}")
            self.start_button.enable()
            return
        except BackendUnreachable as exc:
            self._problem(f"Not imported: Flowgate's API at {exc.url} is not answering.")
            self.start_button.enable()
            return
        self.setup.clear()
        self.upload.visible = False
        self.start_button.visible = False
        self.close_button.set_text("Close")
        with self.progress_area:
            self.bar = (
                ui.linear_progress(value=0, show_value=False, size="10px")
                .props("rounded color=primary animation-speed=300")
                .mark("import-progress")
            )
            self.status = ui.label("").classes("text-sm text-slate-700").mark("import-status")
            self.errors = ui.column().classes("w-full gap-1")
        self.show(job)
        self.timer = ui.timer(POLL_S, self.poll)

    async def poll(self) -> None:
        if self.job is None or self.job["status"] in ("completed", "failed"):
            return
        try:
            job = await consent.get_import(self.session.token, self.job["id"])
        except (ApiError, BackendUnreachable):
            return  # the next tick tries again; the bar simply stays where it was
        self.show(job)
        if job["status"] in ("completed", "failed"):
            if self.timer is not None:
                self.timer.cancel()
            result = self.on_finished(job)
            if asyncio.iscoroutine(result):
                await result

    def show(self, job: ImportInfo) -> None:
        self.job = job
        done = job["status"] in ("completed", "failed")
        self.bar.set_value(1.0 if job["status"] == "completed" else float(job.get("progress") or 0))
        self.bar.props(f"color={'negative' if job['status'] == 'failed' else 'primary'}")
        self.status.set_text(import_progress_text(job))
        if done:
            self._draw_errors(job)

    def _draw_errors(self, job: ImportInfo) -> None:
        self.errors.clear()
        if not job.get("errors"):
            return
        with self.errors:
            ui.label(f"{plural(job['error_count'], 'row error')}:").classes(
                "text-sm font-medium text-rose-800"
            )
            with (
                ui.element("div")
                .classes("w-full max-h-64 overflow-auto rounded-lg border border-slate-200")
                .mark("import-errors")
            ):
                with ui.row().classes(
                    "w-full no-wrap gap-3 px-3 py-1.5 bg-slate-50 text-xs font-medium uppercase text-slate-500"
                ):
                    ui.label("Row").classes("w-12")
                    ui.label("Column").classes("w-28")
                    ui.label("Problem").classes("flex-1")
                for problem in job["errors"][:SHOWN_ERRORS]:
                    with (
                        ui.row()
                        .classes("w-full no-wrap gap-3 px-3 py-1.5 border-t border-slate-100 text-sm")
                        .mark("import-error-row")
                    ):
                        ui.label(str(problem["row"])).classes("w-12 tabular-nums text-slate-700")
                        ui.label(problem["column"] or "whole row").classes("w-28 font-mono text-slate-700")
                        ui.label(problem["message"]).classes("flex-1 text-slate-800 break-words")
            if job["error_count"] > SHOWN_ERRORS:
                ui.label(f"The first {SHOWN_ERRORS} are shown.").classes("text-xs text-slate-500")

    def _problem(self, text: str) -> None:
        self.problem.set_text(text)
        self.problem.visible = True
