"""``/opt-outs/history?channel=&address=``: one address's consent, now and over time (PRODUCT.md 4.3).

At the top, whether marketing to the address is blocked right now and by which entries (with "Opt back
in" where the role allows); below, every consent event newest first, each with its source, who or what
made it, why, and its evidence (the keyword's message, the form's request, the import's row). The history
comes from ``GET /consent-events``, which keeps it after the contact is deleted. The page is linkable, so
the list, a contact page or a support ticket can point at one address.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from nicegui import context, ui

from ui.backend import ApiError, BackendUnreachable, api
from ui.clients import consent
from ui.clients.consent import ConsentEventInfo, OptOutInfo
from ui.components.optout_actions import revoke_button
from ui.components.optout_form import AddOptOutDialog
from ui.components.optout_parts import field_message
from ui.components.optout_rules import (
    CHANNELS,
    EVENT_STYLE,
    category_text,
    channel_label,
    event_label,
    evidence_lines,
    history_path,
    scope_text,
    short_date,
    short_moment,
    source_label,
    validity_text,
)
from ui.components.page_states import action_failed, empty_card, problem_card
from ui.components.times import parse_timestamp, plural, relative_time
from ui.layout import page_heading, shell_page
from ui.session import Session

PATH = "/opt-outs/history"


def register() -> None:
    shell_page(PATH, "Consent history")(history_body)


async def history_body(session: Session) -> None:
    query = context.client.request.query_params
    channel = query.get("channel", "")
    address = query.get("address", "").strip()
    page_heading(
        "Consent history",
        "Every opt-out and opt-in of one address: when, where it came from, who made it and why. "
        "It stays after the contact is deleted.",
    )
    ui.link("← Back to the unsubscription list", "/opt-outs").classes(
        "text-sm text-primary no-underline -mt-3"
    ).mark("back-to-list")
    page = HistoryPage(session, channel if channel in CHANNELS else "whatsapp", address)
    page.build()
    if address:
        await page.load()


class HistoryPage:
    def __init__(self, session: Session, channel: str, address: str) -> None:
        self.session = session
        self.channel = channel
        self.address = address

    def build(self) -> None:
        with (
            ui.card().classes("w-full p-4 shadow-sm rounded-xl"),
            ui.row().classes("w-full items-start gap-3"),
        ):
            self.channel_select = (
                ui.select(CHANNELS, value=self.channel, label="Media type")
                .props("outlined dense stack-label options-dense")
                .classes("w-40")
                .mark("history-channel")
            )
            self.address_input = (
                ui.input("Phone number or email", value=self.address)
                .props("outlined dense stack-label clearable")
                .classes("flex-1 min-w-[16rem]")
                .mark("history-address")
            )
            self.address_input.on("keydown.enter", self.look_up)
            ui.button("Show history", icon="history", on_click=self.look_up).props(
                "unelevated no-caps"
            ).classes("mt-0.5").mark("show-history")
        self.body = ui.column().classes("w-full gap-4")

    async def look_up(self) -> None:
        address = (self.address_input.value or "").strip()
        if not address:
            self.address_input.error = "Type the phone number or email address to look up."
            return
        self.address_input.error = None
        self.channel, self.address = self.channel_select.value, address
        ui.navigate.to(history_path(self.channel, self.address))

    async def load(self) -> None:
        token = self.session.token
        try:
            page, events = await asyncio.gather(
                consent.list_optouts(token, {"channel": self.channel, "address": self.address}, limit=200),
                consent.address_history(token, self.channel, self.address),
            )
        except (ApiError, BackendUnreachable) as exc:
            if isinstance(exc, ApiError) and exc.status == 400 and "address" in exc.field_errors:
                self.address_input.error = field_message(exc, "address")
                self.body.clear()
                return
            self.body.clear()
            with self.body:
                problem_card(exc, "the history", self.load, here=history_path(self.channel, self.address))
            return
        self.render(page["items"], events)

    # --- drawing ------------------------------------------------------------------------------------------

    def render(self, entries: list[OptOutInfo], events: list[ConsentEventInfo]) -> None:
        self.body.clear()
        now = datetime.now(UTC)
        shown = events[-1]["address"] if events else (entries[0]["address"] if entries else self.address)
        active = [entry for entry in entries if entry["active"]]
        with self.body:
            self._state(shown, active, now)
            if not events:
                empty_card(
                    "history",
                    "No consent events for this address",
                    f"{shown} has never opted out or in on {channel_label(self.channel)} in this workspace.",
                )
                return
            with (
                ui.card()
                .classes("w-full p-0 gap-0 shadow-sm rounded-xl overflow-hidden")
                .mark("history-list")
            ):
                with ui.row().classes("w-full items-center px-5 py-3 border-b border-slate-200"):
                    ui.label("History").classes("text-base font-semibold text-slate-900")
                    ui.label(f"{plural(len(events), 'event')}, newest first").classes(
                        "text-sm text-slate-500"
                    )
                with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                    for event in reversed(events):
                        _event_row(event, now)

    def _state(self, shown: str, active: list[OptOutInfo], now: datetime) -> None:
        with ui.card().classes("w-full p-5 gap-3 shadow-sm rounded-xl").mark("history-state"):
            with ui.row().classes("w-full items-center gap-3"):
                ui.label(shown).classes("font-mono text-lg font-semibold text-slate-900").mark(
                    "history-shown"
                )
                ui.label(channel_label(self.channel)).classes("text-xs px-1.5 py-0.5 rounded bg-slate-100")
                ui.space()
                if self.session.allows("marketer"):
                    ui.button("Add an opt-out", icon="add", on_click=lambda: self.open_add(shown)).props(
                        "outline no-caps"
                    ).mark("history-add")
            if not active:
                with ui.row().classes("items-center gap-2 text-emerald-700"):
                    ui.icon("check_circle")
                    ui.label(
                        f"Not opted out: marketing on {channel_label(self.channel)} may reach this address."
                    ).mark("history-verdict")
                return
            with ui.row().classes("items-center gap-2 text-rose-700"):
                ui.icon("block")
                ui.label(
                    f"Opted out: {plural(len(active), 'active entry')} block marketing on "
                    f"{channel_label(self.channel)}."
                    if len(active) > 1
                    else f"Opted out: marketing on {channel_label(self.channel)} is blocked."
                ).mark("history-verdict")
            for entry in active:
                with (
                    ui.row()
                    .classes(
                        "w-full items-center gap-3 no-wrap px-3 py-2 rounded-lg bg-rose-50 border border-rose-100"
                    )
                    .mark("history-entry")
                ):
                    ui.label(
                        f"{category_text(entry['category_name'])} · {scope_text(entry)} · "
                        f"{validity_text(entry, now)} · {source_label(entry['source'])}"
                    ).classes("text-sm text-slate-800 flex-1")
                    revoke_button(self.session, entry, lambda _revoked: self.load())

    async def open_add(self, address: str) -> None:
        token = self.session.token
        try:
            settings, categories, senders = await asyncio.gather(
                api.get_settings(token), consent.list_categories(token), api.list_senders(token)
            )
        except (ApiError, BackendUnreachable) as exc:
            action_failed(exc, "The form could not be opened", here=PATH)
            return
        dialog = AddOptOutDialog(
            self.session,
            settings=dict(settings),
            categories=categories,
            senders=senders,
            on_saved=lambda _entry: self.load(),
            channel=self.channel,
            address=address,
        )
        await dialog.open()


def _event_row(event: ConsentEventInfo, now: datetime) -> None:
    icon, style = EVENT_STYLE.get(event["kind"], ("info", "text-slate-700 bg-slate-100"))
    moment = parse_timestamp(event["at"])
    with (
        ui.row()
        .classes("w-full items-start no-wrap gap-4 px-5 py-4")
        .mark("history-event", f"event-{event['kind']}")
    ):
        with ui.element("div").classes(f"rounded-full p-2 shrink-0 {style}"):
            ui.icon(icon, size="1.25rem")
        with ui.column().classes("flex-1 min-w-0 gap-1"):
            with ui.row().classes("items-baseline gap-2"):
                ui.label(event_label(event["kind"])).classes("font-medium text-slate-900").mark("event-kind")
                ui.label(f"· {source_label(event['source'])}").classes("text-sm text-slate-700").mark(
                    "event-source"
                )
            ui.label(_scope_line(event)).classes("text-sm text-slate-600")
            details = []
            if event["actor"]:
                details.append(f"by {event['actor']}")
            if event["reason"]:
                details.append(f"“{event['reason']}”")
            if details:
                ui.label(" · ".join(details)).classes("text-sm text-slate-600 break-words").mark("event-why")
            lines = evidence_lines(event["evidence"])
            if lines:
                with (
                    ui.column()
                    .classes(
                        "gap-0 mt-1 px-3 py-2 rounded-lg bg-slate-50 border border-slate-200 font-mono text-xs "
                        "text-slate-700 max-w-full"
                    )
                    .mark("event-evidence")
                ):
                    for line in lines:
                        ui.label(line).classes("break-all")
        with ui.column().classes("items-end gap-0 shrink-0"):
            ui.label(relative_time(moment, now)).classes("text-sm text-slate-700")
            ui.label(short_moment(moment)).classes("text-xs text-slate-500").mark("event-time")


def _scope_line(event: dict[str, Any]) -> str:
    scope = (
        f"sender {event['sender_name'] or event['sender_id']}" if event["sender_id"] else "whole workspace"
    )
    parts = [category_text(event["category_name"] or None), scope]
    if event["kind"] != "opt_in":
        parts.append(
            f"until {short_date(parse_timestamp(event['valid_until']))}"
            if event["valid_until"]
            else "permanent"
        )
    return " · ".join(parts)
