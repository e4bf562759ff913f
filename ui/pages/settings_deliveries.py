"""``/settings/webhooks/{id}``: one consent webhook, its actions (send a test event, enable, delete) and
its delivery log, newest first: status, attempts, the receiver's answer and when, filtered by status.

The log refreshes itself while a delivery on its first page is pending, so a test event's outcome
appears without a reload once the worker has sent it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import workspace
from ui.clients.workspace import Delivery, Webhook
from ui.components.page_states import action_failed, empty_card, problem_card, to_login
from ui.components.settings_parts import (
    BADGE_AMBER,
    BADGE_GREEN,
    BADGE_INDIGO,
    BADGE_RED,
    CARD,
    admins_only,
    badge,
    detail_in_words,
    page_dialog,
    settings_heading,
)
from ui.components.times import absolute_time, parse_timestamp, plural, relative_time
from ui.layout import shell_page
from ui.pages.settings_webhooks import PATH, confirm_delete, enable, events_text, send_test, state_badge
from ui.session import Session

PAGE_SIZE = 50
REFRESH_S = 3.0
"""How often an open delivery log looks again while one of its deliveries is pending."""
EVENT_NAMES = {"consent.opted_out": "Opt-out", "consent.opted_in": "Opt-in", "webhook.test": "Test event"}
DELIVERY_STATUS = {"pending": "Pending", "succeeded": "Delivered", "failed": "Failed"}
DELIVERY_STYLE = {"pending": BADGE_AMBER, "succeeded": BADGE_GREEN, "failed": BADGE_RED}


def register() -> None:
    shell_page(PATH + "/{webhook_id}", "Webhook deliveries · Settings")(deliveries_body)


# --- pure helpers (tested directly) ---------------------------------------------------------------------


def until_text(moment: datetime, now: datetime) -> str:
    """A moment ahead as people say it: ``in 4 min``, ``in 2 hours``, ``in 3 days``; ``now`` once due."""
    seconds = (moment - now).total_seconds()
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"in {int(seconds // 60)} min"
    if seconds < 86400:
        return f"in {plural(int(seconds // 3600), 'hour')}"
    return f"in {plural(int(seconds // 86400), 'day')}"


def delivery_result(delivery: Delivery, now: datetime) -> str:
    """What became of a delivery, in one line: delivered when, retried when and why, or given up why."""
    error = delivery["last_error"]
    attempts = plural(delivery["attempts"], "attempt")
    if delivery["status"] == "succeeded":
        when = parse_timestamp(delivery["delivered_at"]) if delivery["delivered_at"] else None
        return f"Delivered {relative_time(when, now)}" if when else "Delivered"
    if delivery["status"] == "failed":
        return f"Gave up after {attempts}: {error}" if error else f"Gave up after {attempts}"
    if delivery["attempts"] == 0:
        return "Waiting for the worker to send it"
    next_at = delivery["next_attempt_at"]
    retry = f"; next attempt {until_text(parse_timestamp(next_at), now)}" if next_at else ""
    return f"{attempts} so far: {error or 'no answer'}{retry}"


def response_text(delivery: Delivery) -> str:
    code = delivery["last_status_code"]
    return f"HTTP {code}" if code is not None else "—"


def event_text(event_type: str) -> str:
    """One delivery's event: ``Opt-out``, ``Opt-in``, ``Test event``, or the type as the API names it."""
    return EVENT_NAMES.get(event_type, event_type)


def deliveries_text(count: int) -> str:
    return f"{count} {'delivery' if count == 1 else 'deliveries'}"


# --- the page -------------------------------------------------------------------------------------------


async def deliveries_body(session: Session, webhook_id: str) -> None:
    settings_heading(session, PATH)
    if not session.is_admin:
        admins_only("consent webhooks")
        return
    if not webhook_id.isdigit():
        empty_card("link_off", "No such webhook", "This address does not name a webhook.", "no-webhook")
        return
    page = DeliveriesPage(session, int(webhook_id))
    page.container = ui.column().classes("w-full gap-4")
    # One timer for the page's life, made here: an action that redraws the page (enable) runs in a
    # button the redraw deletes, where no element can be made.
    ui.timer(REFRESH_S, page.refresh_while_pending)
    await page.load_webhook()


