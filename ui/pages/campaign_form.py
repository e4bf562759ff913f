"""``/campaigns/new`` and ``/campaigns/{id}/edit``: the campaign form.

While it is filled in, the form asks the API what it would do if saved now (``POST /campaigns/preview``):
the plan in words with its number of triggers, and how many of the group the campaign would reach, so
"990 of 1000 — 10 opted out" moves as the group, sender or toggle change, with the excluded downloadable.
The form's own checks are the ones a person needs while typing (lengths with counters, the period's
order); the API judges the rest and its sentence appears under the field it names.

Turning "send only to contacts opted in for marketing" off needs a confirmation that carries the warning
about the sender's quality rating; the request then carries ``confirm_include_opted_out``, and the API
writes it to the audit log.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable, CampaignInfo, CampaignPreview, api
from ui.components.campaign_rules import (
    DESCRIPTION_MAX,
    NAME_MAX,
    UNITS,
    CampaignForm,
    audience_sentence,
    field_of,
    input_time,
    next_start,
)
from ui.components.dialogs import transient_dialog
from ui.components.preview_pane import PreviewPane
from ui.layout import page_heading, shell_page
from ui.pages.campaigns_list import _all_flows
from ui.session import Session, forget, login_url

PREVIEW_DELAY_S = 0.3
"""Typing pauses this long before the API is asked for the plan and the audience."""
EDITABLE = ("scheduled", "paused")

OPT_IN_WARNING = (
    "Contacts an admin or an import marked as not consenting will receive this marketing campaign. "
    "Contacts who opted out themselves (by STOP, the web form or an unsubscribe link) still never do. "
    "Messaging people who did not ask for it makes them block and report the sender, which lowers its "
    "quality rating with WhatsApp and can get the number limited or banned."
)


def register() -> None:
    shell_page("/campaigns/new", "New campaign")(new_campaign_body)
    shell_page("/campaigns/{campaign_id}/edit", "Modify campaign")(edit_campaign_body)


async def new_campaign_body(session: Session) -> None:
    page_heading("New campaign", "Send a published flow to a group, once or on a schedule.")
    if not session.allows("marketer"):
        ui.label("Viewers can look at campaigns but not create them.").classes("text-slate-600")
        return
    now = datetime.now(UTC)
    start = next_start(now)
    form = CampaignForm(start=input_time(start), end=input_time(start + timedelta(days=7)))
    await CampaignFormPage(session, form, None).build()


async def edit_campaign_body(session: Session, campaign_id: str = "") -> None:
    if not campaign_id.isdigit():
        page_heading("Campaign not found", "This address does not name a campaign.")
        return
    try:
        campaign = await api.get_campaign(session.token, int(campaign_id))
    except (ApiError, BackendUnreachable) as exc:
        _load_failure(exc, f"/campaigns/{campaign_id}/edit")
        return
    page_heading(f"Modify “{campaign['name']}”", "Changes apply from the next trigger.")
    if campaign["status"] not in EDITABLE or not session.allows("marketer"):
        reason = (
            "Only marketers and admins change campaigns."
            if not session.allows("marketer")
            else f"A {campaign['status']} campaign cannot be modified"
            + ("; suspend it first." if campaign["status"] == "running" else ".")
        )
        ui.label(reason).classes("text-slate-700").mark("not-editable")
        ui.link("Back to its monitor", f"/campaigns/{campaign['id']}")
        return
    await CampaignFormPage(session, CampaignForm.from_campaign(campaign), campaign).build()


def _load_failure(exc: ApiError | BackendUnreachable, here: str) -> None:
    if isinstance(exc, ApiError) and exc.status == 401:
        forget()
        ui.navigate.to(login_url(here))
        return
    if isinstance(exc, ApiError) and exc.status == 404:
        page_heading("Campaign not found", "It was deleted, or it belongs to another workspace.")
        return
    detail = exc.detail if isinstance(exc, ApiError) else f"the API at {exc.url} is not answering"
    page_heading("Campaign", f"It could not be loaded: {detail}.")


class CampaignFormPage:
    def __init__(self, session: Session, form: CampaignForm, campaign: CampaignInfo | None) -> None:
        self.session = session
        self.form = form
        self.campaign = campaign
        self.original = form.body() if campaign else None
        self.confirmed_opt_in_off = False
        self.inputs: dict[str, Any] = {}
        self.api_errors: dict[str, str] = {}
        self.touched: set[str] = set()
        self.generation = 0
        self.preview: CampaignPreview | None = None

    async def build(self) -> None:
        token = self.session.token
        try:
            flows, groups, senders, categories = await asyncio.gather(
                _all_flows(token), api.list_groups(token), api.list_senders(token), api.list_categories(token)
            )
        except (ApiError, BackendUnreachable) as exc:
            _load_failure(exc, "/campaigns/new")
            return
        sendable = {
            flow["id"]: f"{flow['name']} (v{flow['latest_version']})"
            for flow in flows
            if flow["latest_version"] is not None and flow["trigger"] == "manual"
        }
        if self.form.flow_id is not None and self.form.flow_id not in sendable:
            sendable[self.form.flow_id] = f"flow {self.form.flow_id} (not sendable now)"
        if self.campaign is None and self.form.sender_id is None and len(senders) == 1:
            self.form.sender_id = senders[0]["id"]  # the only way out: nothing to choose
        self.sender_names = {
            sender["id"]: f"{sender['name']} · {sender['channel']} {sender['address']}" for sender in senders
        }
        with ui.card().classes("w-full p-6 gap-5 shadow-sm rounded-xl").mark("campaign-form"):
            self._section("About")
            self._text("name", "Name", NAME_MAX, "campaign-name")
            self._text("description", "Description (optional)", DESCRIPTION_MAX, "campaign-description")

            self._section("What is sent")
            with ui.row().classes("w-full items-start gap-3 no-wrap"):
                self._select("flow_id", "Flow", sendable, "campaign-flow", "flex-1")
                self.preview_button = (
                    ui.button("Preview", icon="smartphone", on_click=self.open_flow_preview)
                    .props("outline no-caps")
                    .classes("mt-1")
                    .mark("preview-flow")
                )
            if not sendable:
                ui.label(
                    "No flow can be sent yet: publish a flow whose start is “Manual or campaign” first."
                ).classes("text-sm text-amber-800").mark("no-flows")
            self._select("sender_id", "Sender", self.sender_names, "campaign-sender", "w-full")
            with ui.row().classes("w-full gap-3 no-wrap"):
                self._select(
                    "kind",
                    "Kind",
                    {"marketing": "Marketing", "transactional": "Transactional"},
                    "campaign-kind",
                    "w-48",
                    clearable=False,
                )
                self._select(
                    "category_id",
                    "Marketing category (optional)",
                    {category["id"]: category["name"] for category in categories},
                    "campaign-category",
                    "flex-1",
                )

            self._section("To whom")
            self._select(
                "group_id",
                "Group",
                {group["id"]: group["name"] for group in groups},
                "campaign-group",
                "w-full",
            )
            with ui.column().classes("w-full gap-1 p-3 rounded-lg bg-slate-50 border border-slate-200"):
                self.opt_in_switch = (
                    ui.switch(
                        "Send only to contacts opted in for marketing",
                        value=self.form.opted_in_only,
                        on_change=self.opt_in_changed,
                    )
                    .props("color=primary")
                    .mark("opted-in-only")
                )
                with ui.row().classes("w-full items-center gap-2 no-wrap"):
                    self.audience_label = (
                        ui.label("Pick a group and a sender to see who it reaches.")
                        .classes("text-sm text-slate-700 flex-1")
                        .mark("audience-count")
                    )
                    self.excluded_button = (
                        ui.button("Excluded (CSV)", icon="download", on_click=self.download_excluded)
                        .props("flat dense no-caps")
                        .mark("download-excluded")
                    )
                    self.excluded_button.visible = False
            ui.checkbox(
                "Let contacts who finished the flow enter again at later triggers",
                value=self.form.allow_reentry,
                on_change=lambda e: self.changed("allow_reentry", e.value),
            ).mark("allow-reentry")

            self._section("When (UTC)")
            with ui.row().classes("w-full gap-3 no-wrap max-sm:flex-wrap"):
                self._time("start", "start_at", "Starts", "campaign-start")
                self._time("end", "end_at", "Ends", "campaign-end")
            with ui.row().classes("w-full items-start gap-3 no-wrap"):
                every = (
                    ui.number(
                        "A trigger every",
                        value=self.form.count,
                        min=1,
                        precision=0,
                        on_change=lambda e: self.changed("count", e.value, field="every.count"),
                    )
                    .props("outlined dense stack-label")
                    .classes("w-40")
                    .mark("campaign-every")
                )
                self.inputs["every.count"] = every
                ui.select(
                    UNITS, value=self.form.unit, on_change=lambda e: self.changed("unit", e.value)
                ).props("outlined dense").classes("w-36").mark("campaign-unit")
            self.plan_label = ui.label("").classes("text-sm text-slate-700").mark("campaign-plan")

            with ui.row().classes("w-full justify-end gap-2 pt-2"):
                back = f"/campaigns/{self.campaign['id']}" if self.campaign else "/campaigns"
                ui.button("Cancel", on_click=lambda: ui.navigate.to(back)).props("flat no-caps")
                ui.button(
                    "Save changes" if self.campaign else "Create campaign", icon="check", on_click=self.save
                ).props("unelevated no-caps color=primary").mark("save-campaign")
        self.refresh_errors()
        await self.refresh_preview()

    # --- building blocks -----------------------------------------------------------------------------

    @staticmethod
    def _section(title: str) -> None:
        ui.label(title).classes("text-xs font-semibold uppercase tracking-wide text-slate-500 -mb-2")

    def _text(self, key: str, label: str, limit: int, marker: str) -> None:
        element = (
            ui.input(
                label, value=getattr(self.form, key), on_change=lambda e: self.changed(key, e.value or "")
            )
            .props(f"outlined dense stack-label counter maxlength={limit}")
            .classes("w-full")
            .mark(marker)
        )
        self.inputs[key] = element

    def _select(
        self,
        key: str,
        label: str,
        options: dict[Any, str],
        marker: str,
        width: str,
        *,
        clearable: bool = True,
    ) -> None:
        element = (
            ui.select(
                options,
                label=label,
                value=getattr(self.form, key),
                clearable=clearable,
                with_input=len(options) > 8,
                on_change=lambda e: self.changed(key, e.value),
            )
            .props("outlined dense stack-label options-dense")
            .classes(width)
            .mark(marker)
        )
        self.inputs[key] = element

    def _time(self, attribute: str, key: str, label: str, marker: str) -> None:
        element = (
            ui.input(
                label,
                value=getattr(self.form, attribute),
                on_change=lambda e: self.changed(attribute, e.value or "", field=key),
            )
            .props("type=datetime-local outlined dense stack-label")
            .classes("flex-1")
            .mark(marker)
        )
        self.inputs[key] = element

    # --- reacting ----------------------------------------------------------------------------------------

    async def changed(self, attribute: str, value: Any, *, field: str | None = None) -> None:
        setattr(self.form, attribute, value)
        key = field or attribute
        self.touched.add(key)
        self.api_errors.pop(key, None)
        self.refresh_errors()
        await self.refresh_preview()

    def refresh_errors(self) -> None:
        """Problems under the fields the person has touched (all of them after a save attempt)."""
        problems = self.form.problems(datetime.now(UTC))
        for key, element in self.inputs.items():
            message = self.api_errors.get(key) or (problems.get(key) if key in self.touched else None)
            element.props(remove="error error-message")
            if message:
                element.props(f'error error-message="{_attribute(message)}"')
        self.preview_button.enabled = self.form.flow_id is not None

    async def refresh_preview(self) -> None:
        self.generation += 1
        generation = self.generation
        await asyncio.sleep(PREVIEW_DELAY_S)
        if generation != self.generation:
            return
        try:
            preview = await api.preview_campaign(
                self.session.token, self.form.preview_body(self.campaign["id"] if self.campaign else None)
            )
        except (ApiError, BackendUnreachable) as exc:
            if generation == self.generation:
                detail = exc.detail if isinstance(exc, ApiError) else "the API is not answering"
                self.audience_label.set_text(f"Who it reaches could not be worked out: {detail}.")
            return
        if generation != self.generation:
            return
        self.preview = preview
        audience = preview["audience"]
        self.audience_label.set_text(
            audience_sentence(audience) if audience else "Pick a group and a sender to see who it reaches."
        )
        excluded = sum(audience["excluded"].values()) if audience else 0
        self.excluded_button.visible = bool(excluded)
        self.plan_label.set_text(
            f"Plan: {preview['plan']}." if preview["plan"] else "Pick a start, an end and how often it fires."
        )

    async def opt_in_changed(self, event: Any) -> None:
        if event.value or self.form.opted_in_only is False:
            self.form.opted_in_only = bool(event.value)
            await self.refresh_preview()
            return
        self._confirm_opt_in_off()

    def _confirm_opt_in_off(self) -> None:
        decided = False
        with transient_dialog() as dialog, ui.card().classes("w-[30rem] gap-3").mark("opt-in-dialog"):
            ui.label("Also send to contacts not opted in for marketing?").classes("text-lg font-semibold")
            with ui.row().classes("no-wrap gap-2 p-3 rounded bg-amber-50 border border-amber-200"):
                ui.icon("warning").classes("text-amber-700 text-xl")
                ui.label(OPT_IN_WARNING).classes("text-sm text-amber-900").mark("opt-in-warning")
            ui.label("The change is written to the workspace's audit log with your name.").classes(
                "text-xs text-slate-500"
            )
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Keep opted-in only", on_click=dialog.close).props("flat no-caps").mark(
                    "keep-opt-in"
                )

                async def confirm() -> None:
                    nonlocal decided
                    decided = True
                    self.form.opted_in_only = False
                    self.confirmed_opt_in_off = True
                    dialog.close()
                    await self.refresh_preview()

                ui.button("Send to them too", on_click=confirm).props(
                    "unelevated no-caps color=negative"
                ).mark("confirm-opt-in-off")

        def closed(event: Any) -> None:
            if not event.value and not decided:
                self.opt_in_switch.set_value(True)  # cancelled: the switch goes back on

        dialog.on_value_change(closed)
        dialog.open()

    async def open_flow_preview(self) -> None:
        if self.form.flow_id is None:
            return
        pinned = (
            self.campaign["flow_version"]
            if self.campaign and self.campaign["flow_id"] == self.form.flow_id
            else None
        )
        with (
            transient_dialog() as dialog,
            ui.card().classes("p-3 items-center gap-2").mark("flow-preview-dialog"),
        ):
            ui.label(
                f"Version {pinned}, which this campaign is pinned to"
                if pinned
                else "The latest version: the campaign pins it when it first starts"
            ).classes("text-xs text-slate-500")

            def close() -> None:
                dialog.close()  # not handed over itself: it returns the dialog, which is awaitable

            pane = PreviewPane(self.session, self.form.flow_id, version=pinned, on_close=close)
        dialog.open()
        await pane.start(pinned)

    async def download_excluded(self) -> None:
        body = self.form.preview_body(self.campaign["id"] if self.campaign else None)
        params = {
            key: body.get(key) for key in ("group_id", "sender_id", "category_id", "kind", "campaign_id")
        }
        params["opted_in_only"] = str(self.form.opted_in_only).lower()
        params["allow_reentry"] = str(self.form.allow_reentry).lower()
        try:
            data = await api.download(self.session.token, "/api/v1/campaigns/preview/excluded", params=params)
        except (ApiError, BackendUnreachable) as exc:
            detail = exc.detail if isinstance(exc, ApiError) else "the API is not answering"
            ui.notify(f"The list could not be downloaded: {detail}", type="negative")
            return
        ui.download(data, "excluded-contacts.csv", "text/csv")

    async def save(self) -> None:
        problems = self.form.problems(datetime.now(UTC))
        body = self.form.body()
        if self.campaign and self.original is not None:
            # Only what changed: an unchanged start in the past is not a new start.
            body = {key: value for key, value in body.items() if value != self.original.get(key)}
            problems = {key: message for key, message in problems.items() if _field_key(key) in body}
        if problems:
            self.touched.update(problems)
            self.refresh_errors()
            ui.notify("Some fields need attention.", type="warning")
            return
        if self.confirmed_opt_in_off and not self.form.opted_in_only:
            body["confirm_include_opted_out"] = True
        try:
            if self.campaign:
                saved = await api.update_campaign(self.session.token, self.campaign["id"], body)
            else:
                saved = await api.create_campaign(self.session.token, body)
        except BackendUnreachable:
            ui.notify("The API is not answering; nothing was saved.", type="negative")
            return
        except ApiError as exc:
            if exc.status == 401:
                forget()
                ui.navigate.to(login_url("/campaigns/new"))
                return
            self.api_errors = {field_of(key): message for key, message in exc.field_errors.items()}
            self.touched.update(self.api_errors)
            self.refresh_errors()
            ui.notify(exc.detail, type="negative", multi_line=True)
            return
        ui.notify(f"“{saved['name']}” is saved: {saved['plan']}.", type="positive")
        ui.navigate.to(f"/campaigns/{saved['id']}")


def _field_key(problem_key: str) -> str:
    """The body key a form problem belongs to (``every.count`` -> ``every``)."""
    return problem_key.split(".", 1)[0]


def _attribute(text: str) -> str:
    return text.replace('"', "'")
