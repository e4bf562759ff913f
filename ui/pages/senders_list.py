"""``/senders``: the numbers, accounts and addresses the workspace sends from, for its admins.

The list is ``GET /api/v1/senders`` as it answers: its order (oldest first), its filters (name contains,
channel, provider) and its cursor for more. Each row says what a person needs to tell senders apart
(name, channel, provider, address) and the two settings that decide what a STOP does and how fast it sends
(the opt-out scope and the rate limit). Only admins manage senders; others see why not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import senders as senders_api
from ui.clients.senders import SenderInfo
from ui.components.page_states import action_failed, empty_card, problem_card
from ui.components.paged_list import (
    PAGE_SIZE,
    ROW,
    ROW_LINK,
    PagedList,
    count_and_more,
    filter_select,
    rows_card,
    search_box,
)
from ui.components.sender_parts import admins_only, confirm_delete
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
COLUMNS = (
    ("Sender", "flex-1 min-w-0"),
    ("Channel", "w-28"),
    ("Provider", "w-40 max-md:hidden"),
    ("STOP applies to", "w-36 max-lg:hidden"),
    ("Rate limit", "w-20 text-right max-sm:hidden"),
    ("", "w-8"),
)

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
    await page.listing.reload()


@dataclass
class SendersPage:
    session: Session
    listing: PagedList = field(init=False)
    body: ui.column = field(init=False)

    def __post_init__(self) -> None:
        self.listing = PagedList(self._fetch, drawn=self.render, failed=self._failed)

    def build(self) -> None:
        listing = self.listing
        with ui.row().classes("w-full items-center gap-3"):
            search_box("Search by name", lambda value: listing.search("name", value), marker="sender-search")
            filter_select(
                CHANNELS,
                "Channel",
                lambda v: listing.set_filter("channel", v),
                marker="filter-channel",
                width="w-44",
            )
            filter_select(
                PROVIDERS,
                "Provider",
                lambda v: listing.set_filter("provider", v),
                marker="filter-provider",
                width="w-44",
            )
            ui.space()
            ui.button("New sender", icon="add", on_click=lambda: ui.navigate.to("/senders/new")).props(
                "unelevated no-caps"
            ).mark("new-sender")
        self.body = ui.column().classes("w-full gap-3")

    async def _fetch(self, filters: dict[str, Any], cursor: str | None) -> Any:
        return await senders_api.list_senders(self.session.token, limit=PAGE_SIZE, cursor=cursor, **filters)

    def _failed(self, exc: ApiError | BackendUnreachable, more: bool) -> None:
        if more:
            action_failed(exc, "More senders could not be loaded", here=PATH)
            return
        self.body.clear()
        with self.body:
            problem_card(exc, "the senders", self.listing.reload, here=PATH)

    # --- drawing ----------------------------------------------------------------------------------

    def render(self) -> None:
        self.body.clear()
        senders: list[SenderInfo] = self.listing.items
        with self.body:
            if not senders:
                self._empty()
                return
            with rows_card("sender-list", COLUMNS):
                for sender in senders:
                    self._row(sender)
            count_and_more(plural(len(senders), "sender"), self.listing, marker="sender-count")

    def _empty(self) -> None:
        if self.listing.filtered:
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
        with ui.row().classes(ROW).mark("sender-row", f"sender-{sender['id']}"):
            with ui.column().classes("flex-1 min-w-0 gap-0.5"):
                ui.link(sender["name"], link).classes(ROW_LINK).mark("sender-link")
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
                    on_click=lambda s=sender: confirm_delete(self.session, s, self.listing.reload, PATH),
                ).classes("text-red-700").mark("menu-delete")
