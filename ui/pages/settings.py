"""``/settings``: the workspace's rules (opt-out duration, default phone region, time zone, private URLs)
and the public opt-out form's address; every role reads them, only admins change them.

:func:`register` also adds the admin sections under ``/settings/…`` (users, API keys, webhooks, audit
log), so the app wires the whole of Settings with one call.

The form does not re-implement the API's validation: it sends what changed and shows the API's own
message, in words, under the field it names, so each rule lives in one place.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import phonenumbers
from nicegui import ui
from phonenumbers import geocoder

from ui.backend import ApiError, BackendUnreachable
from ui.clients import workspace
from ui.clients.workspace import Settings
from ui.components.copy_field import copy_field
from ui.components.page_states import action_failed, problem_card, to_login
from ui.components.settings_parts import (
    CARD,
    detail_in_words,
    in_words,
    section_title,
    settings_heading,
)
from ui.layout import shell_page
from ui.session import Session

PATH = "/settings"
DAYS_FIELD = "marketing_unsubscription_days"
REGION_FIELD = "default_phone_region"
ZONE_FIELD = "timezone"
PRIVATE_FIELD = "allow_private_urls"
FIELDS = (DAYS_FIELD, REGION_FIELD, ZONE_FIELD, PRIVATE_FIELD)
DAYS_RANGE = (1, 3650)
"""The API's limits on the opt-out duration, only to word its refusal as one range; the API judges."""
NO_REGION = "None: numbers must start with their +country code"

_UNNAMED_REGIONS = {
    "AC": "Ascension Island",
    "BL": "Saint Barthélemy",
    "EH": "Western Sahara",
    "MF": "Saint Martin",
    "TA": "Tristan da Cunha",
    "XK": "Kosovo",
}
"""Regions phonenumbers has no English name for (it names a country from an example number)."""


def register() -> None:
    from ui.pages import (
        settings_api_keys,
        settings_audit,
        settings_deliveries,
        settings_users,
        settings_webhooks,
    )

    shell_page(PATH, "Settings")(settings_body)
    settings_users.register()
    settings_api_keys.register()
    settings_webhooks.register()
    settings_deliveries.register()
    settings_audit.register()


# --- pure helpers (tested directly) ---------------------------------------------------------------------


def region_name(code: str) -> str:
    """``PT`` -> ``Portugal``; an unknown code comes back as it is."""
    if code in _UNNAMED_REGIONS:
        return _UNNAMED_REGIONS[code]
    example = phonenumbers.example_number(code)
    name = geocoder.country_name_for_number(example, "en") if example is not None else ""
    return name or code


@cache
def region_options() -> dict[str, str]:
    """Every region phone numbers can be read in, by name: ``{"PT": "Portugal (PT, +351)", …}``, led by
    the empty choice (no default region)."""
    named = {
        code: f"{region_name(code)} ({code}, +{phonenumbers.country_code_for_region(code)})"
        for code in phonenumbers.SUPPORTED_REGIONS
    }
    return {"": NO_REGION, **dict(sorted(named.items(), key=lambda item: item[1].casefold()))}


def timezone_options(current: str) -> list[str]:
    """IANA time zones, sorted, with the current one kept even if this machine's tz database lacks it."""
    zones = {zone for zone in zoneinfo.available_timezones() if "/" in zone or zone == "UTC"}
    zones.add(current)
    return sorted(zones)


def changes(current: Settings, form: dict[str, Any]) -> dict[str, Any]:
    """The fields whose value in the form differs from the saved one: the body of the PATCH."""
    return {key: value for key, value in form.items() if key in FIELDS and current.get(key) != value}


def change_sentence(key: str, settings: Settings) -> str:
    """What a saved change means, in words, for the confirmation."""
    if key == DAYS_FIELD:
        days = settings[DAYS_FIELD]
        return f"opt-outs from campaign replies now last {days} {'day' if days == 1 else 'days'}"
    if key == REGION_FIELD:
        region = settings[REGION_FIELD]
        if not region:
            return "phone numbers now need their +country code"
        return f"phone numbers without +country code are now read as {region_name(region)} ({region}) numbers"
    if key == ZONE_FIELD:
        return f"the workspace's time zone is now {settings[ZONE_FIELD]}"
    if settings[PRIVATE_FIELD]:
        return "HTTP steps and webhooks may now call private and local addresses"
    return "HTTP steps and webhooks can no longer call private and local addresses"


def saved_text(keys: list[str], settings: Settings) -> str:
    return "Saved: " + "; ".join(change_sentence(key, settings) for key in keys) + "."


