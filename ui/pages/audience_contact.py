"""``/audience/contacts/{id}``: one contact — attributes, time zone, tags, groups, where it opted out
(per channel and category), the consent history with its evidence, its flow runs, and the conversation
in both directions with a compose box.

One request brings the contact with its active opt-outs and its groups (``?include=opt_outs&include=
groups``); the history, runs, messages, senders and categories load beside it. Marketers edit and
send; viewers read.
"""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import available_timezones

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable, NamedRef, SenderRef, api
from ui.clients import audience as client
from ui.components.audience_parts import field_errors_into, section
from ui.components.audience_rules import (
    CHANNEL_LABEL,
    CHANNELS,
    PHONE_CHANNELS,
    address_on,
    attribute_text,
    day,
    edited_attributes,
    entry_sentence,
    event_scope,
    event_title,
    evidence_lines,
    merge_events,
)
from ui.components.compose_box import ComposeBox
from ui.components.conversation import Conversation
from ui.components.dialogs import transient_dialog
from ui.components.page_states import action_failed, problem_card
from ui.components.times import relative_now
from ui.layout import page_heading, shell_page
from ui.session import Session

HISTORY_MOST = 1000
"""Consent events read per address; a history longer than this is an API reader's job."""
RUN_STATUS = {
    "active": ("Running", "bg-sky-50 text-sky-700"),
    "waiting": ("Waiting", "bg-amber-50 text-amber-800"),
    "completed": ("Completed", "bg-emerald-50 text-emerald-700"),
    "failed": ("Failed", "bg-red-50 text-red-700"),
    "expired": ("Expired", "bg-slate-100 text-slate-600"),
    "interrupted": ("Interrupted", "bg-slate-100 text-slate-600"),
}
TRIGGER_TEXT = {"campaign": "Campaign", "keyword": "Keyword", "api": "API"}
ENDED_TEXT = {
    "end": "reached an End step",
    "no_path": "reached a step with nothing after it",
    "unknown_node": "the flow points at a step that does not exist",
    "no_start": "the flow has no start",
    "invalid_node": "a step of the flow is not valid",
    "step_budget_exceeded": "went round a loop too many times",
    "step_error": "a step failed on every attempt",
    "flow_deleted": "its flow was deleted",
    "campaign_ended": "the campaign ended",
    "campaign_deleted": "the campaign was deleted",
}
"""Why a run ended (``ended_reason``), in words; an unknown reason is shown as the API says it."""


def register() -> None:
    shell_page("/audience/contacts/{contact_id}", "Contact", wide=True)(contact_body)


async def contact_body(session: Session, contact_id: str = "") -> None:
    here = f"/audience/contacts/{contact_id}"
    if not contact_id.isdigit():
        page_heading("Contact not found", "This address does not name a contact.")
        ui.link("Back to the audience", "/audience")
        return
    try:
        contact, senders, categories = await asyncio.gather(
            client.get_contact(session.token, int(contact_id), include=["opt_outs", "groups"]),
            api.list_senders(session.token),
            api.list_categories(session.token),
        )
    except (ApiError, BackendUnreachable) as exc:
        if isinstance(exc, ApiError) and exc.status == 404:
            page_heading("Contact not found", "It was deleted, or it belongs to another workspace.")
            ui.link("Back to the audience", "/audience").mark("back-link")
            return
        page_heading("Contact", "")
        problem_card(exc, "the contact", ui.navigate.reload, here=here)
        return
    page = ContactPage(session, contact, senders, categories)
    await page.build()


def _title(contact: dict[str, Any]) -> str:
    return contact["name"] or contact["phone"] or contact["email"] or f"Contact {contact['id']}"


