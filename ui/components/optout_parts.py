"""Pieces the opt-out pages share: their sub-navigation, the inline problem card with Retry, the empty
card, and one way of turning an API failure into what a person sees (401 goes back to the login)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.session import forget, login_url

SECTIONS = (
    ("/opt-outs", "Unsubscription list", "list"),
    ("/opt-outs/categories", "Categories and duration", "tune"),
)


def section_tabs(current: str) -> None:
    """Links between the list and the categories, styled as tabs under the page heading."""
    with ui.row().classes("w-full gap-1 border-b border-slate-200 -mt-2"):
        for path, label, icon in SECTIONS:
            active = path == current
            with (
                ui.link(target=path)
                .classes(
                    "flex items-center gap-1.5 px-3 py-2 -mb-px no-underline text-sm border-b-2 "
                    + (
                        "border-indigo-600 text-indigo-700 font-medium"
                        if active
                        else "border-transparent text-slate-600 hover:text-slate-900"
                    )
                )
                .mark(f"tab-{path.rsplit('/', 1)[-1]}")
            ):
                ui.icon(icon, size="1.1rem")
                ui.label(label)


def failure_text(exc: ApiError | BackendUnreachable, what: str) -> str:
    if isinstance(exc, BackendUnreachable):
        return f"Flowgate's API at {exc.url} is not answering; {what} could not be loaded."
    return f"{what[:1].upper()}{what[1:]} could not be loaded: {exc.detail}"


def handle_failure(
    exc: ApiError | BackendUnreachable,
    here: str,
    what: str,
    retry: Callable[[], Awaitable[None] | None] | None = None,
) -> None:
    """401: back to the login (then here); anything else: a card saying what failed, with Retry."""
    if isinstance(exc, ApiError) and exc.status == 401:
        forget()
        ui.navigate.to(login_url(here))
        return
    problem_card(failure_text(exc, what), retry)


def problem_card(text: str, retry: Callable[[], Awaitable[None] | None] | None = None) -> None:
    with (
        ui.card().classes("w-full p-5 shadow-sm rounded-xl").mark("problem-card"),
        ui.row().classes("w-full items-center gap-3 no-wrap"),
    ):
        ui.icon("cloud_off").classes("text-amber-600 text-2xl")
        ui.label(text).classes("text-slate-700 flex-1").mark("inline-problem")
        if retry is not None:
            ui.button("Retry", icon="refresh", on_click=retry).props("outline no-caps").mark("retry")


def empty_card(icon: str, title: str, text: str) -> None:
    with (
        ui.card()
        .classes(
            "w-full p-10 items-center gap-2 shadow-none border border-dashed border-slate-300 "
            "rounded-xl bg-white"
        )
        .mark("empty-state")
    ):
        ui.icon(icon, size="2.5rem").classes("text-slate-400")
        ui.label(title).classes("text-lg font-medium text-slate-800")
        ui.label(text).classes("text-sm text-slate-500 text-center max-w-md")


def notify_failure(exc: ApiError | BackendUnreachable, what: str) -> None:
    """A failed action (not a failed page): a toast with the API's sentence."""
    if isinstance(exc, BackendUnreachable):
        ui.notify(f"{what}: Flowgate's API at {exc.url} is not answering.", type="negative")
    else:
        ui.notify(f"{what}: {exc.detail}", type="negative", multi_line=True)


def field_message(exc: ApiError, field: str) -> str | None:
    """The API's message for ``field``, starting with a capital (it is shown under the field)."""
    message = exc.field_errors.get(field)
    if not message:
        return None
    return message[:1].upper() + message[1:]
