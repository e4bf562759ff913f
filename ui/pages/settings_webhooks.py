"""``/settings/webhooks``: the URLs that receive every consent event (opt-outs and opt-ins), signed; admins
add, test and delete them. One endpoint's delivery log is :mod:`ui.pages.settings_deliveries`.

"Send test event" asks the API for a signed ``webhook.test`` delivery, which the worker sends through the
same path as real events (signature, retries, log), so a green test means real events will arrive too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import workspace
from ui.clients.workspace import Delivery, NewWebhook, Webhook
from ui.components.admin_list import Action, AdminListPage
from ui.components.copy_field import copy_field
from ui.components.page_states import action_failed, empty_card, to_login
from ui.components.paged_list import HEADER_ROW, count_and_more
from ui.components.settings_parts import (
    BADGE_GREEN,
    BADGE_GREY,
    badge,
    detail_in_words,
    field_errors,
    in_words,
    menu_item,
    page_dialog,
    row_menu,
    shown_once,
)
from ui.components.times import absolute_time, parse_timestamp, plural, relative_time
from ui.layout import shell_page
from ui.session import Session

PATH = "/settings/webhooks"

EVENTS = {
    "consent.opted_out": "Opt-outs",
    "consent.opted_in": "Opt-ins",
}
ALL_EVENTS = "*"


def register() -> None:
    shell_page(PATH, "Webhooks · Settings")(WebhooksPage.show)


# --- pure helpers (tested directly) ---------------------------------------------------------------------


def events_text(events: list[str]) -> str:
    """``["*"]`` -> ``All consent events``; otherwise the events by name, in the order given."""
    if ALL_EVENTS in events:
        return "All consent events"
    return ", ".join(EVENTS.get(event, event) for event in events) or "No events"


def chosen_events(opt_outs: bool, opt_ins: bool, everything: bool) -> list[str]:
    """The ``events`` of the form's three checkboxes; "everything" also covers event types added later."""
    if everything:
        return [ALL_EVENTS]
    return [event for event, on in (("consent.opted_out", opt_outs), ("consent.opted_in", opt_ins)) if on]


def state_badge(webhook: Webhook) -> tuple[str, str]:
    return ("Enabled", BADGE_GREEN) if webhook["enabled"] else ("Disabled", BADGE_GREY)


# --- shared actions -------------------------------------------------------------------------------------


async def send_test(session: Session, webhook: Webhook) -> Delivery | None:
    try:
        delivery = await workspace.send_test_event(session.token, webhook["id"])
    except (ApiError, BackendUnreachable) as exc:
        action_failed(exc, "No test sent", here=PATH, wording=detail_in_words)
        return None
    ui.notify(
        "Test event queued: the worker sends it in a moment, and the delivery log shows the answer.",
        type="positive",
    )
    return delivery


def confirm_delete(session: Session, webhook: Webhook, after: Any) -> None:
    with page_dialog() as dialog, ui.card().classes("w-[30rem] gap-3").mark("delete-webhook-dialog"):
        ui.label("Delete this webhook?").classes("text-lg font-semibold")
        ui.label(webhook["url"]).classes("text-sm font-mono text-slate-700 break-all")
        ui.label(
            "It stops receiving consent events at once; deliveries not sent yet are dropped and its delivery "
            "log is deleted with it. This cannot be undone."
        ).classes("text-sm text-slate-600")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")

            async def delete() -> None:
                try:
                    await workspace.delete_webhook(session.token, webhook["id"])
                except (ApiError, BackendUnreachable) as exc:
                    action_failed(exc, "Not deleted", here=PATH, wording=detail_in_words)
                else:
                    ui.notify("Webhook deleted.", type="positive")
                    await after()
                dialog.close()  # last: closing deletes the dialog, and this button with it

            ui.button("Delete", icon="delete", on_click=delete).props(
                "unelevated no-caps color=negative"
            ).mark("confirm-delete-webhook")
    dialog.open()


async def enable(session: Session, webhook: Webhook, after: Any) -> None:
    try:
        await workspace.enable_webhook(session.token, webhook["id"])
    except (ApiError, BackendUnreachable) as exc:
        action_failed(exc, "Not enabled", here=PATH, wording=detail_in_words)
        return
    ui.notify("Enabled: events from now on reach it again.", type="positive")
    await after()


# --- the list -------------------------------------------------------------------------------------------


