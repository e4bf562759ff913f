"""``/settings``: workspace-wide rules; every role reads them, only admins change them.

The form does not re-implement the API's validation (1..3650 days today): it sends what was typed and
shows the API's own message under the field, so the rule lives in one place.
"""

from __future__ import annotations

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable, WorkspaceSettings, api
from ui.layout import page_heading, shell_page
from ui.session import Session, forget, login_url

DAYS_FIELD = "marketing_unsubscription_days"


def register() -> None:
    shell_page("/settings", "Settings")(settings_body)


async def settings_body(session: Session) -> None:
    page_heading(
        "Settings", "Rules that apply to the whole workspace. Every role can read them; admins change them."
    )
    try:
        current = await api.get_settings(session.token)
    except BackendUnreachable as exc:
        _inline_problem(f"Flowgate's API at {exc.url} is not answering; the settings could not be loaded.")
        return
    except ApiError as exc:
        if exc.status == 401:
            forget()
            ui.navigate.to(login_url("/settings"))
            return
        _inline_problem(f"The settings could not be loaded: {exc.detail}")
        return

    with ui.card().classes("w-full max-w-2xl p-6 gap-4 shadow-sm rounded-xl").mark("settings-card"):
        with ui.column().classes("gap-1"):
            ui.label("Opt-out duration").classes("text-lg font-semibold text-slate-900")
            ui.label(
                "How long an opt-out received as a reply to a campaign lasts when the campaign has no "
                "marketing category (a category sets its own duration)."
            ).classes("text-sm text-slate-600")
        if session.is_admin:
            _days_form(session, current)
        else:
            _days_read_only(current)


def _days_read_only(current: WorkspaceSettings) -> None:
    days = current[DAYS_FIELD]
    ui.label(f"{days} {'day' if days == 1 else 'days'}").classes(
        "text-2xl font-semibold text-slate-900"
    ).mark("unsubscription-days-text")
    ui.label("Only workspace admins can change this.").classes("text-sm text-slate-500").mark("read-only")


def _days_form(session: Session, current: WorkspaceSettings) -> None:
    with ui.row().classes("items-start gap-3"):
        days = (
            ui.number("Days", value=current[DAYS_FIELD], precision=0, format="%d", step=1)
            .props("outlined")
            .classes("w-40")
            .mark("unsubscription-days")
        )
        save = (
            ui.button("Save", icon="save").props("unelevated no-caps").classes("mt-2").mark("save-settings")
        )

    async def submit() -> None:
        if days.value is None:
            days.error = "Enter a number of days."
            return
        save.disable()
        try:
            updated = await api.update_settings(session.token, {DAYS_FIELD: round(days.value)})
        except BackendUnreachable as exc:
            ui.notify(f"Not saved: Flowgate's API at {exc.url} is not answering.", type="negative")
        except ApiError as exc:
            if exc.status == 400:
                days.error = exc.field_errors.get(DAYS_FIELD) or exc.detail
            elif exc.status == 401:
                forget()
                ui.navigate.to(login_url("/settings"))
            else:  # 403 when the role changed since the page loaded
                ui.notify(f"Not saved: {exc.detail}", type="negative")
        else:
            days.error = None
            days.value = updated[DAYS_FIELD]
            ui.notify(
                f"Saved: opt-outs from campaign replies now last {updated[DAYS_FIELD]} days.", type="positive"
            )
        finally:
            save.enable()

    save.on_click(submit)
    days.on("keydown.enter", submit)


def _inline_problem(text: str) -> None:
    with (
        ui.card().classes("w-full max-w-2xl p-6 shadow-sm rounded-xl"),
        ui.row().classes("items-center gap-3"),
    ):
        ui.icon("error_outline").classes("text-amber-600")
        ui.label(text).classes("text-slate-700").mark("inline-problem")