@dataclass
class DeliveriesPage:
    session: Session
    webhook_id: int
    webhook: Webhook | None = None
    status: str | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    next_cursor: str | None = None
    pages_loaded: int = 0
    container: ui.column = field(init=False, repr=False)
    log: ui.column = field(init=False, repr=False)

    @property
    def path(self) -> str:
        return f"{PATH}/{self.webhook_id}"

    async def load_webhook(self) -> None:
        try:
            self.webhook = await workspace.get_webhook(self.session.token, self.webhook_id)
        except (ApiError, BackendUnreachable) as exc:
            self.container.clear()
            with self.container:
                if isinstance(exc, ApiError) and exc.status == 401:
                    to_login(self.path)
                elif isinstance(exc, ApiError) and exc.status == 404:
                    self._back_link()
                    empty_card(
                        "link_off",
                        "No such webhook",
                        "It was deleted, or belongs to another workspace.",
                        "no-webhook",
                    )
                else:
                    problem_card(exc, "the webhook", self.load_webhook)
            return
        self.build()
        await self.load()

    def _back_link(self) -> None:
        with (
            ui.link(target=PATH)
            .classes("flex items-center gap-1 text-sm text-slate-600 no-underline")
            .mark("back-to-webhooks")
        ):
            ui.icon("arrow_back", size="1rem")
            ui.label("All webhooks")

    def build(self) -> None:
        webhook = self.webhook
        assert webhook is not None
        self.container.clear()
        with self.container:
            self._back_link()
            with ui.card().classes(CARD).mark("webhook-card"):
                with ui.row().classes("w-full items-start gap-3 no-wrap max-sm:flex-wrap"):
                    with ui.column().classes("flex-1 min-w-0 gap-1"):
                        ui.label(webhook["url"]).classes("font-mono text-slate-900 break-all").mark(
                            "webhook-url"
                        )
                        details = events_text(webhook["events"])
                        if webhook["description"]:
                            details += f" · {webhook['description']}"
                        ui.label(details).classes("text-sm text-slate-500")
                        if not webhook["enabled"]:
                            ui.label(
                                f"Disabled: {webhook['disabled_reason'] or 'no reason recorded'}. It receives "
                                "nothing until it is enabled again."
                            ).classes("text-sm text-red-700").mark("webhook-disabled")
                    text, style = state_badge(webhook)
                    badge(text, style, "webhook-state")
                with ui.row().classes("w-full items-center gap-2"):
                    if webhook["enabled"]:
                        ui.button("Send test event", icon="send", on_click=self.test).props(
                            "unelevated no-caps"
                        ).mark("send-test")
                    else:
                        ui.button(
                            "Enable again",
                            icon="play_arrow",
                            on_click=lambda: enable(self.session, webhook, self.load_webhook),
                        ).props("unelevated no-caps").mark("enable-webhook")
                    ui.space()
                    ui.button(
                        "Delete webhook",
                        icon="delete",
                        on_click=lambda: confirm_delete(self.session, webhook, self._deleted),
                    ).props("flat no-caps color=negative").mark("delete-webhook")

            with ui.row().classes("w-full items-center gap-3 pt-2"):
                ui.label("Delivery log").classes("text-lg font-semibold text-slate-900")
                ui.label("newest first").classes("text-sm text-slate-500")
                ui.space()
                ui.select(DELIVERY_STATUS, label="Status", clearable=True, on_change=self._filter).props(
                    "outlined dense options-dense"
                ).classes("w-40 bg-white").mark("delivery-status-filter")
                ui.button(icon="refresh", on_click=self.load).props(
                    'flat round dense color=grey-8 aria-label="Refresh"'
                ).tooltip("Refresh").mark("refresh-deliveries")
            self.log = ui.column().classes("w-full gap-3")

    async def _deleted(self) -> None:
        ui.navigate.to(PATH)

    async def _filter(self, event: Any) -> None:
        self.status = event.value or None
        await self.load()

    async def test(self) -> None:
        if await send_test(self.session, self.webhook) is not None:  # type: ignore[arg-type]
            await self.load()

    async def load(self) -> None:
        try:
            page = await workspace.list_deliveries(
                self.session.token, self.webhook_id, status=self.status, limit=PAGE_SIZE
            )
        except (ApiError, BackendUnreachable) as exc:
            if isinstance(exc, ApiError) and exc.status == 401:
                to_login(self.path)
                return
            self.log.clear()
            with self.log:
                problem_card(exc, "the delivery log", self.load)
            return
        self.deliveries = list(page["items"])
        self.next_cursor = page["next_cursor"]
        self.pages_loaded = 1
        self.render()

    async def load_more(self) -> None:
        try:
            page = await workspace.list_deliveries(
                self.session.token,
                self.webhook_id,
                status=self.status,
                cursor=self.next_cursor,
                limit=PAGE_SIZE,
            )
        except (ApiError, BackendUnreachable) as exc:
            action_failed(exc, "More deliveries could not be loaded", here=self.path, wording=detail_in_words)
            return
        self.deliveries.extend(page["items"])
        self.next_cursor = page["next_cursor"]
        self.pages_loaded += 1
        self.render()

    async def refresh_while_pending(self) -> None:
        """Follow pending deliveries on the first page; a person reading older pages is left alone."""
        if self.pages_loaded == 1 and any(d["status"] == "pending" for d in self.deliveries):
            await self.load()

    def render(self) -> None:
        self.log.clear()
        now = datetime.now(UTC)
        with self.log:
            if not self.deliveries:
                if self.status:
                    empty_card(
                        "filter_alt_off",
                        "No deliveries match",
                        f"None of this webhook's deliveries is {DELIVERY_STATUS[self.status].lower()}.",
                    )
                else:
                    empty_card(
                        "outbox",
                        "Nothing delivered so far",
                        "Deliveries appear here when a contact opts out or in, or when you send a test event.",
                    )
                return
            with (
                ui.card()
                .classes("w-full p-0 gap-0 shadow-sm rounded-xl overflow-hidden")
                .mark("delivery-log")
            ):
                with ui.row().classes(
                    "w-full items-center no-wrap gap-4 px-5 py-2 bg-slate-50 border-b border-slate-200 "
                    "text-xs font-medium uppercase tracking-wide text-slate-500"
                ):
                    ui.label("When").classes("w-28")
                    ui.label("Event").classes("w-24 max-sm:hidden")
                    ui.label("Status").classes("w-24")
                    ui.label("Tries").classes("w-12 text-right max-sm:hidden")
                    ui.label("Response").classes("w-20 max-md:hidden")
                    ui.label("Result").classes("flex-1 min-w-0")
                    ui.element("div").classes("w-8")
                with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                    for delivery in self.deliveries:
                        self._row(delivery, now)
            with ui.row().classes("w-full items-center px-1"):
                ui.label(
                    deliveries_text(len(self.deliveries))
                    + ("; older ones to load" if self.next_cursor else "")
                ).classes("text-sm text-slate-500").mark("delivery-count")
                ui.space()
                if self.next_cursor:
                    ui.button("Load older", icon="expand_more", on_click=self.load_more).props(
                        "flat no-caps"
                    ).mark("load-more")

    def _row(self, delivery: Delivery, now: datetime) -> None:
        created = parse_timestamp(delivery["created_at"])
        with (
            ui.row()
            .classes("w-full items-center no-wrap gap-4 px-5 py-2.5 text-sm")
            .mark("delivery-row", f"delivery-{delivery['id']}")
        ):
            ui.label(relative_time(created, now)).classes("w-28 text-slate-600 whitespace-nowrap").tooltip(
                absolute_time(created)
            )
            look = (
                "font-medium text-indigo-700"
                if delivery["event_type"] == "webhook.test"
                else "text-slate-700"
            )
            ui.label(event_text(delivery["event_type"])).classes(f"w-24 {look} max-sm:hidden").mark(
                "delivery-event"
            )
            with ui.element("div").classes("w-24"):
                badge(
                    DELIVERY_STATUS.get(delivery["status"], delivery["status"]),
                    DELIVERY_STYLE.get(delivery["status"], BADGE_INDIGO),
                    "delivery-status",
                )
            ui.label(str(delivery["attempts"])).classes("w-12 text-right text-slate-700 max-sm:hidden").mark(
                "delivery-attempts"
            )
            ui.label(response_text(delivery)).classes("w-20 font-mono text-slate-700 max-md:hidden").mark(
                "delivery-response"
            )
            result = ui.label(delivery_result(delivery, now)).classes(
                "flex-1 min-w-0 truncate text-slate-600"
            )
            result.mark("delivery-result").tooltip(delivery_result(delivery, now))
            ui.button(icon="data_object", on_click=lambda delivery=delivery: _payload_dialog(delivery)).props(
                'flat round dense color=grey-7 aria-label="Payload"'
            ).classes("w-8").tooltip("What was sent").mark("delivery-payload")


def _payload_dialog(delivery: Delivery) -> None:
    with page_dialog() as dialog, ui.card().classes("w-[40rem] max-w-full gap-3").mark("payload-dialog"):
        ui.label(f"{event_text(delivery['event_type'])} · {delivery['message_id']}").classes(
            "text-lg font-semibold"
        )
        ui.label(
            "The JSON body, signed; webhook-id is the same on every attempt so receivers de-duplicate."
        ).classes("text-sm text-slate-600")
        ui.code(json.dumps(delivery["payload"], indent=2, ensure_ascii=False), language="json").classes(
            "w-full"
        )
        if delivery["last_error"]:
            ui.label(f"Last error: {delivery['last_error']}").classes("text-sm text-red-700 break-words")
        with ui.row().classes("w-full justify-end"):
            ui.button("Close", on_click=dialog.close).props("flat no-caps")
    dialog.open()
