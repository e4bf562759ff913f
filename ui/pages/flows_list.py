"""``/flows``: the workspace's flows, where marketers start, copy, export, import and delete them.

Everything goes through the API, which stays the judge of every rule: names and graphs are sent as typed
or uploaded and the API's own message is shown when it refuses one. The only check made here is the one
the API cannot make: a name of spaces only (the API strips names, so it would store an empty one).

The list keeps the API's order (by id, so oldest first) and pages with its ``next_cursor``; it does not
pretend to sort by last edit, since that would only be true of the part already loaded.
"""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PureWindowsPath
from typing import Any

from nicegui import events, ui

from flows.examples import EXAMPLES, example_json
from ui.backend import ApiError, BackendUnreachable, FlowSummary, api
from ui.components.dialogs import transient_dialog
from ui.components.flow_status import STATUS_STYLE, status_text
from ui.components.in_use import refused_in_use
from ui.components.times import absolute_time, parse_timestamp, plural, relative_time
from ui.layout import page_heading, shell_page
from ui.session import Session, forget, login_url

PATH = "/flows"
PAGE_SIZE = 50
"""Flows fetched per request; "Load more" fetches the next page with the API's cursor."""
SEARCH_DELAY_S = 0.3
"""Typing pauses this long before the list is asked for: one request per word, not per keystroke."""
NAME_MAX = 200
"""The API's limit on flow names; copies and imported names are trimmed to it."""
MAX_IMPORT_BYTES = 1024 * 1024
LONG_NAME = 48
"""Names longer than this may be cut short in the row, so they get a tooltip with the whole name."""
STATUS_COLUMN = "w-40 max-sm:w-auto shrink-0"
BLANK = "blank"
"""The "Start from" choice of an empty flow (no example has this name)."""

TRIGGER_TEXT = {"manual": "Manual or campaign", "keyword": "Keyword", "api": "API call"}
TRIGGER_ICON = {"manual": "campaign", "keyword": "chat", "api": "api"}

EXAMPLE_TITLES = {
    "welcome_opt_in": "Welcome & opt-in",
    "promotion_follow_up": "Promotion follow-up",
    "faq_keyword_bot": "FAQ keyword bot",
    "re_engagement_ab": "Re-engagement A/B test",
}
"""How the shipped examples read in the "Start from" choice; an example missing here gets a title made
from its name, so a new example shows up without touching this page."""
EXAMPLE_BLURBS = {
    "welcome_opt_in": "greet new contacts and ask for consent",
    "promotion_follow_up": "send an offer and follow up on the answer",
    "faq_keyword_bot": "answer questions when someone texts HELP or FAQ",
    "re_engagement_ab": "win back lapsed customers, testing two messages",
}


# --- pure helpers (no UI, tested directly) --------------------------------------------------------


def example_title(name: str) -> str:
    """``welcome_opt_in`` -> ``Welcome & opt-in``; unknown names become words with a capital."""
    if name in EXAMPLE_TITLES:
        return EXAMPLE_TITLES[name]
    words = name.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def start_options() -> dict[str, str]:
    """The "Start from" choices: blank first, then the examples in the order they ship."""
    options = {BLANK: "Blank: only a start node"}
    for name in EXAMPLES:
        blurb = EXAMPLE_BLURBS.get(name)
        options[name] = f"{example_title(name)}: {blurb}" if blurb else example_title(name)
    return options


def example_graph(name: str) -> dict[str, Any]:
    return json.loads(example_json(name))


def trigger_text(trigger: str) -> str:
    return TRIGGER_TEXT.get(trigger, trigger.capitalize())


def copy_name(name: str) -> str:
    """``<name> (copy)``, cutting the name rather than the suffix so it still reads as a copy."""
    suffix = " (copy)"
    return name[: NAME_MAX - len(suffix)].rstrip() + suffix