class WebhooksPage(AdminListPage):
    path = PATH
    intro = (
        "Flowgate POSTs every opt-out and opt-in to these URLs as it happens, signed with the "
        "endpoint's secret (Standard Webhooks) and retried with backoff for about three days."
    )
    subject = "the webhooks"
    admins_manage = "consent webhooks"
    plural = "webhooks"
    action = Action("Add webhook", "add", "add-webhook")
    page_size = 50

    @property
    def webhooks(self) -> list[Webhook]:
        return self.items

    async def fetch(self, cursor: str | None, limit: int) -> Any:
        return await workspace.list_webhooks(self.session.token, cursor=cursor, limit=limit)

    def act(self) -> None:
        AddWebhookDialog(self).open()

    def render(self) -> None:
        self.body.clear()
        now = datetime.now(UTC)
        with self.body:
            if not self.webhooks:
                empty_card(
                    "webhook",
                    "No webhooks",
                    "Add the URL of your CRM or data warehouse to hear about every opt-out and opt-in as it "
                    "happens.",
                )
                return
            with (
                ui.card()
                .classes("w-full p-0 gap-0 shadow-sm rounded-xl overflow-hidden")
                .mark("webhook-list")
            ):
                with ui.row().classes(HEADER_ROW):
                    ui.label("URL and events").classes("flex-1 min-w-0")
                    ui.label("State").classes("w-24")
                    ui.label("Added").classes("w-28 max-md:hidden")
                    ui.element("div").classes("w-64 max-sm:w-8")
                with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                    for webhook in self.webhooks:
                        self._row(webhook, now)
            count_and_more(plural(len(self.webhooks), "webhook"), self.listing, marker="webhook-count")

    def _row(self, webhook: Webhook, now: datetime) -> None:
        log_url = f"{PATH}/{webhook['id']}"
        with (
            ui.row()
            .classes("w-full items-center no-wrap gap-4 px-5 py-3 hover:bg-slate-50")
            .mark("webhook-row", f"webhook-{webhook['id']}")
        ):
            with ui.column().classes("flex-1 min-w-0 gap-0.5"):
                ui.link(webhook["url"], log_url).classes(
                    "block min-w-0 truncate font-mono text-sm text-slate-900 no-underline hover:text-primary"
                ).mark("webhook-url").tooltip(webhook["url"])
                details = events_text(webhook["events"])
                if webhook["description"]:
                    details += f" · {webhook['description']}"
                ui.label(details).classes("text-xs text-slate-500 truncate").mark("webhook-events")
                if not webhook["enabled"] and webhook["disabled_reason"]:
                    ui.label(f"Stopped: {webhook['disabled_reason']}").classes("text-xs text-red-700")
            with ui.element("div").classes("w-24"):
                text, style = state_badge(webhook)
                badge(text, style, "webhook-state")
            created = parse_timestamp(webhook["created_at"])
            ui.label(relative_time(created, now)).classes(
                "w-28 text-sm text-slate-600 whitespace-nowrap max-md:hidden"
            ).tooltip(f"Added {absolute_time(created)}")
            with ui.row().classes("w-64 max-sm:w-8 items-center justify-end gap-1 no-wrap"):
                if webhook["enabled"]:
                    ui.button(
                        "Send test",
                        icon="send",
                        on_click=lambda webhook=webhook: send_test(self.session, webhook),
                    ).props("flat dense no-caps color=primary").classes("max-sm:hidden").mark("send-test")
                ui.button(
                    "Deliveries", icon="list_alt", on_click=lambda url=log_url: ui.navigate.to(url)
                ).props("flat dense no-caps color=grey-8").classes("max-sm:hidden").mark("open-deliveries")
                with row_menu("webhook-actions"):
                    if not webhook["enabled"]:
                        menu_item(
                            "Enable again",
                            "play_arrow",
                            lambda webhook=webhook: enable(self.session, webhook, self.load),
                        ).mark("enable-webhook")
                    menu_item("Delivery log", "list_alt", lambda url=log_url: ui.navigate.to(url))
                    ui.separator()
                    menu_item(
                        "Delete",
                        "delete",
                        lambda webhook=webhook: confirm_delete(self.session, webhook, self.load),
                        danger=True,
                    ).mark("delete-webhook")


