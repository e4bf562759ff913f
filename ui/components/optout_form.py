"""The "Add an opt-out" dialog (seed 000): media type, contact, marketing category, validity, remarks and
scope (one sender or the whole workspace).

The contact is checked as it is typed by asking the API how it reads it (``GET /optouts/check``): the
same normalisation, with the workspace's phone region, that the entry will get, so the form never accepts
what the API refuses. Its answer also says whether the address is opted out already, and whether saving
would extend that entry (the days add up) rather than add one. What the form checks itself is only what
is missing or out of range; on save the API's sentence lands under the field it names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable, SenderRef
from ui.clients import consent
from ui.clients.consent import CategoryInfo, CheckInfo, OptOutInfo
from ui.components.dialogs import transient_dialog
from ui.components.optout_parts import field_message
from ui.components.optout_rules import (
    CHANNELS,
    DAYS,
    MAX_REMARKS,
    MAX_VALID_DAYS,
    SENDER,
    UNTIL,
    VALIDITY,
    WORKSPACE,
    OptOutForm,
    address_hint,
    address_label,
    category_text,
    channel_label,
    days_problem,
    default_days,
    extends,
    saved_sentence,
    scope_text,
    source_label,
    until_problem,
    validity_text,
)
from ui.session import Session

CHECK_DELAY_S = 0.35
"""Typing pauses this long before the API is asked how it reads the address."""
ALL_MARKETING = 0
"""The category choice meaning "no category": all marketing (ids start at 1)."""

Saved = Callable[[OptOutInfo], Awaitable[None] | None]


class AddOptOutDialog:
    """Open with :meth:`open`; ``on_saved`` gets the new (or extended) entry."""

    def __init__(
        self,
        session: Session,
        *,
        settings: dict[str, Any],
        categories: list[CategoryInfo],
        senders: list[SenderRef],
        on_saved: Saved,
        channel: str = "whatsapp",
        address: str = "",
    ) -> None:
        self.session = session
        self.region = str(settings.get("default_phone_region") or "")
        self.workspace_days = int(settings.get("marketing_unsubscription_days") or 30)
        self.categories = {category["id"]: category for category in categories}
        self.senders = senders
        self.on_saved = on_saved
        self.form = OptOutForm(
            channel=channel,
            address=address,
            days=self.workspace_days,
            zone=str(settings.get("timezone") or "UTC"),
        )
        self.days_touched = False
        self.generation = 0
        self.checked: CheckInfo | None = None
        self._build()

    # --- drawing ------------------------------------------------------------------------------------------

    def _build(self) -> None:
        with (
            transient_dialog() as self.dialog,
            ui.card().classes("w-[38rem] max-w-full p-6 gap-4 rounded-xl").mark("optout-dialog"),
        ):
            ui.label("Add an opt-out").classes("text-lg font-semibold text-slate-900")
            ui.label(
                "The address gets no marketing on this media type while the opt-out lasts. Transactional "
                "and conversational messages still reach it."
            ).classes("text-sm text-slate-600 -mt-2")

            ui.toggle(
                CHANNELS, value=self.form.channel, on_change=lambda e: self.channel_changed(e.value)
            ).props("no-caps unelevated toggle-color=primary color=grey-2 text-color=grey-9").mark(
                "optout-channel"
            )

            self.address = (
                ui.input(
                    address_label(self.form.channel),
                    value=self.form.address,
                    on_change=lambda e: self.address_typed(e.value or ""),
                )
                .props("outlined dense stack-label autofocus")
                .classes("w-full")
                .mark("optout-address")
            )
            self.reading = (
                ui.label(address_hint(self.form.channel, self.region))
                .classes("text-xs text-slate-500 -mt-3 pl-3")
                .mark("address-reading")
            )
            self.already = ui.column().classes("w-full gap-1 -mt-1").mark("already-opted-out")

            options = {ALL_MARKETING: "All marketing"} | {
                category["id"]: f"{category['name']} · {category['unsubscribe_days']} days"
                for category in self.categories.values()
            }
            self.category = (
                ui.select(
                    options, label="Marketing category", value=ALL_MARKETING, on_change=self.category_changed
                )
                .props("outlined dense stack-label options-dense")
                .classes("w-full")
                .mark("optout-category")
            )

            with ui.column().classes("w-full gap-1"):
                ui.label("Validity").classes("text-sm font-medium text-slate-700")
                ui.radio(VALIDITY, value=self.form.validity, on_change=self.validity_changed).props(
                    "inline dense"
                ).mark("optout-validity")
                with ui.row().classes("w-full items-start gap-3 no-wrap"):
                    self.days = (
                        # No min/max: Quasar would clamp silently; the error says the range instead.
                        ui.number(
                            "Days", value=self.form.days, precision=0, step=1, on_change=self.days_changed
                        )
                        .props("outlined dense stack-label")
                        .classes("w-40")
                        .mark("optout-days")
                        .without_auto_validation()  # its on_change sets the error, in words
                    )
                    self.until = (
                        ui.input("Last day", on_change=self.until_changed)
                        .props("outlined dense stack-label type=date")
                        .classes("w-52")
                        .mark("optout-until")
                        .without_auto_validation()
                    )
                    self.validity_note = ui.label("").classes("text-xs text-slate-500 pt-2 flex-1")
                self._show_validity()

            self.remarks = (
                ui.textarea("Remarks (optional)", on_change=self.remarks_changed)
                .props(f"outlined dense stack-label autogrow counter maxlength={MAX_REMARKS}")
                .classes("w-full")
                .mark("optout-remarks")
            )

            with ui.column().classes("w-full gap-1"):
                ui.label("Applies to").classes("text-sm font-medium text-slate-700")
                ui.radio(
                    {WORKSPACE: "The whole workspace (every sender)", SENDER: "One sender"},
                    value=self.form.scope,
                    on_change=self.scope_changed,
                ).props("inline dense").mark("optout-scope")
                self.sender = (
                    ui.select({}, label="Sender", on_change=self.sender_changed)
                    .props("outlined dense stack-label options-dense")
                    .classes("w-full")
                    .mark("optout-sender")
                )
                self._fill_senders()

            self.error = ui.label("").classes("text-sm text-red-700 break-words").mark("optout-error")
            self.error.visible = False
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps color=grey-8")
                self.save_button = (
                    ui.button("Save", icon="check", on_click=self.save)
                    .props("unelevated no-caps color=primary")
                    .mark("save-optout")
                )

    async def open(self) -> None:
        self.dialog.open()
        if self.form.address:
            await self.address_typed(self.form.address, delay=0)

    def _show_validity(self) -> None:
        self.days.visible = self.form.validity == DAYS
        self.until.visible = self.form.validity == UNTIL
        if self.form.validity == DAYS:
            note = "From now. Added to an active opt-out of the same category and scope."
        elif self.form.validity == UNTIL:
            note = f"Through the end of that day ({self.form.zone})."
        else:
            note = "Until someone opts the address back in."
        self.validity_note.set_text(note)

    def _fill_senders(self) -> None:
        options = {
            sender["id"]: f"{sender['name']} · {sender['address']}"
            for sender in self.senders
            if sender["channel"] == self.form.channel
        }
        self.sender.set_options(
            options, value=self.form.sender_id if self.form.sender_id in options else None
        )
        self.sender.visible = self.form.scope == SENDER
        self.sender.props(
            f'hint="{"" if options else f"No {channel_label(self.form.channel)} sender in this workspace yet."}"'
        )

    # --- changes ------------------------------------------------------------------------------------------

    async def channel_changed(self, channel: str) -> None:
        self.form.channel = channel
        self.form.sender_id = None
        self.address.props(f'label="{address_label(channel)}"')
        self._fill_senders()
        await self.address_typed(self.form.address, delay=0)

    async def address_typed(self, value: str, *, delay: float = CHECK_DELAY_S) -> None:
        """Ask the API how it reads the address once typing pauses; only the latest answer is shown."""
        self.form.address = value
        self.generation += 1
        generation = self.generation
        self.checked = None
        if not value.strip():
            self.address.error = None
            self.reading.set_text(address_hint(self.form.channel, self.region))
            self.already.clear()
            return
        if delay:
            await asyncio.sleep(delay)
        if generation != self.generation:
            return
        try:
            answer = await consent.check_address(self.session.token, self.form.channel, value)
        except ApiError as exc:
            if generation == self.generation:
                message = field_message(exc, "address") or field_message(exc, "channel")
                self.address.error = message or exc.detail
                self.reading.set_text("")
                self.already.clear()
            return
        except BackendUnreachable:
            return  # saving will say so; a check that could not be made is not an error in the address
        if generation != self.generation:
            return
        self.checked = answer
        self.address.error = None
        self.reading.set_text(f"Stored as {answer['address']}.")
        self._show_already()

    def _show_already(self) -> None:
        self.already.clear()
        if not self.checked or not self.checked["opted_out"]:
            return
        now = datetime.now(UTC)
        entries = self.checked["entries"]
        target = extends(
            entries, self.form.category_id, self.form.sender_id if self.form.scope == SENDER else None
        )
        with (
            self.already,
            ui.column().classes(
                "w-full gap-1 p-3 rounded-lg bg-amber-50 border border-amber-200 text-amber-900"
            ),
        ):
            ui.label(f"Already opted out on {channel_label(self.form.channel)}:").classes(
                "text-sm font-medium"
            )
            for entry in entries:
                ui.label(
                    f"{category_text(entry['category_name'])} · {scope_text(entry)} · "
                    f"{validity_text(entry, now)} · {source_label(entry['source'])}"
                ).classes("text-xs")
            ui.label(
                "Saving extends that entry: the days add up."
                if target is not None
                else "Saving adds a separate entry for this category and scope."
            ).classes("text-xs font-medium").mark("extends-note")

    def category_changed(self, event: Any) -> None:
        self.form.category_id = event.value or None
        if not self.days_touched:
            days = default_days(self.categories.get(self.form.category_id or 0), self.workspace_days)
            self.form.days = days
            self.days.set_value(days)
            self.days_touched = False
        self._show_already()

    def validity_changed(self, event: Any) -> None:
        self.form.validity = event.value
        self.days.error = None
        self.until.error = None
        self._show_validity()

    def days_changed(self, event: Any) -> None:
        self.days_touched = True
        self.form.days = event.value
        self.days.error = days_problem(event.value, MAX_VALID_DAYS)

    def until_changed(self, event: Any) -> None:
        self.form.until = event.value or ""
        self.until.error = until_problem(self.form.until, self.form.today) if self.form.until else None

    def remarks_changed(self, event: Any) -> None:
        self.form.remarks = event.value or ""
        self.remarks.error = None

    def scope_changed(self, event: Any) -> None:
        self.form.scope = event.value
        self.sender.visible = event.value == SENDER
        self.sender.error = None
        self._show_already()

    def sender_changed(self, event: Any) -> None:
        self.form.sender_id = event.value
        self.sender.error = None
        self._show_already()

    # --- saving -------------------------------------------------------------------------------------------

    def _fields(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "valid_days": self.days,
            "valid_until": self.until,
            "remarks": self.remarks,
            "sender_id": self.sender,
            "category_id": self.category,
        }

    async def save(self) -> None:
        self.error.visible = False
        problems = self.form.problems()
        if self.address.error:
            problems.setdefault("address", self.address.error)
        fields = self._fields()
        for name, element in fields.items():
            element.error = problems.get(name)
        if problems:
            self._show_error("Some fields need attention.")
            return
        before = {entry["id"] for entry in (self.checked or {}).get("entries", [])}
        self.save_button.disable()
        try:
            entry = await consent.create_optout(self.session.token, self.form.body())
        except ApiError as exc:
            placed = False
            for name, message in exc.field_errors.items():
                if name in fields:
                    fields[name].error = message[:1].upper() + message[1:]
                    placed = True
            self._show_error("Some fields need attention." if placed else f"Not saved: {exc.detail}")
            return
        except BackendUnreachable as exc:
            self._show_error(f"Not saved: Flowgate's API at {exc.url} is not answering.")
            return
        finally:
            self.save_button.enable()
        extended = entry["id"] in before or entry["created_at"] != entry["updated_at"]
        ui.notify(saved_sentence(entry, extended, datetime.now(UTC)), type="positive")
        self.dialog.close()
        result = self.on_saved(entry)
        if asyncio.iscoroutine(result):
            await result

    def _show_error(self, text: str) -> None:
        self.error.set_text(text)
        self.error.visible = True
