"""``/audience/import`` and ``/audience/imports/{id}``: a CSV of contacts in three steps — pick the file,
say what each column means (the header is read here and shown with example values), start — then
watch the worker stream it: a progress bar fed by ``GET /imports/{id}`` once a second while it runs,
the counts, and every refused row (row, column, problem) right under the bar.

The import itself is the API's (``POST /contacts/import`` with the ``columns`` mapping): the worker reads
the whole file again and judges each row. Imports have no live feed, so the progress page polls; it
stops as soon as the import is finished or failed.
"""

from __future__ import annotations

from typing import Any

from nicegui import events, ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import audience as client
from ui.components.audience_parts import audience_tabs, section
from ui.components.csv_columns import (
    ATTRIBUTE,
    MEANINGS,
    ColumnChoice,
    CsvPreview,
    CsvProblem,
    initial_choices,
    mapping,
    mapping_problems,
    read_preview,
    source_of,
)
from ui.components.page_states import action_failed, problem_card
from ui.components.paged_list import CARD, HEADER_ROW
from ui.components.times import relative_now
from ui.layout import page_heading, shell_page
from ui.session import Session

PATH = "/audience/import"
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
"""The API's limit on an upload."""
POLL_S = 1.0
RECENT = 10
STATUS_LOOK = {
    "queued": ("Waiting for a worker", "bg-slate-100 text-slate-700"),
    "running": ("Importing", "bg-sky-50 text-sky-700"),
    "completed": ("Finished", "bg-emerald-50 text-emerald-700"),
    "failed": ("Failed", "bg-red-50 text-red-700"),
}
PHASE_TEXT = {
    "scanning": "Reading the file",
    "validating": "Checking every row first (nothing is written unless all are fine)",
    "applying": "Importing rows",
}


def register() -> None:
    shell_page(PATH, "Import contacts")(import_body)
    shell_page("/audience/imports/{import_id}", "Import")(progress_body)


# --- choosing the file and its columns ------------------------------------------------------------------


async def import_body(session: Session) -> None:
    page_heading(
        "Audience",
        "Import contacts from a CSV file: rows matching a contact by phone or email update it, the others "
        "become new contacts.",
    )
    audience_tabs(PATH)
    if session.allows("marketer"):
        try:
            groups = await client.all_groups(session.token)
        except (ApiError, BackendUnreachable) as exc:
            problem_card(exc, "the groups", ui.navigate.reload, here=PATH)
            return
        ImportForm(session, {group["id"]: group["name"] for group in groups}).build()
    else:
        ui.label("Viewers see the imports; marketers and admins start them.").classes("text-slate-600")
    await recent_imports(session)