class AddWebhookDialog:
    """URL, events and a description; then the signing secret, once."""

    def __init__(self, page: WebhooksPage) -> None:
        self.page = page
        with page_dialog() as self.dialog, ui.card().classes("w-[36rem] max-w-full gap-3") as self.card:
            self.card.mark("add-webhook-dialog")
            self._form()

    def open(self) -> None:
        self.dialog.open()

    def _form(self) -> None:
        ui.label("Add a webhook").classes("text-lg font-semibold text-slate-900")
        self.url = (
            ui.input("URL", placeholder="https://crm.example.com/hooks/flowgate")
            .props("outlined dense stack-label type=url")
            .classes("w-full")
            .mark("webhook-url-input")
        )
        ui.label(
            "Use https: the events carry phone numbers and email addresses. Addresses on this machine or a "
            "private network are refused unless the workspace allows private URLs (in Settings, Workspace tab)."
        ).classes("text-xs text-slate-500 -mt-2")
        ui.label("Events").classes("text-sm font-semibold text-slate-800 pt-1")
        self.everything = ui.checkbox(
            "Every consent event, including kinds added later", value=True, on_change=self._everything_changed
        ).mark("events-all")
        with ui.column().classes("gap-0 pl-8") as self.kinds:
            self.opt_outs = ui.checkbox("Opt-outs (consent.opted_out)", value=True).mark("events-opted-out")
            self.opt_ins = ui.checkbox("Opt-ins (consent.opted_in)", value=True).mark("events-opted-in")
        self.kinds.visible = False
        self.events_error = ui.label("").classes("text-xs text-red-700").mark("events-error")
        self.events_error.visible = False
        self.description = (
            ui.input("Description (optional)", placeholder="CRM sync")
            .props("outlined dense stack-label counter maxlength=500")
            .classes("w-full")
            .mark("webhook-description")
        )
        self.error = ui.label("").classes("text-sm text-red-700 break-words").mark("add-webhook-error")
        self.error.visible = False
        with ui.row().classes("w-full justify-end gap-2 pt-2"):
            ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps")
            self.submit = (
                ui.button("Add webhook", icon="add", on_click=self.create)
                .props("unelevated no-caps")
                .mark("create-webhook")
            )

    def _everything_changed(self, event: Any) -> None:
        self.kinds.visible = not event.value

    def _reset_errors(self) -> None:
        self.url.error = None
        self.description.error = None
        self.events_error.visible = False
        self.error.visible = False

    async def create(self) -> None:
        self._reset_errors()
        url = (self.url.value or "").strip()
        if not url:
            self.url.error = "Enter the URL that will receive the events."
            return
        events = chosen_events(
            bool(self.opt_outs.value), bool(self.opt_ins.value), bool(self.everything.value)
        )
        if not events:
            self.events_error.text = "Pick at least one kind of event."
            self.events_error.visible = True
            return
        self.submit.disable()
        try:
            created = await workspace.create_webhook(
                self.page.session.token,
                url=url,
                events=events,
                description=(self.description.value or "").strip(),
            )
        except BackendUnreachable as exc:
            self._show_error(f"Not added: Flowgate's API at {exc.url} is not answering.")
            return
        except ApiError as exc:
            self._refused(exc)
            return
        finally:
            self.submit.enable()
        self._show_secret(created)
        await self.page.load()

    def _refused(self, exc: ApiError) -> None:
        if exc.status == 401:
            to_login(PATH)
            return
        named = field_errors(exc)
        placed = False
        for key, message in named.items():
            if key == "url":
                self.url.error = in_words(message)
                placed = True
            elif key == "description":
                self.description.error = in_words(message)
                placed = True
            elif key.startswith("events"):
                self.events_error.text = in_words(message)
                self.events_error.visible = True
                placed = True
        if not placed:
            self._show_error(f"Not added: {detail_in_words(exc.detail)}")

    def _show_error(self, text: str) -> None:
        self.error.text = text
        self.error.visible = True

    def _show_secret(self, created: NewWebhook) -> None:
        self.dialog.props("persistent")
        self.card.clear()
        self.card.classes(remove="w-[36rem]", add="w-[44rem]")  # room for the whole secret on one line
        with self.card:
            with ui.row().classes("items-center gap-2"):
                ui.icon("check_circle", size="1.5rem").classes("text-emerald-600")
                ui.label("Webhook added").classes("text-lg font-semibold text-slate-900")
            ui.label(created["url"]).classes("text-sm font-mono text-slate-700 break-all")
            ui.label(
                "Each delivery carries webhook-id, webhook-timestamp and webhook-signature headers; verify "
                "the signature with this secret (any Standard Webhooks library does) before trusting it."
            ).classes("text-sm text-slate-600")
            copy_field("Signing secret", created["secret"], "webhook-secret", dense=False)
            shown_once("signing secret")
            with ui.row().classes("w-full justify-end gap-2 pt-2"):

                async def test_now() -> None:
                    if await send_test(self.page.session, created) is not None:
                        ui.navigate.to(f"{PATH}/{created['id']}")
                    self.dialog.close()  # last: closing deletes the dialog, and this button with it

                ui.button("Send a test event", icon="send", on_click=test_now).props("flat no-caps").mark(
                    "secret-send-test"
                )
                ui.button("I have copied it", icon="done", on_click=self.dialog.close).props(
                    "unelevated no-caps"
                ).mark("close-webhook-secret")