def slugify(name: str) -> str:
    """A file-name-safe form of a flow name: ASCII letters, digits and dashes (``flow`` if none)."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80].rstrip("-") or "flow"


def export_filename(name: str) -> str:
    return f"{slugify(name)}.flow.json"


def export_document(name: str, graph: dict[str, Any]) -> bytes:
    """The export format: exactly what import (and ``POST /api/v1/flows``) reads back."""
    return json.dumps({"name": name, "graph": graph}, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


class ImportProblem(ValueError):
    """Why an uploaded file is not a flow, in words for the person who picked it."""


@dataclass(frozen=True, slots=True)
class ImportedFlow:
    name: str
    graph: dict[str, Any]


def name_from_filename(filename: str) -> str:
    """``summer-sale.flow.json`` -> ``summer sale``: the name of a flow imported as a bare graph."""
    stem = PureWindowsPath(filename).name  # browsers send a bare name; this also drops C:\ and / paths
    for suffix in (".flow.json", ".json"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    words = " ".join(re.sub(r"[-_]+", " ", stem).split())
    return words[:NAME_MAX].rstrip() or "Imported flow"


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def _reject_constant(constant: str) -> Any:
    raise ImportProblem(f"The file is not valid JSON: {constant} is not a JSON value.")


def parse_import(filename: str, data: bytes) -> ImportedFlow:
    """Read an uploaded file as our export ``{"name", "graph"}`` or as a bare graph.

    Only the file's shape is checked here; whether the graph is a valid flow is the API's call, and its
    answer names the offending field. A name longer than the API allows is trimmed, not refused.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportProblem(f"The file is {len(data) / 1024 / 1024:.1f} MiB; imports are limited to 1 MiB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportProblem("The file is not UTF-8 text, so it cannot be a JSON flow.") from None
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ImportProblem(
            f"The file is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    if not isinstance(document, dict):
        raise ImportProblem(
            f"The file holds {_json_kind(document)}, not a JSON object: expected a Flowgate export "
            '{"name", "graph"} or a flow graph {"format_version", "nodes", "edges"}.'
        )
    if "graph" in document:
        graph, name = document["graph"], document.get("name")
        if not isinstance(graph, dict):
            raise ImportProblem(
                f'"graph" is {_json_kind(graph)}; it must be a JSON object with format_version, nodes and edges.'
            )
        if name is not None and not isinstance(name, str):
            raise ImportProblem(f'"name" is {_json_kind(name)}; it must be a string.')
        name = (name or "").strip() or name_from_filename(filename)
        return ImportedFlow(name[:NAME_MAX].rstrip(), graph)
    if "nodes" in document or "format_version" in document:
        return ImportedFlow(name_from_filename(filename), document)
    raise ImportProblem(
        'The file is neither a Flowgate export {"name", "graph"} nor a flow graph '
        '{"format_version", "nodes", "edges"}.'
    )


# --- the page ---------------------------------------------------------------------------------------


def register() -> None:
    shell_page(PATH, "Flows")(flows_list_body)


async def flows_list_body(session: Session) -> None:
    page_heading(
        "Flows",
        "Chat flows drawn as node graphs. Open one to edit its draft, publish numbered versions and "
        "preview them before a campaign sends them.",
    )
    page = FlowsPage(session)
    page.build()
    await page.load_first_page(page.new_generation())


@dataclass
class FlowsPage:
    """The page's state: what is loaded, the search, and the containers rows are drawn into."""

    session: Session
    query: str = ""
    flows: list[FlowSummary] = field(default_factory=list)
    next_cursor: str | None = None
    generation: int = 0
    """Bumped by every new search: an answer to an older one is dropped instead of drawn."""
    loading_more: bool = False
    times: list[tuple[ui.label, datetime]] = field(default_factory=list)
    """The "last edited" labels and their moments, so the timer can keep "5 min ago" true."""
    body: ui.column = field(init=False)

    @property
    def can_write(self) -> bool:
        return self.session.allows("marketer")

    def build(self) -> None:
        with ui.row().classes("w-full items-center gap-3"):
            search = (
                ui.input(placeholder="Search by name", on_change=lambda e: self.search(e.value))
                .props("outlined dense clearable")
                .classes("w-72 max-sm:w-full bg-white")
                .mark("flow-search")
            )
            with search.add_slot("prepend"):
                ui.icon("search", size="1.25rem").classes("text-slate-400")
            ui.space()
            if self.can_write:
                ui.button("Import JSON", icon="upload_file", on_click=self.open_import_dialog).props(
                    "outline no-caps color=grey-8"
                ).classes("bg-white").mark("import-flow")
                self._new_flow_button()
        self.body = ui.column().classes("w-full gap-3")
        ui.timer(60.0, self.refresh_times)  # "5 min ago" should not stay 5 min ago on an open tab

    def _new_flow_button(self) -> ui.button:
        return (
            ui.button("New flow", icon="add", on_click=self.open_new_flow_dialog)
            .props("unelevated no-caps")
            .mark("new-flow")
        )

    def new_generation(self) -> int:
        self.generation += 1
        return self.generation

    # --- loading ----------------------------------------------------------------------------------

    async def search(self, value: str | None) -> None:
        """Reload the list for the typed text once typing pauses (the newest text wins)."""
        self.query = (value or "").strip()
        generation = self.new_generation()
        await asyncio.sleep(SEARCH_DELAY_S)
        if generation == self.generation:
            await self.load_first_page(generation)

    async def load_first_page(self, generation: int) -> None:
        try:
            page = await api.list_flows(self.session.token, name=self.query or None, limit=PAGE_SIZE)
        except (ApiError, BackendUnreachable) as exc:
            if generation == self.generation:
                self._show_load_failure(exc)
            return
        if generation != self.generation:
            return
        self.flows = list(page["items"])
        self.next_cursor = page["next_cursor"]
        self.render()

    async def load_more(self) -> None:
        """Append the next page; dropped if a search started meanwhile (it redraws the list anyway)."""
        if self.loading_more:
            return  # a second click on the same cursor would draw its page twice
        generation = self.generation
        self.loading_more = True
        try:
            page = await api.list_flows(
                self.session.token, name=self.query or None, cursor=self.next_cursor, limit=PAGE_SIZE
            )
        except (ApiError, BackendUnreachable) as exc:
            self.failed(exc, "More flows could not be loaded")
            return
        finally:
            self.loading_more = False
        if generation != self.generation:
            return
        self.flows.extend(page["items"])
        self.next_cursor = page["next_cursor"]
        self.render()

    async def reload(self) -> None:
        await self.load_first_page(self.new_generation())

    def _show_load_failure(self, exc: ApiError | BackendUnreachable) -> None:
        if isinstance(exc, ApiError) and exc.status == 401:
            self._to_login()
            return
        if isinstance(exc, BackendUnreachable):
            text = f"Flowgate's API at {exc.url} is not answering; the flows could not be loaded."
        else:
            text = f"The flows could not be loaded: {exc.detail}"
        self.body.clear()
        self.times = []
        with (
            self.body,
            ui.card().classes("w-full p-6 shadow-sm rounded-xl"),
            ui.row().classes("w-full items-center gap-3 no-wrap"),
        ):
            ui.icon("cloud_off" if isinstance(exc, BackendUnreachable) else "error_outline").classes(
                "text-amber-600 text-2xl"
            )
            ui.label(text).classes("text-slate-700 flex-1").mark("inline-problem")
            ui.button("Retry", icon="refresh", on_click=self.reload).props("flat no-caps").mark("retry-list")

    # --- drawing ----------------------------------------------------------------------------------

    def render(self) -> None:
        """Redraw the list from ``self.flows`` (cheap at page sizes of 50; keeps one code path)."""
        self.body.clear()
        self.times = []
        with self.body:
            if not self.flows:
                self._render_empty()
                return
            with ui.card().classes("w-full p-0 gap-0 shadow-sm rounded-xl overflow-hidden").mark("flow-list"):
                self._header_row()
                with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                    for flow in self.flows:
                        self._row(flow)
            with ui.row().classes("w-full items-center gap-3 px-1"):
                ui.label(self._count_text()).classes("text-sm text-slate-500").mark("flow-count")
                ui.space()
                if self.next_cursor:
                    ui.button("Load more", icon="expand_more", on_click=self.load_more).props(
                        "flat no-caps"
                    ).mark("load-more")

    def _count_text(self) -> str:
        """How many rows are shown, and honestly in which order (the API's, by creation)."""
        shown = plural(len(self.flows), "flow")
        text = (
            f"{shown} matching “{self.query}”" if self.query else f"{shown}, in the order they were created"
        )
        return text + ("; more to load" if self.next_cursor else "")

    def _render_empty(self) -> None:
        with (
            ui.card()
            .classes(
                "w-full p-10 items-center gap-2 shadow-none border border-dashed border-slate-300 "
                "rounded-xl bg-white"
            )
            .mark("empty-state")
        ):
            if self.query:
                ui.icon("search_off", size="2.5rem").classes("text-slate-400")
                ui.label("No flows match").classes("text-lg font-medium text-slate-800")
                ui.label(f"No flow name contains “{self.query}”.").classes(
                    "text-sm text-slate-500 text-center max-w-md"
                ).mark("no-match")
                return
            ui.icon("account_tree", size="2.5rem").classes("text-slate-400")
            ui.label("No flows yet").classes("text-lg font-medium text-slate-800")
            if not self.can_write:
                ui.label(
                    "Marketers and admins of this workspace create flows; they will be listed here."
                ).classes("text-sm text-slate-500 text-center max-w-md")
                return
            ui.label(
                "Start from a blank canvas or one of the example flows, or import a flow exported as JSON."
            ).classes("text-sm text-slate-500 text-center max-w-md")
            self._new_flow_button().classes("mt-2")

    @staticmethod
    def _header_row() -> None:
        with ui.row().classes(
            "w-full items-center no-wrap gap-4 px-5 py-2 bg-slate-50 border-b border-slate-200 "
            "text-xs font-medium uppercase tracking-wide text-slate-500"
        ):
            ui.label("Name").classes("flex-1 min-w-0")
            ui.label("Status").classes(STATUS_COLUMN)
            ui.label("Trigger").classes("w-44 max-md:hidden")
            ui.label("Last edited").classes("w-28 max-sm:hidden")
            ui.element("div").classes("w-8")

    def _row(self, flow: FlowSummary) -> None:
        url = f"/flows/{flow['id']}"
        with (
            ui.row()
            .classes("w-full items-center no-wrap gap-4 px-5 py-3 hover:bg-slate-50")
            .mark("flow-row", f"flow-{flow['id']}")
        ):
            with ui.row().classes("flex-1 min-w-0 items-center no-wrap gap-3"):
                ui.icon("account_tree", size="1.25rem").classes("text-indigo-400 shrink-0 max-sm:hidden")
                link = ui.link(flow["name"], url).classes(
                    "block min-w-0 truncate font-medium text-slate-900 no-underline hover:text-primary"
                )
                link.mark("open-flow-link")
                if len(flow["name"]) > LONG_NAME:
                    link.tooltip(flow["name"])  # the row shows it cut short
            with ui.element("div").classes(STATUS_COLUMN):
                ui.label(status_text(flow)).classes(
                    "inline-block text-xs font-medium px-2 py-0.5 rounded-full whitespace-nowrap "
                    + STATUS_STYLE.get(flow["status"], STATUS_STYLE["draft"])
                ).mark("flow-status")
            with ui.row().classes("w-44 items-center no-wrap gap-1.5 text-sm text-slate-600 max-md:hidden"):
                ui.icon(TRIGGER_ICON.get(flow["trigger"], "bolt"), size="1.1rem").classes("text-slate-400")
                ui.label(trigger_text(flow["trigger"])).mark("flow-trigger")
            edited = parse_timestamp(flow["updated_at"])
            label = ui.label(relative_time(edited, datetime.now(UTC))).classes(
                "w-28 text-sm text-slate-600 whitespace-nowrap max-sm:hidden"
            )
            label.mark("flow-edited").tooltip(f"Last edited {absolute_time(edited)}")
            self.times.append((label, edited))
            self._actions_menu(flow, url)

    def _actions_menu(self, flow: FlowSummary, url: str) -> None:
        with (
            ui.button(icon="more_vert")
            .props("flat round dense color=grey-7")
            .classes("w-8")
            .props('aria-label="Actions"')
            .mark("flow-actions"),
            ui.menu().props('anchor="bottom right" self="top right"'),
        ):
            _menu_item("Open", "edit", lambda: ui.navigate.to(url)).mark("open-flow")
            if self.can_write:
                _menu_item("Duplicate", "content_copy", lambda: self.duplicate(flow)).mark("duplicate-flow")
            _menu_item("Export JSON", "download", lambda: self.export(flow)).mark("export-flow")
            if self.can_write:
                ui.separator()
                _menu_item("Delete", "delete", lambda: self.confirm_delete(flow), danger=True).mark(
                    "delete-flow"
                )

    def refresh_times(self) -> None:
        now = datetime.now(UTC)
        for label, moment in self.times:
            label.text = relative_time(moment, now)

    # --- failures ---------------------------------------------------------------------------------

    def _to_login(self) -> None:
        """The session ended (expired or revoked): like every page, go and sign in again."""
        forget()
        ui.navigate.to(login_url(PATH))

    def failed(self, exc: ApiError | BackendUnreachable, what: str) -> None:
        """Tell the person why an action did not happen; a dead session goes to the login instead."""
        if isinstance(exc, BackendUnreachable):
            ui.notify(f"{what}: Flowgate's API at {exc.url} is not answering.", type="negative")
        elif exc.status == 401:
            self._to_login()
        else:
            ui.notify(f"{what}: {exc.detail}", type="negative")

    # --- actions ----------------------------------------------------------------------------------

    async def duplicate(self, flow: FlowSummary) -> None:
        """A copy of the current draft (not of a published version) under ``<name> (copy)``."""
        try:
            source = await api.get_flow(self.session.token, flow["id"])
            copy = await api.create_flow(self.session.token, copy_name(source["name"]), source["graph"])
        except (ApiError, BackendUnreachable) as exc:
            self.failed(exc, "Not duplicated")
            return
        ui.notify(f"Duplicated as “{copy['name']}”.", type="positive")
        await self.reload()

    async def export(self, flow: FlowSummary) -> None:
        """Download the draft as ``<slug>.flow.json``, the same shape Import JSON reads."""
        try:
            full = await api.get_flow(self.session.token, flow["id"])
        except (ApiError, BackendUnreachable) as exc:
            self.failed(exc, "Not exported")
            return
        ui.download.content(
            export_document(full["name"], full["graph"]), export_filename(full["name"]), "application/json"
        )

    async def confirm_delete(self, flow: FlowSummary) -> None:
        if await _delete_dialog(flow):
            await self.delete(flow)

    async def delete(self, flow: FlowSummary) -> None:
        try:
            await api.delete_flow(self.session.token, flow["id"])
        except ApiError as exc:
            if exc.status == 409 and await refused_in_use(
                self.session.token, "this flow", "flow", flow_id=flow["id"]
            ):
                return
            if exc.status != 404:  # 404: someone else deleted it first; the outcome is the same
                self.failed(exc, "Not deleted")
                return
        except BackendUnreachable as exc:
            self.failed(exc, "Not deleted")
            return
        ui.notify(f"Deleted “{flow['name']}”.", type="positive")
        self.flows = [item for item in self.flows if item["id"] != flow["id"]]
        if self.flows or self.next_cursor:
            self.render()
        else:
            await self.reload()  # the last one shown: ask whether anything is left at all

    def open_new_flow_dialog(self) -> None:
        NewFlowDialog(self.session).open()

    def open_import_dialog(self) -> None:
        ImportDialog(self.session).open()


def _menu_item(text: str, icon: str, on_click: Callable[[], Any], *, danger: bool = False) -> ui.menu_item:
    colour = "text-red-700" if danger else "text-slate-700"
    with ui.menu_item(on_click=on_click).classes(f"{colour} min-h-0 py-2") as item:
        with ui.item_section().props("avatar").classes("min-w-0 pr-3"):
            ui.icon(icon, size="1.15rem")
        ui.item_section(text)
    return item


def _dialog_card() -> ui.card:
    return ui.card().classes("w-[34rem] max-w-full p-6 gap-4 rounded-xl")


async def _delete_dialog(flow: FlowSummary) -> bool:
    """Ask before deleting, naming the flow and what goes with it; True when confirmed."""
    versions = flow["latest_version"] or 0
    if versions:
        consequence = (
            f"Its draft and its {plural(versions, 'published version')} are deleted too. "
            "This cannot be undone."
        )
    else:
        consequence = "It was never published; its draft is deleted. This cannot be undone."
    with transient_dialog() as dialog, _dialog_card().mark("delete-dialog"):
        ui.label(f"Delete “{flow['name']}”?").classes("text-lg font-semibold text-slate-900 break-words")
        ui.label(consequence).classes("text-sm text-slate-600").mark("delete-consequence")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit(False)).props(
                "flat no-caps color=grey-8"
            ).mark("cancel-delete")
            ui.button("Delete flow", icon="delete", on_click=lambda: dialog.submit(True)).props(
                "unelevated no-caps color=negative"
            ).mark("confirm-delete")
    return bool(await dialog)


class NewFlowDialog:
    """Name the flow, pick what it starts from, create it and open it in the editor."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.options = start_options()
        self.prefilled = ""
        """The example title put in the name field, replaced while the person has not typed their own."""
        with transient_dialog() as self.dialog, _dialog_card().mark("new-flow-dialog"):
            ui.label("New flow").classes("text-lg font-semibold text-slate-900")
            self.name = (
                ui.input("Name", on_change=self._clear_errors)
                .props("outlined autofocus counter maxlength=200")
                .classes("w-full")
                .mark("new-flow-name")
            )
            self.name.on("keydown.enter", self.create)
            ui.label("Start from").classes("text-sm font-medium text-slate-700")
            self.start = (
                ui.radio(self.options, value=BLANK, on_change=self._prefill_name)
                .props("dense")
                .classes("text-sm text-slate-700 gap-1")
                .mark("new-flow-start")
            )
            self.error = ui.label("").classes("text-sm text-red-700").mark("new-flow-error")
            self.error.visible = False
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps color=grey-8")
                self.submit = (
                    ui.button("Create", icon="add", on_click=self.create)
                    .props("unelevated no-caps")
                    .mark("create-flow")
                )

    def open(self) -> None:
        self.dialog.open()

    def _clear_errors(self) -> None:
        self.name.error = None
        self.error.visible = False

    def _prefill_name(self) -> None:
        current = (self.name.value or "").strip()
        if current and current != self.prefilled:
            return  # the person's own name stays
        self.prefilled = "" if self.start.value == BLANK else example_title(self.start.value)
        self.name.value = self.prefilled

    async def create(self) -> None:
        name = (self.name.value or "").strip()
        if not name:
            self.name.error = "Enter a name for the flow."
            return
        graph = None if self.start.value == BLANK else example_graph(self.start.value)
        self.submit.disable()
        try:
            created = await api.create_flow(self.session.token, name, graph)
        except ApiError as exc:
            self._refused(exc)
            return
        except BackendUnreachable as exc:
            self._show_error(f"Not created: Flowgate's API at {exc.url} is not answering.")
            return
        finally:
            self.submit.enable()
        ui.notify(f"Created “{created['name']}”.", type="positive")
        ui.navigate.to(f"/flows/{created['id']}")

    def _refused(self, exc: ApiError) -> None:
        if exc.status == 401:
            forget()
            ui.navigate.to(login_url(PATH))
        elif "name" in exc.field_errors:
            self.name.error = exc.field_errors["name"]
        else:
            self._show_error(f"Not created: {exc.detail}")

    def _show_error(self, text: str) -> None:
        self.error.text = text
        self.error.visible = True


class ImportDialog:
    """Upload a ``.json`` flow; the new flow opens in the editor, or the reason it was refused shows."""

    def __init__(self, session: Session) -> None:
        self.session = session
        with transient_dialog() as self.dialog, _dialog_card().mark("import-dialog"):
            ui.label("Import a flow").classes("text-lg font-semibold text-slate-900")
            ui.label(
                "Pick a .json file exported from Flowgate, or a bare flow graph (format_version, nodes "
                "and edges; the flow is then named after the file). Up to 1 MiB."
            ).classes("text-sm text-slate-600")
            self.upload = (
                ui.upload(
                    auto_upload=True,
                    max_file_size=MAX_IMPORT_BYTES,
                    on_upload=self.received,
                    on_rejected=self.rejected,
                    label="Choose or drop a .json file",
                )
                .props('accept=".json,application/json" flat bordered color=grey-1 text-color=grey-9')
                .classes("w-full")
                .mark("import-upload")
            )
            self.error = ui.label("").classes("text-sm text-red-700 break-words").mark("import-error")
            self.error.visible = False
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps color=grey-8")

    def open(self) -> None:
        self.dialog.open()

    def rejected(self) -> None:
        self._show_error("That file was not accepted: pick a single .json file of at most 1 MiB.")

    async def received(self, event: events.UploadEventArguments) -> None:
        self.error.visible = False
        try:
            flow = parse_import(event.file.name, await event.file.read())
        except ImportProblem as exc:
            self._show_error(str(exc))
            return
        try:
            created = await api.create_flow(self.session.token, flow.name, flow.graph)
        except ApiError as exc:
            if exc.status == 401:
                forget()
                ui.navigate.to(login_url(PATH))
                return
            self._show_error(f"The flow was not imported: {exc.detail}")
            return
        except BackendUnreachable as exc:
            self._show_error(f"Not imported: Flowgate's API at {exc.url} is not answering.")
            return
        ui.notify(f"Imported “{created['name']}”.", type="positive")
        ui.navigate.to(f"/flows/{created['id']}")

    def _show_error(self, text: str) -> None:
        self.error.text = text
        self.error.visible = True
        self.upload.reset()  # so the same file, fixed, can be picked again
