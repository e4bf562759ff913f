"""The compose box under a contact's conversation (PRODUCT.md 5, seed 002 "compose box").

A message is sent through ``POST /api/v1/messages`` like any integrator's, so the consent gate decides:
a marketing message to a contact whose opt-out applies is stored as not sent (``opted_out``), while
transactional messages and conversational replies go through. Before that happens the box warns twice:

1. as soon as the chosen sender's channel (and category) has an opt-out that applies, whatever the
   kind: the gate's own answer, ``GET /optouts/check``, asked again when the sender or category changes;
2. again when the marketing kind is chosen for such a contact, and Send then asks to confirm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable, NamedRef, SenderRef
from ui.clients import audience as client
from ui.components.audience_parts import field_errors_into
from ui.components.audience_rules import (
    CHANNEL_LABEL,
    KIND_HINT,
    KINDS,
    ComposeWarnings,
    address_on,
    compose_warnings,
)
from ui.components.dialogs import transient_dialog
from ui.components.page_states import action_failed
from ui.session import Session

TEXT_MAX = 4096
"""Long enough for any channel's text; SMS splits into parts, WhatsApp allows 4096 characters."""
SUBJECT_MAX = 998


def reachable_senders(senders: list[SenderRef], contact: dict[str, Any]) -> list[SenderRef]:
    """The senders whose channel this contact has an address on, in the API's order."""
    return [sender for sender in senders if address_on(contact, sender["channel"])]


def sender_label(sender: SenderRef) -> str:
    return f"{sender['name']} ({CHANNEL_LABEL.get(sender['channel'], sender['channel'])})"