class ImportForm:
    def __init__(self, session: Session, groups: dict[int, str]) -> None:
        self.session = session
        self.groups = groups
        self.filename = ""
        self.data = b""
        self.preview: CsvPreview | None = None
        self.choices: list[ColumnChoice] = []
        self.errors: list[ui.label] = []

    def build(self) -> None:
        self.card = section(
            "Import contacts",
            marker="import-card",
            subtitle="A CSV file (UTF-8; comma, semicolon or tab separated) whose first row names the columns. "
            "Up to 100 MiB.",
        )
        with self.card:
            self.upload = (
                ui.upload(
                    auto_upload=True,
                    max_file_size=MAX_UPLOAD_BYTES,
                    on_upload=self.received,
                    on_rejected=self.rejected,
                    label="Choose or drop a .csv file",
                )
                .props('accept=".csv,text/csv,.txt" flat bordered color=grey-1 text-color=grey-9')
                .classes("w-full")
                .mark("import-upload")
            )
            self.file_error = ui.label("").classes("text-sm text-red-700").mark("import-file-error")
            self.file_error.visible = False
            self.columns_box = ui.column().classes("w-full gap-3")

    def rejected(self) -> None:
        self._file_problem("That file was not accepted: pick one .csv file of at most 100 MiB.")

    def _file_problem(self, text: str) -> None:
        self.file_error.text = text
        self.file_error.visible = True
        self.columns_box.clear()
        self.upload.reset()

    async def received(self, event: events.UploadEventArguments) -> None:
        self.file_error.visible = False
        data = await event.file.read()
        try:
            preview = read_preview(data)
        except CsvProblem as exc:
            self._file_problem(str(exc))
            return
        self.filename, self.data, self.preview = event.file.name, data, preview
        self.choices = initial_choices(preview.header)
        self.draw_columns()

    # --- the mapping --------------------------------------------------------------------------------

    def draw_columns(self) -> None:
        assert self.preview is not None
        preview = self.preview
        self.columns_box.clear()
        self.errors = []
        with self.columns_box:
            with ui.row().classes("w-full items-center gap-2"):
                ui.icon("description", size="1.2rem").classes("text-slate-500")
                ui.label(self.filename).classes("font-medium text-slate-900").mark("import-filename")
                ui.label(f"{len(preview.header)} columns · {len(self.data) / 1024:,.1f} KiB").classes(
                    "text-sm text-slate-500"
                )
            ui.label(
                "Say what each column holds. The examples are the file's first rows; the import reads them all."
            ).classes("text-sm text-slate-600")
            with ui.card().classes(CARD + " shadow-none border border-slate-200").mark("column-mapping"):
                with ui.row().classes(HEADER_ROW):
                    ui.label("Column in the file").classes("w-48")
                    ui.label("Examples").classes("flex-1 min-w-0")
                    ui.label("Holds").classes("w-80")
                with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                    for position, choice in enumerate(self.choices):
                        self._column_row(position, choice, [row[position] for row in preview.samples])
            self.file_level_error = ui.label("").classes("text-sm text-red-700").mark("mapping-error")
            self.file_level_error.visible = False
            with ui.row().classes("w-full gap-6 items-start"):
                self.group = (
                    ui.select(self.groups, label="Also add everyone to a group (optional)", clearable=True)
                    .props("outlined dense options-dense")
                    .classes("w-80")
                    .mark("import-group")
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
                    .classes("text-sm text-slate-700")
                    .mark("import-on-error")
                )
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Choose another file", on_click=self.start_over).props("flat no-caps color=grey-8")
                self.start_button = (
                    ui.button("Start import", icon="play_arrow", on_click=self.start)
                    .props("unelevated no-caps")
                    .mark("start-import")
                )
        self.check()

    def _column_row(self, position: int, choice: ColumnChoice, examples: list[str]) -> None:
        with (
            ui.row()
            .classes("w-full items-start no-wrap gap-4 px-5 py-2")
            .mark("mapping-row", f"column-{position}")
        ):
            ui.label(choice.cell or "(no heading)").classes(
                "w-48 pt-2 font-medium text-slate-800 break-words"
            )
            ui.label(" · ".join(value for value in examples if value.strip()) or "—").classes(
                "flex-1 min-w-0 pt-2 text-sm text-slate-500 truncate"
            )
            with ui.column().classes("w-80 gap-1"):
                with ui.row().classes("w-full gap-2 no-wrap"):
                    meaning = (
                        ui.select(MEANINGS, value=choice.meaning)
                        .props("outlined dense options-dense")
                        .classes("w-40")
                        .mark("column-meaning")
                    )
                    key = (
                        ui.input(placeholder="attribute name", value=choice.key)
                        .props("outlined dense")
                        .classes("flex-1")
                        .mark("column-key")
                    )
                    key.visible = choice.meaning == ATTRIBUTE

                    def changed(
                        _: Any = None, choice: ColumnChoice = choice, meaning=meaning, key=key
                    ) -> None:
                        choice.meaning = meaning.value
                        choice.key = key.value or ""
                        key.visible = choice.meaning == ATTRIBUTE
                        self.check()

                    meaning.on_value_change(changed)
                    key.on_value_change(changed)
                self.errors.append(ui.label("").classes("text-xs text-red-700").mark("column-error"))

    def check(self) -> bool:
        """Show every problem of the choices where it is; True when the import can start."""
        problems = mapping_problems(self.choices)
        for position, label in enumerate(self.errors):
            label.text = problems.get(position, "")
            label.visible = position in problems
        self.file_level_error.text = problems.get(-1, "")
        self.file_level_error.visible = -1 in problems
        return not problems

    def start_over(self) -> None:
        self.preview = None
        self.data = b""
        self.columns_box.clear()
        self.upload.reset()

    async def start(self) -> None:
        if not self.check():
            return
        self.start_button.disable()
        try:
            created = await client.upload_contacts(
                self.session.token,
                self.filename,
                self.data,
                columns=mapping(self.choices),
                group_id=self.group.value,
                on_error=self.on_error.value,
            )
        except ApiError as exc:
            if exc.status == 401:
                action_failed(exc, "Not imported", here=PATH)
                return
            self.file_level_error.text = f"Not imported: {exc.detail}"
            self.file_level_error.visible = True
            return
        except BackendUnreachable as exc:
            action_failed(exc, "Not imported", here=PATH)
            return
        finally:
            self.start_button.enable()
        ui.navigate.to(f"/audience/imports/{created['id']}")