def region_text(code: str) -> str:
    return region_options().get(code, code) if code else "None (numbers need their +country code)"


# --- the page -------------------------------------------------------------------------------------------


async def settings_body(session: Session) -> None:
    settings_heading(session, PATH)
    page = WorkspacePage(session)
    page.container = ui.column().classes("w-full gap-6")
    await page.load()


@dataclass
class WorkspacePage:
    session: Session
    current: Settings | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    container: ui.column = field(init=False, repr=False)
    save_button: ui.button = field(init=False, repr=False)
    private_error: ui.label = field(init=False, repr=False)

    async def load(self) -> None:
        try:
            self.current = await workspace.get_settings(self.session.token)
        except (ApiError, BackendUnreachable) as exc:
            if isinstance(exc, ApiError) and exc.status == 401:
                to_login(PATH)
                return
            self.container.clear()
            with self.container:
                problem_card(exc, "the settings", self.reload)
            return
        self.render()

    async def reload(self) -> None:
        await self.load()

    def render(self) -> None:
        assert self.current is not None
        self.container.clear()
        self.inputs = {}
        with self.container:
            if self.session.is_admin:
                self._form(self.current)
            else:
                self._read_only(self.current)
            self._optout_form(self.current)

    # --- reading ---------------------------------------------------------------------------------------

    def _read_only(self, current: Settings) -> None:
        with ui.card().classes(CARD).mark("settings-card"):
            section_title(
                "Workspace rules", "How Flowgate reads numbers and times and how long opt-outs last."
            )
            ui.label("Only workspace admins can change these settings.").classes(
                "text-sm text-slate-500"
            ).mark("read-only")
            days = current[DAYS_FIELD]
            rows = [
                ("Opt-out duration", f"{days} {'day' if days == 1 else 'days'}", "unsubscription-days-text"),
                ("Default phone region", region_text(current[REGION_FIELD]), "phone-region-text"),
                ("Time zone", current[ZONE_FIELD], "timezone-text"),
                (
                    "Private URLs for HTTP steps and webhooks",
                    "Allowed" if current[PRIVATE_FIELD] else "Not allowed",
                    "allow-private-urls-text",
                ),
            ]
            with ui.element("div").classes("w-full grid grid-cols-[max-content_1fr] gap-x-8 gap-y-3"):
                for label, value, marker in rows:
                    ui.label(label).classes("text-sm text-slate-500")
                    ui.label(value).classes("text-sm font-medium text-slate-900").mark(marker)

    # --- the admin form --------------------------------------------------------------------------------

    def _form(self, current: Settings) -> None:
        with ui.card().classes(CARD).mark("settings-card"):
            section_title(
                "Workspace rules", "How Flowgate reads numbers and times and how long opt-outs last."
            )

            self._field_help(
                "Opt-out duration",
                "How long an opt-out received as a reply to a campaign lasts when the campaign has no "
                "marketing category (a category sets its own duration).",
            )
            self.inputs[DAYS_FIELD] = (
                ui.number("Days", value=current[DAYS_FIELD], precision=0, format="%d", step=1)
                .props("outlined dense stack-label")
                .classes("w-40")
                .mark("unsubscription-days")
            )
            self.inputs[DAYS_FIELD].on("keydown.enter", self.save)

            self._field_help(
                "Default phone region",
                "The country of phone numbers written without +country code, in contacts, imports and "
                "opt-outs (912 345 678 is read as +351 912 345 678 with Portugal).",
            )
            self.inputs[REGION_FIELD] = (
                ui.select(region_options(), value=current[REGION_FIELD], label="Region", with_input=True)
                .props("outlined dense stack-label options-dense")
                .classes("w-96 max-sm:w-full")
                .mark("phone-region")
            )

            self._field_help(
                "Time zone",
                "The clock of campaign plans and of contacts without a time zone of their own (waits until "
                "a time of day).",
            )
            self.inputs[ZONE_FIELD] = (
                ui.select(
                    timezone_options(current[ZONE_FIELD]),
                    value=current[ZONE_FIELD],
                    label="Time zone",
                    with_input=True,
                )
                .props("outlined dense stack-label options-dense")
                .classes("w-96 max-sm:w-full")
                .mark("timezone")
            )

            self._field_help(
                "Private URLs",
                "HTTP request steps and webhooks are refused addresses on this machine or its private "
                "network (127.0.0.1, 10.x, 192.168.x, …), so a flow cannot reach internal services. Allow "
                "them only for an on-premises CRM or a test setup.",
            )
            self.inputs[PRIVATE_FIELD] = ui.switch(
                "Allow HTTP steps and webhooks to call private and local addresses",
                value=current[PRIVATE_FIELD],
            ).mark("allow-private-urls")
            self.private_error = (
                ui.label("").classes("text-xs text-red-700 -mt-3").mark("allow-private-urls-error")
            )
            self.private_error.visible = False

            with ui.row().classes("w-full justify-end pt-2"):
                self.save_button = (
                    ui.button("Save", icon="save", on_click=self.save)
                    .props("unelevated no-caps")
                    .mark("save-settings")
                )

    @staticmethod
    def _field_help(title: str, text: str) -> None:
        with ui.column().classes("gap-0 pt-2"):
            ui.label(title).classes("text-sm font-semibold text-slate-800")
            ui.label(text).classes("text-sm text-slate-600")

    def form_values(self) -> dict[str, Any]:
        days = self.inputs[DAYS_FIELD].value
        return {
            DAYS_FIELD: round(days) if isinstance(days, int | float) else days,
            REGION_FIELD: self.inputs[REGION_FIELD].value or "",
            ZONE_FIELD: self.inputs[ZONE_FIELD].value or "",
            PRIVATE_FIELD: bool(self.inputs[PRIVATE_FIELD].value),
        }

    def _clear_errors(self) -> None:
        for key in (DAYS_FIELD, REGION_FIELD, ZONE_FIELD):
            self.inputs[key].error = None
        self.private_error.visible = False

    def _show_error(self, key: str, message: str) -> bool:
        """Put the API's message under the field it names; False if no field here has that name."""
        if key == PRIVATE_FIELD:
            self.private_error.text = in_words(message)
            self.private_error.visible = True
            return True
        if key not in self.inputs:
            return False
        if key == DAYS_FIELD:
            self.inputs[key].error = in_words(message, "days", low=DAYS_RANGE[0], high=DAYS_RANGE[1])
        else:
            self.inputs[key].error = in_words(message)
        return True

    async def save(self) -> None:
        assert self.current is not None
        self._clear_errors()
        values = self.form_values()
        if values[DAYS_FIELD] is None:
            self.inputs[DAYS_FIELD].error = "Enter a number of days."
            return
        if not values[ZONE_FIELD]:
            self.inputs[ZONE_FIELD].error = "Pick a time zone, e.g. Europe/Lisbon or UTC."
            return
        body = changes(self.current, values)
        if not body:
            ui.notify("Nothing to save: the settings are as they were.", type="info")
            return
        self.save_button.disable()
        try:
            updated = await workspace.update_settings(self.session.token, body)
        except BackendUnreachable as exc:
            ui.notify(f"Not saved: Flowgate's API at {exc.url} is not answering.", type="negative")
            return
        except ApiError as exc:
            self._refused(exc)
            return
        finally:
            self.save_button.enable()
        self.current = updated
        self.inputs[DAYS_FIELD].value = updated[DAYS_FIELD]
        self.inputs[REGION_FIELD].value = updated[REGION_FIELD]
        self.inputs[ZONE_FIELD].value = updated[ZONE_FIELD]
        ui.notify(saved_text(list(body), updated), type="positive", multi_line=True)

    def _refused(self, exc: ApiError) -> None:
        if exc.status == 400 and exc.field_errors:
            shown = [self._show_error(key, message) for key, message in exc.field_errors.items()]
            if all(shown):
                return
        action_failed(
            exc, "Not saved", here=PATH, wording=detail_in_words
        )  # 403 when the role changed since the page loaded

    # --- the public form -------------------------------------------------------------------------------

    @staticmethod
    def _optout_form(current: Settings) -> None:
        url = current["optout_form_url"]
        with ui.card().classes(CARD).mark("optout-form-card"):
            section_title(
                "Public opt-out form",
                "A page anyone can open to stop your marketing messages, with a phone number or an email "
                "address; it applies to the whole workspace. Link it from your website, emails and "
                "messages.",
            )
            copy_field("Opt-out form address", url, "optout-form-url", mono=False, dense=False)
            with ui.row().classes("w-full items-center gap-3"):
                ui.link("Open the form", url, new_tab=True).classes("text-sm text-primary").mark(
                    "open-optout-form"
                )
                ui.label(
                    "The address starts with this installation's public URL (FLOWGATE_PUBLIC_URL, or "
                    "FLOWGATE_API_URL when it is not set)."
                ).classes("text-xs text-slate-500")