class ComposeBox:
    def __init__(
        self,
        session: Session,
        contact: dict[str, Any],
        senders: list[SenderRef],
        categories: list[NamedRef],
        on_sent: Callable[[dict[str, Any]], None],
    ) -> None:
        self.session = session
        self.contact = contact
        self.senders = {sender["id"]: sender for sender in reachable_senders(senders, contact)}
        self.categories = {category["id"]: category["name"] for category in categories}
        self.on_sent = on_sent
        self.check: dict[str, Any] | None = None
        self.warnings = ComposeWarnings(None, None)
        self.here = f"/audience/contacts/{contact['id']}"
        self.inputs: dict[str, Any] = {}

    @property
    def sender(self) -> SenderRef | None:
        return self.senders.get(self.inputs["sender_id"].value) if self.inputs else None

    def build(self) -> None:
        with ui.column().classes("w-full gap-3 border-t border-slate-200 pt-4").mark("compose-box"):
            if not self.senders:
                ui.label(
                    "No sender can reach this contact: a sender on WhatsApp, SMS or Viber needs a phone "
                    "number, an email sender an email address."
                ).classes("text-sm text-slate-500").mark("compose-no-sender")
                return
            first = next(iter(self.senders))
            with ui.row().classes("w-full items-start gap-3"):
                self.inputs["sender_id"] = (
                    ui.select(
                        {sender_id: sender_label(sender) for sender_id, sender in self.senders.items()},
                        label="Send from",
                        value=first,
                        on_change=self.recheck,
                    )
                    .props("outlined dense options-dense")
                    .classes("w-64")
                    .mark("compose-sender")
                )
                self.inputs["kind"] = (
                    ui.toggle(KINDS, value="conversational", on_change=self.kind_changed)
                    .props("no-caps unelevated toggle-color=primary color=white text-color=grey-8")
                    .classes("border border-slate-300 rounded-md")
                    .mark("compose-kind")
                )
            self.hint = ui.label(KIND_HINT["conversational"]).classes("text-xs text-slate-500 -mt-1")
            self.inputs["category_id"] = (
                ui.select(
                    self.categories,
                    label="Marketing category (optional)",
                    clearable=True,
                    on_change=self.recheck,
                )
                .props("outlined dense options-dense")
                .classes("w-72")
                .mark("compose-category")
            )
            self.inputs["category_id"].visible = False
            self.opted_out_note = _banner("warning", "amber", "compose-opted-out")
            self.marketing_note = _banner("report", "red", "compose-marketing-warning")
            self.inputs["subject"] = (
                ui.input("Subject").props(f"outlined dense counter maxlength={SUBJECT_MAX}").classes("w-full")
            ).mark("compose-subject")
            self.inputs["text"] = (
                ui.textarea(placeholder="Write a message…")
                .props(f"outlined autogrow counter maxlength={TEXT_MAX}")
                .classes("w-full")
                .mark("compose-text")
            )
            for element in self.inputs.values():
                element.on_value_change(self._clear_errors)
            with ui.row().classes("w-full items-center gap-3"):
                self.to_label = ui.label("").classes("text-xs text-slate-500").mark("compose-to")
                ui.space()
                self.send_button = (
                    ui.button("Send", icon="send", on_click=self.send)
                    .props("unelevated no-caps")
                    .mark("compose-send")
                )
        self.channel_changed()

    # --- what the box says --------------------------------------------------------------------------

    def channel_changed(self) -> None:
        sender = self.sender
        if sender is None:
            return
        self.inputs["subject"].visible = sender["channel"] == "email"
        self.to_label.text = f"To {address_on(self.contact, sender['channel'])}"

    async def kind_changed(self) -> None:
        kind = self.inputs["kind"].value
        self.hint.text = KIND_HINT.get(kind, "")
        self.inputs["category_id"].visible = kind == "marketing"
        if kind != "marketing":
            self.inputs["category_id"].value = None  # only marketing has a category (the API says so too)
        self.show_warnings()

    async def recheck(self) -> None:
        """Ask the consent gate about this contact for the chosen sender and category."""
        self.channel_changed()
        sender = self.sender
        if sender is None:
            return
        address = address_on(self.contact, sender["channel"])
        try:
            self.check = await client.check_opt_out(
                self.session.token,
                sender["channel"],
                address or "",
                sender_id=sender["id"],
                category_id=self.inputs["category_id"].value,
            )
        except (ApiError, BackendUnreachable):
            self.check = None  # the gate still decides when the message is sent
        self.show_warnings()

    def show_warnings(self) -> None:
        sender = self.sender
        self.warnings = compose_warnings(
            self.check,
            self.inputs["kind"].value,
            sender["channel"] if sender else "",
            self.contact.get("name") or "",
        )
        _say(self.opted_out_note, self.warnings.opted_out)
        _say(self.marketing_note, self.warnings.marketing)

    def _clear_errors(self) -> None:
        for element in self.inputs.values():
            if hasattr(element, "error"):
                element.error = None

    # --- sending ------------------------------------------------------------------------------------

    def _body(self) -> dict[str, Any] | None:
        sender = self.sender
        text = (self.inputs["text"].value or "").strip()
        if sender is None:
            self.inputs["sender_id"].error = "Choose a sender."
            return None
        if not text:
            self.inputs["text"].error = "Write the message first."
            return None
        body: dict[str, Any] = {
            "sender_id": sender["id"],
            "to": address_on(self.contact, sender["channel"]),
            "contact_id": self.contact["id"],
            "kind": self.inputs["kind"].value,
            "text": text,
        }
        if self.inputs["kind"].value == "marketing" and self.inputs["category_id"].value:
            body["category_id"] = self.inputs["category_id"].value
        if sender["channel"] == "email":
            subject = (self.inputs["subject"].value or "").strip()
            if not subject:
                self.inputs["subject"].error = "An email needs a subject."
                return None
            body["subject"] = subject
        return body

    async def send(self) -> None:
        body = self._body()
        if body is None:
            return
        if self.warnings.confirm_before_send and not await self._confirm():
            return
        self.send_button.disable()
        try:
            message = await client.send_message(self.session.token, body)
        except ApiError as exc:
            if exc.status == 401 or not field_errors_into(self.inputs, exc):
                action_failed(exc, "Not sent", here=self.here)
            return
        except BackendUnreachable as exc:
            action_failed(exc, "Not sent", here=self.here)
            return
        finally:
            self.send_button.enable()
        self.inputs["text"].value = ""
        if message["status"] == "failed" and message.get("failure_reason") == "opted_out":
            ui.notify("Not sent: the contact opted out of marketing on this channel.", type="warning")
        else:
            ui.notify("Message accepted; its status updates below.", type="positive")
        self.on_sent(message)

    async def _confirm(self) -> bool:
        with (
            transient_dialog() as dialog,
            ui.card().classes("w-[30rem] max-w-full p-6 gap-3 rounded-xl").mark("compose-confirm"),
        ):
            ui.label("Send a marketing message to a contact who opted out?").classes(
                "text-lg font-semibold text-slate-900"
            )
            ui.label(self.warnings.opted_out or "").classes("text-sm text-slate-700")
            ui.label(self.warnings.marketing or "").classes("text-sm text-red-700")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Change the message", on_click=lambda: dialog.submit(False)).props(
                    "flat no-caps color=grey-8"
                ).mark("cancel-send")
                ui.button("Send anyway", on_click=lambda: dialog.submit(True)).props(
                    "unelevated no-caps color=negative"
                ).mark("confirm-send")
        return bool(await dialog)


def _banner(icon: str, colour: str, marker: str) -> ui.row:
    row = ui.row().classes(
        f"w-full items-start gap-2 no-wrap rounded-lg px-3 py-2 text-sm bg-{colour}-50 text-{colour}-800 "
        f"border border-{colour}-200"
    )
    with row:
        ui.icon(icon, size="1.2rem").classes("mt-0.5")
        ui.label("").classes("flex-1").mark(marker)
    row.visible = False
    return row


def _say(banner: ui.row, text: str | None) -> None:
    label = next(child for child in banner.default_slot.children if isinstance(child, ui.label))
    label.text = text or ""
    banner.visible = bool(text)