class ContactPage:
    def __init__(
        self,
        session: Session,
        contact: dict[str, Any],
        senders: list[SenderRef],
        categories: list[NamedRef],
    ) -> None:
        self.session = session
        self.contact = contact
        self.senders = senders
        self.categories = categories
        self.here = f"/audience/contacts/{contact['id']}"

    @property
    def can_write(self) -> bool:
        return self.session.allows("marketer")

    async def build(self) -> None:
        contact = self.contact
        with ui.row().classes("w-full items-start gap-3"):
            with ui.column().classes("gap-1 flex-1 min-w-0"):
                ui.link("← Audience", "/audience").classes(
                    "text-sm text-slate-500 no-underline hover:text-primary"
                )
                ui.label(_title(contact)).classes("text-2xl font-semibold text-slate-900").mark("page-title")
                addresses = " · ".join(part for part in (contact["phone"], contact["email"]) if part)
                ui.label(addresses).classes("text-slate-600").mark("contact-addresses")
            if self.can_write:
                ui.button("Edit", icon="edit", on_click=self.edit).props("outline no-caps").mark(
                    "edit-contact"
                )
                ui.button("Delete", icon="delete", on_click=self.delete).props(
                    "flat no-caps color=negative"
                ).mark("delete-contact")
        with ui.element("div").classes("w-full grid grid-cols-1 xl:grid-cols-5 gap-6 items-start"):
            with ui.column().classes("xl:col-span-2 gap-6 min-w-0"):
                self._details()
                self._opt_outs()
                self._groups()
            with ui.column().classes("xl:col-span-3 gap-6 min-w-0"):
                conversation_card = section(
                    "Conversation",
                    marker="conversation-card",
                    subtitle="Both directions, newest at the bottom.",
                )
                with conversation_card:
                    self.conversation = Conversation(
                        self.session, contact, {sender["id"]: dict(sender) for sender in self.senders}
                    )
                    compose = None
                    if self.can_write:
                        compose = ComposeBox(
                            self.session, contact, self.senders, self.categories, self.conversation.add
                        )
                        compose.build()
                    else:
                        ui.label("Viewers read the conversation; marketers and admins send.").classes(
                            "text-xs text-slate-500"
                        )
        self.history = section(
            "Consent history",
            marker="consent-history",
            subtitle="Every opt-out and opt-in of this contact's phone and email, newest first; kept even if "
            "the contact is deleted.",
        )
        self.runs = section(
            "Flow runs", marker="contact-runs", subtitle="The flows this contact went through."
        )
        await asyncio.gather(
            self.conversation.load(),
            self._load_history(),
            self._load_runs(),
            compose.recheck() if compose is not None else asyncio.sleep(0),
        )

    # --- the blocks ---------------------------------------------------------------------------------

    def _details(self) -> None:
        contact = self.contact
        with section("Details", marker="contact-details"):
            with ui.grid(columns="8rem 1fr").classes("w-full gap-x-4 gap-y-2 text-sm"):
                _term("Phone", contact["phone"] or "—", "detail-phone")
                _term("Email", contact["email"] or "—", "detail-email")
                _term("Time zone", contact["timezone"] or "The workspace's time zone", "detail-timezone")
                ui.label("Tags").classes("text-slate-500")
                with ui.row().classes("gap-1").mark("detail-tags"):
                    if not contact["tags"]:
                        ui.label("—").classes("text-slate-800")
                    for tag in contact["tags"]:
                        ui.link(tag, f"/audience?tag={tag}").classes(
                            "text-xs no-underline bg-indigo-50 text-indigo-800 rounded-full px-2 py-0.5"
                        )
                added, exact = relative_now(contact["created_at"])
                _term("Added", added, "detail-added").tooltip(exact)
            ui.label("Attributes").classes("text-sm font-medium text-slate-700 mt-1")
            if not contact["attributes"]:
                ui.label("No attributes. Flows use them as {{contact.<name>}}.").classes(
                    "text-sm text-slate-500"
                ).mark("no-attributes")
            else:
                with (
                    ui.grid(columns="minmax(6rem, max-content) 1fr")
                    .classes("w-full gap-x-4 gap-y-1 text-sm")
                    .mark("attributes")
                ):
                    for key, value in sorted(contact["attributes"].items()):
                        ui.label(key).classes("text-slate-500 font-mono text-xs pt-0.5")
                        ui.label(attribute_text(value)).classes("text-slate-800 break-words")

    def _opt_outs(self) -> None:
        entries = self.contact.get("opt_outs") or []
        with section(
            "Marketing opt-outs",
            marker="contact-opt-outs",
            subtitle="What stops marketing to this contact now, per channel and category.",
        ):
            for channel in CHANNELS:
                address = address_on(self.contact, channel)
                mine = [entry for entry in entries if entry["channel"] == channel]
                with ui.row().classes("w-full items-start no-wrap gap-3").mark(f"opt-out-status-{channel}"):
                    ui.label(CHANNEL_LABEL[channel]).classes("w-20 text-sm font-medium text-slate-700 pt-0.5")
                    with ui.column().classes("flex-1 gap-1"):
                        if not address:
                            missing = "phone number" if channel in PHONE_CHANNELS else "email address"
                            ui.label(f"No {missing}").classes("text-sm text-slate-400")
                        elif not mine:
                            with ui.row().classes("items-center gap-1 text-sm text-emerald-700"):
                                ui.icon("check_circle", size="1rem")
                                ui.label("Receives marketing")
                        for entry in mine:
                            with ui.row().classes("items-center gap-1 no-wrap text-sm text-red-700"):
                                ui.icon("block", size="1rem")
                                ui.label(entry_sentence(entry)).mark("opt-out-entry")
                            if entry.get("remarks"):
                                ui.label(entry["remarks"]).classes("text-xs text-slate-500 pl-5")
            ui.link("Manage opt-outs", "/opt-outs").classes("text-sm")

    def _groups(self) -> None:
        groups = self.contact.get("groups") or []
        with section("Groups", marker="contact-groups"):
            if not groups:
                ui.label("Not in any group.").classes("text-sm text-slate-500")
            with ui.row().classes("gap-2"):
                for group in groups:
                    ui.link(group["name"], f"/audience/groups/{group['id']}").classes(
                        "text-sm no-underline bg-slate-100 text-slate-800 rounded-full px-3 py-1 hover:bg-indigo-50"
                    ).mark("contact-group")

    async def _load_history(self) -> None:
        addresses = [address for address in (self.contact["phone"], self.contact["email"]) if address]
        try:
            pages = await asyncio.gather(*(self._events_of(address) for address in addresses))
        except (ApiError, BackendUnreachable) as exc:
            with self.history:
                ui.label(
                    "The history could not be loaded: "
                    + (exc.detail if isinstance(exc, ApiError) else "the API is not answering")
                ).classes("text-sm text-amber-700")
            return
        events = merge_events(*pages)
        with self.history:
            if not events:
                ui.label("No opt-out or opt-in was ever recorded for this contact's addresses.").classes(
                    "text-sm text-slate-500"
                ).mark("history-empty")
                return
            with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                for event in events:
                    _event_row(event)

    async def _events_of(self, address: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(events) < HISTORY_MOST:
            page = await client.consent_events(self.session.token, address, cursor=cursor)
            events.extend(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        return events

    async def _load_runs(self) -> None:
        try:
            page = await client.contact_runs(self.session.token, self.contact["id"])
            flows = await client.flow_names(self.session.token) if page["items"] else {}
        except (ApiError, BackendUnreachable) as exc:
            with self.runs:
                ui.label(
                    "The runs could not be loaded: "
                    + (exc.detail if isinstance(exc, ApiError) else "the API is not answering")
                ).classes("text-sm text-amber-700")
            return
        with self.runs:
            if not page["items"]:
                ui.label("No flow has run for this contact.").classes("text-sm text-slate-500").mark(
                    "runs-empty"
                )
                return
            with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                for run in page["items"]:
                    _run_row(run, flows)
            if page["next_cursor"]:
                ui.label("The 20 latest runs are shown.").classes("text-xs text-slate-500")

    # --- actions ------------------------------------------------------------------------------------

    def edit(self) -> None:
        EditContactDialog(self.session, self.contact).open()

    async def delete(self) -> None:
        with (
            transient_dialog() as dialog,
            ui.card().classes("w-[30rem] max-w-full p-6 gap-3 rounded-xl").mark("delete-contact-dialog"),
        ):
            ui.label(f"Delete “{_title(self.contact)}”?").classes("text-lg font-semibold text-slate-900")
            ui.label(
                "The contact leaves its groups and its attributes are gone. Its consent history and any "
                "opt-out stay, so a person who opted out is never messaged again if re-imported."
            ).classes("text-sm text-slate-600")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat no-caps color=grey-8")
                ui.button("Delete contact", icon="delete", on_click=lambda: dialog.submit(True)).props(
                    "unelevated no-caps color=negative"
                ).mark("confirm-delete-contact")
        if not await dialog:
            return
        try:
            await client.delete_contact(self.session.token, self.contact["id"])
        except ApiError as exc:
            if exc.status != 404:
                action_failed(exc, "Not deleted", here=self.here)
                return
        except BackendUnreachable as exc:
            action_failed(exc, "Not deleted", here=self.here)
            return
        ui.notify("Contact deleted.", type="positive")
        ui.navigate.to("/audience")


def _term(label: str, value: str, marker: str) -> ui.label:
    ui.label(label).classes("text-slate-500")
    return ui.label(value).classes("text-slate-800 break-words").mark(marker)


def _event_row(event: dict[str, Any]) -> None:
    colour = "text-emerald-700" if event["kind"] == "opt_in" else "text-red-700"
    with ui.row().classes("w-full items-start no-wrap gap-4 py-3").mark("consent-event"):
        with ui.column().classes("w-36 shrink-0 gap-0"):
            when, exact = relative_now(event["at"])
            ui.label(day(event["at"])).classes("text-sm text-slate-800").tooltip(exact)
            ui.label(when).classes("text-xs text-slate-500")
        with ui.column().classes("flex-1 min-w-0 gap-1"):
            with ui.row().classes("items-center gap-2"):
                ui.label(event_title(event)).classes(f"text-sm font-medium {colour}").mark("event-title")
                ui.label(event["address"]).classes("text-xs text-slate-500")
            ui.label(event_scope(event)).classes("text-sm text-slate-700")
            source = event["source"].replace("_", " ")
            by = f" by {event['actor']}" if event["actor"] else ""
            ui.label(f"Source: {source}{by}").classes("text-xs text-slate-600").mark("event-source")
            if event["reason"]:
                ui.label(f"Why: {event['reason']}").classes("text-xs text-slate-600")
            lines = evidence_lines(event.get("evidence") or {})
            if lines:
                with (
                    ui.grid(columns="max-content 1fr")
                    .classes("gap-x-3 gap-y-0.5 text-xs bg-slate-50 rounded-md px-3 py-2")
                    .mark("event-evidence")
                ):
                    for label, text in lines:
                        ui.label(label).classes("text-slate-500")
                        ui.label(text).classes("text-slate-800 break-all")


def _run_row(run: dict[str, Any], flows: dict[int, str]) -> None:
    label, look = RUN_STATUS.get(run["status"], (run["status"].capitalize(), "bg-slate-100 text-slate-600"))
    with ui.row().classes("w-full items-center no-wrap gap-4 py-2").mark("run-row"):
        with ui.column().classes("flex-1 min-w-0 gap-0"):
            ui.link(
                f"{flows.get(run['flow_id'], 'Flow ' + str(run['flow_id']))} v{run['flow_version']}",
                f"/flows/{run['flow_id']}",
            ).classes("text-sm font-medium text-slate-900 no-underline hover:text-primary truncate")
            # A finished run says why it ended; only a live one is "at" a step.
            live = run["status"] in ("active", "waiting")
            where = live and run["current_node"] and f"at step {run['current_node']}"
            ended = run["ended_reason"] and ENDED_TEXT.get(run["ended_reason"], run["ended_reason"])
            detail = [TRIGGER_TEXT.get(run["trigger"], run["trigger"]), where or ended]
            if run.get("campaign_id"):
                detail.append(f"campaign {run['campaign_id']}")
            ui.label(" · ".join(part for part in detail if part)).classes("text-xs text-slate-500")
            if run["status"] == "failed" and run.get("last_error"):
                # What the step raised, for whoever fixes the flow or the contact's data.
                ui.label(run["last_error"]).classes("text-xs text-red-700 truncate").tooltip(
                    run["last_error"]
                ).mark("run-error")
        ui.label(label).classes(f"text-xs font-medium px-2 py-0.5 rounded-full {look}").mark("run-status")
        started, exact = relative_now(run["started_at"])
        ui.label(started).classes("w-24 text-right text-xs text-slate-500").tooltip(exact)


class EditContactDialog:
    """Phone, email, name, time zone, tags and attributes; a PATCH of what changed."""

    def __init__(self, session: Session, contact: dict[str, Any]) -> None:
        self.session = session
        self.contact = contact
        self.attribute_rows: list[tuple[ui.input, ui.input]] = []
        zones = sorted(available_timezones())
        with (
            transient_dialog() as self.dialog,
            ui.card().classes("w-[40rem] max-w-full p-6 gap-3 rounded-xl").mark("edit-contact-dialog"),
        ):
            ui.label("Edit contact").classes("text-lg font-semibold text-slate-900")
            self.inputs: dict[str, Any] = {
                "name": ui.input("Name", value=contact["name"])
                .props("outlined dense counter maxlength=200")
                .classes("w-full")
                .mark("edit-name"),
            }
            with ui.row().classes("w-full gap-3 no-wrap"):
                self.inputs["phone"] = (
                    ui.input("Phone", value=contact["phone"] or "")
                    .props("outlined dense")
                    .classes("flex-1")
                    .mark("edit-phone")
                )
                self.inputs["email"] = (
                    ui.input("Email", value=contact["email"] or "")
                    .props("outlined dense")
                    .classes("flex-1")
                    .mark("edit-email")
                )
            self.inputs["timezone"] = (
                ui.select(
                    zones,
                    label="Time zone (empty: the workspace's)",
                    value=contact["timezone"],
                    with_input=True,
                    clearable=True,
                )
                .props("outlined dense options-dense")
                .classes("w-full")
                .mark("edit-timezone")
            )
            self.inputs["tags"] = (
                ui.input_chips("Tags", value=list(contact["tags"]), new_value_mode="add-unique")
                .props("outlined dense")
                .classes("w-full")
                .mark("edit-tags")
            )
            ui.label("Attributes").classes("text-sm font-medium text-slate-700")
            self.attributes_box = ui.column().classes("w-full gap-2").mark("edit-attributes")
            with self.attributes_box:
                for key, value in sorted(contact["attributes"].items()):
                    self._attribute_row(key, attribute_text(value))
            ui.button("Add attribute", icon="add", on_click=self._new_attribute_row).props(
                "flat dense no-caps"
            ).mark("add-attribute")
            self.error = ui.label("").classes("text-sm text-red-700").mark("edit-error")
            self.error.visible = False
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps color=grey-8")
                ui.button("Save", icon="check", on_click=self.save).props("unelevated no-caps").mark(
                    "save-contact"
                )

    def open(self) -> None:
        self.dialog.open()

    def _new_attribute_row(self) -> None:
        with self.attributes_box:
            self._attribute_row("", "")

    def _attribute_row(self, key: str, text: str) -> None:
        with ui.row().classes("w-full gap-2 no-wrap items-start") as row:
            key_input = (
                ui.input(placeholder="name", value=key)
                .props("outlined dense")
                .classes("w-48")
                .mark("attribute-key")
            )
            value_input = (
                ui.input(placeholder="value", value=text)
                .props("outlined dense")
                .classes("flex-1")
                .mark("attribute-value")
            )
            pair = (key_input, value_input)

            def remove() -> None:
                self.attribute_rows.remove(pair)
                row.delete()

            ui.button(icon="close", on_click=remove).props("flat round dense color=grey-7").mark(
                "remove-attribute"
            )
        self.attribute_rows.append(pair)

    def changes(self) -> dict[str, Any] | None:
        """What differs from the contact, or None when a field is wrong (its error is shown)."""
        rows = [(key.value or "", value.value or "") for key, value in self.attribute_rows]
        attributes, problems = edited_attributes(rows, self.contact["attributes"])
        for index, (key_input, _) in enumerate(self.attribute_rows):
            key_input.error = problems.get(index)
        if problems:
            return None
        values = {
            "name": (self.inputs["name"].value or "").strip(),
            "phone": (self.inputs["phone"].value or "").strip() or None,
            "email": (self.inputs["email"].value or "").strip() or None,
            "timezone": self.inputs["timezone"].value or None,
            "tags": list(self.inputs["tags"].value or []),
            "attributes": attributes,
        }
        if values["phone"] is None and values["email"] is None:
            self.inputs["phone"].error = "A contact needs a phone number or an email address."
            return None
        return {key: value for key, value in values.items() if value != self.contact.get(key)}

    async def save(self) -> None:
        self.error.visible = False
        for name in ("name", "phone", "email", "timezone", "tags"):
            self.inputs[name].error = None
        changes = self.changes()
        if changes is None:
            return
        if not changes:
            self.dialog.close()
            return
        try:
            await client.update_contact(self.session.token, self.contact["id"], changes)
        except ApiError as exc:
            if exc.status == 401:
                action_failed(exc, "Not saved", here=f"/audience/contacts/{self.contact['id']}")
                return
            attribute_problem = next(
                (m for f, m in exc.field_errors.items() if f.startswith("attributes")), None
            )
            if not field_errors_into({k: v for k, v in self.inputs.items() if k != "attributes"}, exc) or (
                attribute_problem
            ):
                self.error.text = f"Not saved: {attribute_problem or exc.detail}"
                self.error.visible = True
            return
        except BackendUnreachable as exc:
            self.error.text = f"Not saved: Flowgate's API at {exc.url} is not answering."
            self.error.visible = True
            return
        ui.notify("Contact saved.", type="positive")
        ui.navigate.reload()