async def recent_imports(session: Session) -> None:
    """The latest contact imports, newest first, each opening its progress page."""
    card = section("Recent imports", marker="recent-imports")
    try:
        items = await _all_imports(session.token)
    except (ApiError, BackendUnreachable) as exc:
        with card:
            problem_card(exc, "the imports", ui.navigate.reload, here=PATH)
        return
    with card:
        if not items:
            ui.label("No contacts were imported in this workspace so far.").classes("text-sm text-slate-500")
            return
        with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
            for item in list(reversed(items))[:RECENT]:
                label, look = STATUS_LOOK.get(item["status"], (item["status"], ""))
                with ui.row().classes("w-full items-center no-wrap gap-4 py-2").mark("recent-import"):
                    with ui.column().classes("flex-1 min-w-0 gap-0"):
                        ui.link(
                            item["filename"] or f"Import {item['id']}", f"/audience/imports/{item['id']}"
                        ).classes(
                            "text-sm font-medium text-slate-900 no-underline hover:text-primary truncate"
                        )
                        when, exact = relative_now(item["created_at"])
                        ui.label(f"{when} by {item['created_by']} · {counts_text(item)}").classes(
                            "text-xs text-slate-500 truncate"
                        ).tooltip(exact)
                    ui.label(label).classes(f"text-xs font-medium px-2 py-0.5 rounded-full {look}")


