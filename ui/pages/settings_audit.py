"""``/settings/audit-log``: who changed what in this workspace, newest first, filtered by action and date.

The filters are the API's own (an exact action, events since a time), so the list is exactly what
``GET /api/v1/audit-log`` answers; older events load with its cursor.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import workspace
from ui.clients.workspace import AuditEvent
from ui.components.page_states import action_failed, empty_card, problem_card, to_login
from ui.components.settings_parts import admins_only, detail_in_words, in_words, settings_heading
from ui.components.times import absolute_time, parse_timestamp, plural, relative_time
from ui.layout import shell_page
from ui.session import Session

PATH = "/settings/audit-log"
PAGE_SIZE = 50
TYPING_DELAY_S = 0.4
DETAILS_MAX = 180

SUBJECTS = {
    "api_key": "API key",
    "campaign": "Campaign",
    "contact": "Contact",
    "flow": "Flow",
    "group": "Group",
    "import": "Import",
    "marketing_category": "Marketing category",
    "optout": "Opt-out",
    "sender": "Sender",
    "settings": "Settings",
    "user": "User",
    "webhook": "Webhook",
    "workspace": "Workspace",
}
VERBS = {"updated": "changed", "opted_in_only_off": "sent beyond opted-in contacts"}
ACTIONS = (
    "api_key.created",
    "api_key.revoked",
    "campaign.created",
    "campaign.deleted",
    "campaign.ended",
    "campaign.opted_in_only_off",
    "campaign.restarted",
    "campaign.resumed",
    "campaign.started",
    "campaign.suspended",
    "campaign.updated",
    "contact.deleted",
    "flow.created",
    "flow.deleted",
    "flow.published",
    "group.created",
    "group.deleted",
    "group.updated",
    "import.created",
    "marketing_category.created",
    "marketing_category.deleted",
    "marketing_category.updated",
    "optout.created",
    "optout.extended",
    "optout.revoked",
    "sender.created",
    "sender.deleted",
    "sender.updated",
    "settings.updated",
    "user.created",
    "user.deleted",
    "user.updated",
    "webhook.created",
    "webhook.deleted",
    "webhook.disabled",
    "webhook.enabled",
    "webhook.tested",
    "workspace.created",
)
"""Suggestions for the action filter (the API records these today); any other exact action can be typed."""


def register() -> None:
    shell_page(PATH, "Audit log · Settings")(audit_body)


# --- pure helpers (tested directly) ---------------------------------------------------------------------


def action_text(action: str) -> str:
    """``api_key.revoked`` -> ``API key revoked``; an action this page does not know reads as words."""
    subject, _, verb = action.partition(".")
    name = SUBJECTS.get(subject, subject.replace("_", " ").capitalize())
    return f"{name} {VERBS.get(verb, verb.replace('_', ' '))}".strip()


def _value_text(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"from", "to"}:
        return f"{_value_text(value['from'])} → {_value_text(value['to'])}"
    if isinstance(value, list):
        return ", ".join(_value_text(item) for item in value) or "none"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_value_text(item)}" for key, item in value.items()) + "}"
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def details_text(data: dict[str, Any], limit: int = DETAILS_MAX) -> str:
    """An event's data in one line (``marketing_unsubscription_days: 30 → 45 · …``), cut at ``limit``."""
    text = " · ".join(f"{key.replace('_', ' ')}: {_value_text(value)}" for key, value in data.items())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def target_text(event: AuditEvent) -> str:
    if not event["target_type"]:
        return ""
    name = SUBJECTS.get(event["target_type"], event["target_type"].replace("_", " "))
    return f"{name} #{event['target_id']}" if event["target_id"] else name


def since_param(day: str | None) -> str | None:
    """The ``since`` of a picked day (``2026-11-20``): that day's start in UTC; None without a day."""
    if not day:
        return None
    return (
        datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).isoformat().replace("+00:00", "Z")
    )


# --- the page -------------------------------------------------------------------------------------------


async def audit_body(session: Session) -> None:
    settings_heading(session, PATH)
    if not session.is_admin:
        admins_only("the audit log")
        return
    page = AuditPage(session)
    page.build()
    await page.load()


