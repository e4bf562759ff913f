"""``/opt-outs``: the unsubscription list, where an admin finds, adds, imports, exports and revokes
opt-outs (PRODUCT.md 4; seeds 000 and 004).

Filters are the API's own (media type, category, source, scope or sender, active, an exact address), so
the list is exactly what ``GET /api/v1/optouts`` answers, in its order (oldest first) with its cursor for
more, and the export downloads the same filters as CSV. Each address links to its consent history.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable, SenderRef, api
from ui.clients import consent
from ui.clients.consent import CategoryInfo, ImportInfo, OptOutInfo
from ui.components.optout_actions import revoke_button
from ui.components.optout_form import AddOptOutDialog
from ui.components.optout_import import ImportDialog
from ui.components.optout_parts import field_message, section_tabs
from ui.components.optout_rules import (
    ACTIVE_FILTER,
    CHANNELS,
    SOURCES,
    STATUS_STYLE,
    STATUS_TEXT,
    WORKSPACE,
    category_text,
    channel_label,
    history_path,
    list_params,
    scope_text,
    source_label,
    status_of,
    validity_text,
)
from ui.components.page_states import action_failed, empty_card, problem_card
from ui.components.paged_list import PAGE_SIZE, ROW, PagedList, filter_select, rows_card, search_box
from ui.components.times import plural, relative_now
from ui.layout import page_heading, shell_page
from ui.session import Session

PATH = "/opt-outs"
COLUMNS = (
    ("Address", "flex-1 min-w-0"),
    ("Category and scope", "w-48 max-md:hidden"),
    ("Source", "w-40 max-lg:hidden"),
    ("Valid", "w-56 max-sm:w-28"),
    ("Created", "w-24 max-sm:hidden"),
    ("", "w-36 max-sm:w-10"),
)
SEARCH_DELAY_S = 0.4
"""Typing an address pauses this long before the list is asked (one request per pause, not per key)."""
DESCRIPTION = (
    "Everyone who must not receive marketing: on which channel, for which category, until when, and why."
)


def register() -> None:
    shell_page(PATH, "Opt-outs", wide=True)(optouts_body)


async def optouts_body(session: Session) -> None:
    page_heading("Opt-outs", DESCRIPTION)
    section_tabs(PATH)
    page = OptOutsPage(session, ui.column().classes("w-full gap-4"))
    await page.start()


@dataclass
class OptOutsPage:
    session: Session
    root: ui.column
    settings: dict[str, Any] = field(default_factory=dict)
    categories: list[CategoryInfo] = field(default_factory=list)
    senders: list[SenderRef] = field(default_factory=list)
    listing: PagedList = field(init=False)

    def __post_init__(self) -> None:
        self.listing = PagedList(
            self._fetch, drawn=self.render, failed=self._failed, search_delay_s=SEARCH_DELAY_S
        )

    async def start(self) -> None:
        """Load what the filters and the form pick from, then the first page; a failure offers Retry."""
        self.root.clear()
        token = self.session.token
        try:
            self.settings, self.categories, self.senders = await asyncio.gather(
                api.get_settings(token), consent.list_categories(token), api.list_senders(token)
            )
        except (ApiError, BackendUnreachable) as exc:
            with self.root:
                problem_card(exc, "the unsubscription list", self.start, here=PATH)
            return
        with self.root:
            self._toolbar()
            self.body = ui.column().classes("w-full gap-3")
        await self.listing.reload()

    # --- toolbar ------------------------------------------------------------------------------------------

    def _toolbar(self) -> None:
        with ui.row().classes("w-full items-start gap-3"):
            listing = self.listing
            self.search = search_box(
                "Find an address",
                lambda value: listing.search("address", value),
                marker="address-search",
                width="w-60",
            ).tooltip("A whole phone number or email address")
            self._filter("channel", "Media type", CHANNELS, "filter-channel")
            self._filter(
                "category_id",
                "Category",
                {category["id"]: category["name"] for category in self.categories},
                "filter-category",
            )
            self._filter("source", "Source", SOURCES, "filter-source")
            scopes: dict[Any, str] = {WORKSPACE: "Whole workspace"} | {
                sender["id"]: f"{sender['name']} ({channel_label(sender['channel'])})"
                for sender in self.senders
            }
            self._filter("scope", "Scope or sender", scopes, "filter-scope")
            self._filter("active", "Status", ACTIVE_FILTER, "filter-active")
        with ui.row().classes("w-full items-center gap-2"):
            if self.session.allows("marketer"):
                ui.button("Add opt-out", icon="add", on_click=self.open_add).props("unelevated no-caps").mark(
                    "add-optout"
                )
                ui.button("Import CSV", icon="upload_file", on_click=self.open_import).props(
                    "outline no-caps"
                ).mark("import-optouts")
            ui.button("Export CSV", icon="download", on_click=self.export).props("outline no-caps").mark(
                "export-optouts"
            ).tooltip("The entries the filters select, as a CSV file")
            ui.space()
            self.count = ui.label("").classes("text-sm text-slate-500").mark("optout-count")

    def _filter(self, key: str, label: str, options: dict[Any, str], marker: str) -> None:
        filter_select(options, label, lambda value: self.listing.set_filter(key, value), marker=marker)

    # --- loading ------------------------------------------------------------------------------------------

    async def _fetch(self, filters: dict[str, Any], cursor: str | None) -> Any:
        page = await consent.list_optouts(
            self.session.token, list_params(filters), cursor=cursor, limit=PAGE_SIZE
        )
        self.search.error = None
        return page

    def _failed(self, exc: ApiError | BackendUnreachable, more: bool) -> None:
        """A bad address in the search box is the box's error, not the page's."""
        if isinstance(exc, ApiError) and exc.status == 400 and "address" in exc.field_errors:
            self.search.error = field_message(exc, "address")
            return
        if more:
            action_failed(exc, "More opt-outs could not be loaded", here=PATH)
            return
        self.body.clear()
        with self.body:
            problem_card(exc, "the unsubscription list", self.listing.reload, here=PATH)

    # --- actions ------------------------------------------------------------------------------------------

    async def open_add(self) -> None:
        dialog = AddOptOutDialog(
            self.session,
            settings=self.settings,
            categories=self.categories,
            senders=self.senders,
            on_saved=lambda _entry: self.listing.reload(),
            channel=self.listing.filters.get("channel") or "whatsapp",
        )
        await dialog.open()

    def open_import(self) -> None:
        ImportDialog(self.session, self.senders, self._imported).open()

    async def _imported(self, job: ImportInfo) -> None:
        if job["status"] == "completed":
            await self.listing.reload()

    async def export(self) -> None:
        try:
            data = await consent.export_optouts(self.session.token, list_params(self.listing.active_filters))
        except (ApiError, BackendUnreachable) as exc:
            action_failed(exc, "Not exported", here=PATH)
            return
        ui.download(data, f"optouts-{datetime.now(UTC):%Y%m%d}.csv", "text/csv")

    # --- drawing ------------------------------------------------------------------------------------------

    def render(self) -> None:
        self.body.clear()
        entries: list[OptOutInfo] = self.listing.items
        more = "; more to load" if self.listing.next_cursor else ""
        self.count.set_text(plural(len(entries), "opt-out") + more if entries else "")
        with self.body:
            if not entries:
                self._empty()
                return
            now = datetime.now(UTC)
            with rows_card("optout-list", COLUMNS):
                for entry in entries:
                    self._row(entry, now)
            if self.listing.next_cursor:
                with ui.row().classes("w-full justify-center"):
                    ui.button("Load more", icon="expand_more", on_click=self.listing.load_more).props(
                        "flat no-caps"
                    ).mark("load-more")

    def _empty(self) -> None:
        if self.listing.filtered:
            empty_card("search_off", "No opt-outs match", "Clear a filter or the address to see more.")
            return
        empty_card(
            "unsubscribe",
            "No opt-outs yet",
            "Opt-outs arrive when someone replies STOP, uses the web form or an unsubscribe link, or when "
            "they are added here by hand or imported from a CSV file.",
        )

    def _row(self, entry: OptOutInfo, now: datetime) -> None:
        status = status_of(entry)
        with ui.row().classes(ROW).mark("optout-row", f"optout-{entry['id']}"):
            with ui.column().classes("flex-1 min-w-0 gap-0.5 overflow-hidden"):
                with ui.row().classes("items-center gap-2 no-wrap min-w-0"):
                    ui.link(entry["address"], history_path(entry["channel"], entry["address"])).classes(
                        "font-mono text-sm font-medium text-slate-900 no-underline hover:text-primary truncate"
                    ).mark("address-link").tooltip("Its consent history")
                    ui.label(channel_label(entry["channel"])).classes(
                        "text-xs px-1.5 py-0.5 rounded bg-slate-100 text-slate-700 shrink-0"
                    ).mark("optout-channel-chip")
                remarks = entry["remarks"] or entry["revoke_reason"]
                if remarks:
                    ui.label(remarks).classes("text-xs text-slate-500 truncate max-w-full").mark(
                        "optout-remarks"
                    ).tooltip(remarks)
            with ui.column().classes("w-48 gap-0 max-md:hidden overflow-hidden"):
                ui.label(category_text(entry["category_name"])).classes(
                    "text-sm text-slate-800 truncate"
                ).mark("optout-category")
                ui.label(scope_text(entry)).classes("text-xs text-slate-500 truncate").mark("optout-scope")
            with ui.column().classes("w-40 gap-0 max-lg:hidden overflow-hidden"):
                ui.label(source_label(entry["source"])).classes("text-sm text-slate-800").mark(
                    "optout-source"
                )
                ui.label(entry["created_by"]).classes("text-xs text-slate-500 truncate").tooltip(
                    entry["created_by"]
                )
            with ui.column().classes("w-56 max-sm:w-28 gap-0.5 overflow-hidden"):
                ui.label(STATUS_TEXT[status]).classes(
                    "self-start text-xs font-medium px-2 py-0.5 rounded-full " + STATUS_STYLE[status]
                ).mark("optout-status")
                ui.label(validity_text(entry, now)).classes("text-xs text-slate-600").mark("optout-validity")
            relative, exact = relative_now(entry["created_at"])
            ui.label(relative).classes("w-24 text-sm text-slate-600 max-sm:hidden").tooltip(exact).mark(
                "optout-created"
            )
            with ui.row().classes("w-36 max-sm:w-10 justify-end items-center gap-1 no-wrap"):
                ui.button(
                    icon="history",
                    on_click=lambda e=entry: ui.navigate.to(history_path(e["channel"], e["address"])),
                ).props("flat round dense color=grey-7").classes("max-sm:hidden").tooltip("History").mark(
                    "optout-history"
                )
                revoke_button(self.session, entry, lambda _revoked: self.listing.reload())