async def _all_imports(token: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(items) < 2_000:
        page = await client.list_imports(token, cursor=cursor, limit=500)
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    return items


def counts_text(item: dict[str, Any]) -> str:
    """``8 created · 1 updated · 2 skipped, 2 with errors``."""
    parts = [f"{item['created']:,} created", f"{item['updated']:,} updated"]
    if item["skipped"]:
        parts.append(f"{item['skipped']:,} skipped")
    text = " · ".join(parts)
    if item["error_count"]:
        text += f", {item['error_count']:,} with errors" if item["error_count"] > 1 else ", 1 with an error"
    return text


def progress_text(item: dict[str, Any]) -> str:
    """``Importing rows: 120 of 1,000 rows (12%)``, or what the import is waiting for."""
    if item["status"] == "queued":
        return "Waiting for a worker to pick the file up…"
    if item["status"] == "completed":
        return f"Finished: {item['total_rows']:,} rows read."
    if item["status"] == "failed":
        return "Stopped."
    phase = PHASE_TEXT.get(item.get("phase") or "", "Working")
    if not item["total_rows"]:
        return f"{phase}…"
    return f"{phase}: {item['processed_rows']:,} of {item['total_rows']:,} rows ({item['progress']:.0%})"


def error_column(columns: dict[str, str | None], column: str | None) -> str:
    """A row error's column as the person knows it: ``phone (the file's “mobile”)``."""
    if column is None:
        return "whole row"
    source = source_of(columns, column)
    return f"{column} (the file's “{source}”)" if source else column


# --- one import's progress -------------------------------------------------------------------------------


async def progress_body(session: Session, import_id: str = "") -> None:
    here = f"/audience/imports/{import_id}"
    if not import_id.isdigit():
        page_heading("Import not found", "This address does not name an import.")
        return
    try:
        item = await client.get_import(session.token, int(import_id))
    except (ApiError, BackendUnreachable) as exc:
        if isinstance(exc, ApiError) and exc.status == 404:
            page_heading("Import not found", "It belongs to another workspace, or it never existed.")
            ui.link("Back to the imports", PATH)
            return
        page_heading("Import", "")
        problem_card(exc, "the import", ui.navigate.reload, here=here)
        return
    ProgressPage(session, item).build()


class ProgressPage:
    def __init__(self, session: Session, item: dict[str, Any]) -> None:
        self.session = session
        self.item = item
        self.shown_errors = -1
        self.misses = 0

    def build(self) -> None:
        item = self.item
        with ui.column().classes("gap-1"):
            ui.link("← Imports", PATH).classes("text-sm text-slate-500 no-underline hover:text-primary")
            ui.label(f"Import of {item['filename'] or 'a file'}").classes(
                "text-2xl font-semibold text-slate-900"
            ).mark("page-title")
            when, exact = relative_now(item["created_at"])
            ui.label(f"Uploaded {when} by {item['created_by']}").classes("text-slate-600").tooltip(exact)
        with ui.card().classes("w-full p-5 gap-3 shadow-sm rounded-xl").mark("import-progress"):
            with ui.row().classes("w-full items-center gap-3"):
                self.status = ui.label("").mark("import-status")
                ui.space()
                self.percent = (
                    ui.label("").classes("text-sm tabular-nums text-slate-600").mark("import-percent")
                )
            self.bar = (
                ui.linear_progress(value=0, show_value=False, size="12px")
                .props("rounded color=primary track-color=grey-3")
                .mark("import-bar")
            )
            self.phase = ui.label("").classes("text-sm text-slate-600").mark("import-phase")
            self.counts = ui.label("").classes("text-sm text-slate-800").mark("import-counts")
            self.failure = ui.label("").classes("text-sm text-red-700").mark("import-failure")
            self.next_steps = ui.row().classes("gap-2")
            self.errors_box = ui.column().classes("w-full gap-2 pt-2")
        self.draw()
        self.timer = ui.timer(POLL_S, self.poll, active=item["status"] in ("queued", "running"))

    async def poll(self) -> None:
        try:
            self.item = await client.get_import(self.session.token, self.item["id"])
        except (ApiError, BackendUnreachable) as exc:
            self.misses += 1
            if isinstance(exc, ApiError) and exc.status == 401:
                action_failed(
                    exc, "The import could not be followed", here=f"/audience/imports/{self.item['id']}"
                )
                self.timer.deactivate()
            elif self.misses == 5:
                self.phase.text = "Flowgate's API is not answering; still trying…"
            return
        self.misses = 0
        self.draw()
        if self.item["status"] not in ("queued", "running"):
            self.timer.deactivate()

    def draw(self) -> None:
        item = self.item
        label, look = STATUS_LOOK.get(item["status"], (item["status"], ""))
        self.status.text = label
        self.status.classes(replace=f"text-sm font-medium px-2.5 py-0.5 rounded-full {look}")
        self.bar.value = item["progress"]
        self.bar.props(f"color={'negative' if item['status'] == 'failed' else 'primary'}")
        self.percent.text = f"{item['progress']:.0%}"
        self.phase.text = progress_text(item)
        self.counts.text = counts_text(item)
        self.failure.text = f"Nothing more was imported: {item['failure']}" if item["failure"] else ""
        self.failure.visible = bool(item["failure"])
        self.next_steps.clear()
        if item["status"] in ("completed", "failed"):
            with self.next_steps:
                ui.button(
                    "See the contacts", icon="groups", on_click=lambda: ui.navigate.to("/audience")
                ).props("outline no-caps").mark("see-contacts")
                group_id = item["options"].get("group_id")
                if group_id:
                    ui.button(
                        "Open the group",
                        icon="group_work",
                        on_click=lambda: ui.navigate.to(f"/audience/groups/{group_id}"),
                    ).props("outline no-caps")
                ui.button(
                    "Import another file", icon="upload_file", on_click=lambda: ui.navigate.to(PATH)
                ).props("flat no-caps").mark("import-another")
        if len(item.get("errors") or []) != self.shown_errors:
            self.draw_errors()

    def draw_errors(self) -> None:
        errors = self.item.get("errors") or []
        columns = self.item["options"].get("columns") or {}
        self.shown_errors = len(errors)
        self.errors_box.clear()
        if not errors:
            return
        with self.errors_box:
            title = "Rows not imported" if self.item["on_error"] == "skip" else "Rows that stopped the import"
            ui.label(f"{title} ({self.item['error_count']:,})").classes(
                "text-base font-semibold text-slate-900"
            )
            if self.item["error_count"] > len(errors):
                ui.label(f"The first {len(errors):,} problems are listed.").classes("text-xs text-slate-500")
            with ui.card().classes(CARD + " shadow-none border border-slate-200").mark("import-errors"):
                with ui.row().classes(HEADER_ROW):
                    ui.label("Row").classes("w-16 text-right")
                    ui.label("Column").classes("w-56")
                    ui.label("Problem").classes("flex-1")
                with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                    for error in errors:
                        with (
                            ui.row()
                            .classes("w-full items-start no-wrap gap-4 px-5 py-2 text-sm")
                            .mark("import-error")
                        ):
                            ui.label(f"{error['row']:,}").classes(
                                "w-16 text-right tabular-nums text-slate-700"
                            ).mark("error-row")
                            ui.label(error_column(columns, error["column"])).classes(
                                "w-56 font-mono text-xs pt-0.5 text-slate-700 break-words"
                            ).mark("error-column")
                            ui.label(error["message"]).classes("flex-1 text-slate-800 break-words").mark(
                                "error-message"
                            )
            ui.label("Row 1 is the first row under the header.").classes("text-xs text-slate-500")