@dataclass
class AuditPage:
    session: Session
    action: str | None = None
    since: str | None = None
    events: list[AuditEvent] = field(default_factory=list)
    next_cursor: str | None = None
    generation: int = 0
    body: ui.column = field(init=False, repr=False)
    action_input: ui.input = field(init=False, repr=False)
    since_input: ui.input = field(init=False, repr=False)

    def build(self) -> None:
        with ui.row().classes("w-full items-start gap-3"):
            self.action_input = (
                ui.input(
                    "Action",
                    placeholder="e.g. api_key.revoked",
                    autocomplete=list(ACTIONS),
                    on_change=lambda e: self.action_typed(e.value),
                )
                .props("outlined dense clearable stack-label")
                .classes("w-72 max-sm:w-full bg-white")
                .mark("audit-action")
            )
            self.since_input = (
                ui.input("Since (UTC)", on_change=lambda e: self.since_picked(e.value))
                .props("type=date outlined dense clearable stack-label")
                .classes("w-48 bg-white")
                .mark("audit-since")
            )
            ui.space()
            ui.label("Newest first").classes("text-sm text-slate-500 pt-2")
        self.body = ui.column().classes("w-full gap-3")

    async def action_typed(self, value: str | None) -> None:
        self.action = (value or "").strip() or None
        self.generation += 1
        generation = self.generation
        await asyncio.sleep(TYPING_DELAY_S)
        if generation == self.generation:
            await self.load()

    async def since_picked(self, value: str | None) -> None:
        try:
            self.since = since_param(value)
        except ValueError:
            self.since_input.error = "Pick a day, e.g. 2026-01-31."
            return
        self.since_input.error = None
        await self.load()

    async def load(self) -> None:
        self.generation += 1
        generation = self.generation
        try:
            page = await workspace.audit_log(
                self.session.token, action=self.action, since=self.since, limit=PAGE_SIZE
            )
        except (ApiError, BackendUnreachable) as exc:
            if generation == self.generation:
                self._failed(exc)
            return
        if generation != self.generation:
            return
        self.events = list(page["items"])
        self.next_cursor = page["next_cursor"]
        self.render()

    async def load_more(self) -> None:
        generation = self.generation
        try:
            page = await workspace.audit_log(
                self.session.token,
                action=self.action,
                since=self.since,
                cursor=self.next_cursor,
                limit=PAGE_SIZE,
            )
        except (ApiError, BackendUnreachable) as exc:
            action_failed(exc, "Older events could not be loaded", here=PATH, wording=detail_in_words)
            return
        if generation != self.generation:
            return
        self.events.extend(page["items"])
        self.next_cursor = page["next_cursor"]
        self.render()

    def _failed(self, exc: ApiError | BackendUnreachable) -> None:
        if isinstance(exc, ApiError) and exc.status == 401:
            to_login(PATH)
            return
        if isinstance(exc, ApiError) and exc.status == 400 and "since" in exc.field_errors:
            self.since_input.error = in_words(exc.field_errors["since"])
            return
        self.body.clear()
        with self.body:
            problem_card(exc, "the audit log", self.load)

    def render(self) -> None:
        self.body.clear()
        now = datetime.now(UTC)
        with self.body:
            if not self.events:
                if self.action or self.since:
                    empty_card(
                        "filter_alt_off",
                        "No events match",
                        "Nothing was recorded with this action"
                        + (" since that day" if self.since else "")
                        + ". Actions are exact, e.g. api_key.revoked.",
                    )
                else:
                    empty_card(
                        "history", "Nothing recorded", "Changes to this workspace will be listed here."
                    )
                return
            with (
                ui.card().classes("w-full p-0 gap-0 shadow-sm rounded-xl overflow-hidden").mark("audit-list")
            ):
                with ui.row().classes(
                    "w-full items-center no-wrap gap-4 px-5 py-2 bg-slate-50 border-b border-slate-200 "
                    "text-xs font-medium uppercase tracking-wide text-slate-500"
                ):
                    ui.label("When").classes("w-28")
                    ui.label("What").classes("w-56")
                    ui.label("Who").classes("w-56 max-md:hidden")
                    ui.label("Details").classes("flex-1 min-w-0 max-sm:hidden")
                with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                    for event in self.events:
                        self._row(event, now)
            with ui.row().classes("w-full items-center px-1"):
                ui.label(
                    plural(len(self.events), "event") + ("; older ones to load" if self.next_cursor else "")
                ).classes("text-sm text-slate-500").mark("audit-count")
                ui.space()
                if self.next_cursor:
                    ui.button("Load older", icon="expand_more", on_click=self.load_more).props(
                        "flat no-caps"
                    ).mark("load-more")

    def _row(self, event: AuditEvent, now: datetime) -> None:
        at = parse_timestamp(event["at"])
        with (
            ui.row()
            .classes("w-full items-start no-wrap gap-4 px-5 py-3 text-sm")
            .mark("audit-row", f"audit-{event['id']}")
        ):
            ui.label(relative_time(at, now)).classes("w-28 text-slate-600 whitespace-nowrap").tooltip(
                absolute_time(at)
            )
            with ui.column().classes("w-56 gap-0 min-w-0"):
                ui.label(action_text(event["action"])).classes("font-medium text-slate-900").mark(
                    "audit-what"
                )
                target = target_text(event)
                ui.label(f"{event['action']}" + (f" · {target}" if target else "")).classes(
                    "text-xs font-mono text-slate-500 truncate"
                )
            ui.label(event["actor"]).classes("w-56 text-slate-700 truncate max-md:hidden").tooltip(
                event["actor"]
            ).mark("audit-who")
            details = details_text(event["data"])
            label = ui.label(details).classes("flex-1 min-w-0 text-slate-600 break-words max-sm:hidden")
            label.mark("audit-details")
            if details.endswith("…"):
                label.tooltip(details_text(event["data"], limit=2000))
