"""``/senders``: the numbers, accounts and addresses the workspace sends from, for its admins.

The list is ``GET /api/v1/senders`` as it answers: its order (oldest first), its filters (name contains,
channel, provider) and its cursor for more. Each row says what a person needs to tell senders apart
(name, channel, provider, address) and the two settings that decide what a STOP does and how fast it sends
(the opt-out scope and the rate limit). Only admins manage senders; others see why not.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import senders as senders_api
from ui.clients.senders import SenderInfo
from ui.components.sender_parts import admins_only, confirm_delete, empty_card, handle_failure
from ui.components.sender_rules import (
    CHANNEL_ICONS,
    CHANNELS,
    PROVIDERS,
    rate_label,
    scope_label,
)
from ui.components.times import plural
from ui.layout import page_heading, shell_page
from ui.session import Session

PATH = "/senders"
PAGE_SIZE = 50
SEARCH_DELAY_S = 0.3
"""Typing pauses this long before the list is asked for: one request per word, not per keystroke."""

PURPOSE = (
    "The WhatsApp and SMS numbers, Viber accounts and email addresses Flowgate sends from, with their "
    "provider settings and opt-out keywords."
)


def register() -> None:
    shell_page(PATH, "Senders")(senders_body)


async def senders_body(session: Session) -> None:
    page_heading("Senders", PURPOSE)
    if not session.allows("admin"):
        admins_only()
        return
    page = SendersPage(session)
    page.build()
    await page.reload()


@dataclass
class SendersPage:
    session: Session
    filters: dict[str, Any] = field(default_factory=dict)
    senders: list[SenderInfo] = field(default_factory=list)
    next_cursor: str | None = None
    generation: int = 0
    body: ui.column = field(init=False)

    def build(self) -> None:
        with ui.row().classes("w-full items-center gap-3"):
            search = (
                ui.input(placeholder="Search by name", on_change=lambda e: self.search(e.value))
                .props("outlined dense clearable")
                .classes("w-56 max-sm:w-full bg-white")
                .mark("sender-search")
            )
            with search.add_slot("prepend"):
                ui.icon("search", size="1.25rem").classes("text-slate-400")
            self._filter("channel", "Channel", CHANNELS, "filter-channel")
            self._filter("provider", "Provider", PROVIDERS, "filter-provider")
            ui.space()
            ui.button("New sender", icon="add", on_click=lambda: ui.navigate.to("/senders/new")).props(
                "unelevated no-caps"
            ).mark("new-sender")
        self.body = ui.column().classes("w-full gap-3")

    def _filter(self, key: str, label: str, options: dict[str, str], marker: str) -> None:
        async def changed(event: Any) -> None:
            self.filters[key] = event.value or None
            await self.reload()

        ui.select(options, label=label, clearable=True, on_change=changed).props(
            "outlined dense options-dense"
        ).classes("w-44 bg-white").mark(marker)

    async def search(self, value: str | None) -> None:
        self.filters["name"] = (value or "").strip() or None
        self.generation += 1
        generation = self.generation
        await asyncio.sleep(SEARCH_DELAY_S)
        if generation == self.generation:
            await self.reload()

    async def reload(self) -> None:
        self.generation += 1
        generation = self.generation
        try:
            page = await senders_api.list_senders(self.session.token, limit=PAGE_SIZE, **self.filters)
        except (ApiError, BackendUnreachable) as exc:
            if generation == self.generation:
                self.body.clear()
                with self.body:
                    handle_failure(exc, PATH, "the senders", self.reload)
            return
        if generation != self.generation:
            return
        self.senders = list(page["items"])
        self.next_cursor = page["next_cursor"]
        self.render()

    async def load_more(self) -> None:
        generation = self.generation
        try:
            page = await senders_api.list_senders(
                self.session.token, limit=PAGE_SIZE, cursor=self.next_cursor, **self.filters
            )
        except (ApiError, BackendUnreachable) as exc:
            with self.body:
                handle_failure(exc, PATH, "more senders", self.load_more)
            return
        if generation != self.generation:
            return
        self.senders.extend(page["items"])
        self.next_cursor = page["next_cursor"]
        self.render()

    # --- drawing ----------------------------------------------------------------------------------

    def render(self) -> None:
        self.body.clear()
        with self.body:
            if not self.senders:
                self._empty()
                return
            with (
                ui.card().classes("w-full p-0 gap-0 shadow-sm rounded-xl overflow-hidden").mark("sender-list")
            ):
                _header()
                with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                    for sender in self.senders:
                        self._row(sender)
            with ui.row().classes("w-full items-center px-1"):
                shown = plural(len(self.senders), "sender")
                ui.label(shown + ("; more to load" if self.next_cursor else "")).classes(
                    "text-sm text-slate-500"
                ).mark("sender-count")
                ui.space()
                if self.next_cursor:
                    ui.button("Load more", icon="expand_more", on_click=self.load_more).props(
                        "flat no-caps"
                    ).mark("load-more")

    def _empty(self) -> None:
        if any(self.filters.values()):
            empty_card("search_off", "No senders match", "Clear the search or a filter to see the others.")
            return
        card = empty_card(
            "send",
            "No senders yet",
            "A sender is a WhatsApp or SMS number, a Viber account or an email address to send from. "
            "Start with a sandbox sender to try flows and STOP without a real provider.",
        )
        with card:
            ui.button("Add a sender", icon="add", on_click=lambda: ui.navigate.to("/senders/new")).props(
                "unelevated no-caps"
            ).classes("mt-2")

    def _row(self, sender: SenderInfo) -> None:
        link = f"/senders/{sender['id']}"
        with (
            ui.row()
            .classes("w-full items-center no-wrap gap-4 px-5 py-3 hover:bg-slate-50")
            .mark("sender-row", f"sender-{sender['id']}")
        ):
            with ui.column().classes("flex-1 min-w-0 gap-0.5"):
                ui.link(sender["name"], link).classes(
                    "block truncate font-medium text-slate-900 no-underline hover:text-primary"
                ).mark("sender-link")
                ui.label(sender["address"]).classes("text-xs text-slate-500 truncate font-mono").mark(
                    "sender-address"
                )
            with ui.row().classes("w-28 items-center gap-1.5 no-wrap text-sm text-slate-700"):
                ui.icon(CHANNEL_ICONS.get(sender["channel"], "send"), size="1.1rem").classes("text-slate-400")
                ui.label(CHANNELS.get(sender["channel"], sender["channel"])).mark("sender-channel")
            provider = ui.label(PROVIDERS.get(sender["provider"], sender["provider"])).classes(
                "w-40 text-sm text-slate-700 max-md:hidden"
            )
            provider.mark("sender-provider")
            ui.label(scope_label(sender["opt_out_scope"])).classes(
                "w-36 text-sm text-slate-700 max-lg:hidden"
            ).mark("sender-scope")
            ui.label(rate_label(sender["rate_limit_per_second"])).classes(
                "w-20 text-right text-sm tabular-nums text-slate-700 max-sm:hidden"
            ).mark("sender-rate")
            with (
                ui.button(icon="more_vert")
                .props('flat round dense color=grey-7 aria-label="Actions"')
                .mark("sender-menu"),
                ui.menu().props('anchor="bottom right" self="top right"'),
            ):
                ui.menu_item("Open and edit", on_click=lambda: ui.navigate.to(link)).mark("menu-edit")
                ui.menu_item(
                    "Delete…",
                    on_click=lambda s=sender: confirm_delete(self.session, s, self.reload, PATH),
                ).classes("text-red-700").mark("menu-delete")


def _header() -> None:
    with ui.row().classes(
        "w-full items-center no-wrap gap-4 px-5 py-2 bg-slate-50 border-b border-slate-200 "
        "text-xs font-medium uppercase tracking-wide text-slate-500"
    ):
        ui.label("Sender").classes("flex-1 min-w-0")
        ui.label("Channel").classes("w-28")
        ui.label("Provider").classes("w-40 max-md:hidden")
        ui.label("STOP applies to").classes("w-36 max-lg:hidden")
        ui.label("Rate limit").classes("w-20 text-right max-sm:hidden")
        ui.element("div").classes("w-8")
