"""The states every page draws the same way: nothing to show yet, a load that failed (with Retry), an
action that failed (a notification), a session that ended (back to the login), and a row of section tabs.

One module so that a person meets the same card, the same words and the same Retry button on every page,
and so that a 401 is handled once: wherever the API says the session is gone, the page sends the person
to sign in and brings them back to where they were.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.session import forget, login_url

DASHED = (
    "w-full p-10 items-center gap-2 shadow-none border border-dashed border-slate-300 rounded-xl bg-white"
)
"""An empty state: a dashed card, so it never looks like a row of data."""

Retry = Callable[[], Awaitable[None] | None]


def to_login(here: str) -> None:
    """The session ended (expired, revoked, or the user was removed): sign in again, then come back."""
    forget()
    ui.navigate.to(login_url(here))


def empty_card(icon: str, title: str, text: str, marker: str = "empty-state") -> ui.card:
    """What a list shows when it has nothing: an icon, a title and a sentence on what to do next (the
    card is returned so a page can add a button to it)."""
    with ui.card().classes(DASHED).mark(marker) as card:
        ui.icon(icon, size="2.5rem").classes("text-slate-400")
        ui.label(title).classes("text-lg font-medium text-slate-800")
        ui.label(text).classes("text-sm text-slate-500 text-center max-w-md")
    return card


def failure_text(exc: ApiError | BackendUnreachable, what: str) -> str:
    """Why ``what`` ("the senders") could not be loaded, in one sentence that names the API's address
    when it does not answer (the usual cause: the api process is not running)."""
    if isinstance(exc, BackendUnreachable):
        return f"Flowgate's API at {exc.url} is not answering; {what} could not be loaded."
    return f"{what[:1].upper()}{what[1:]} could not be loaded: {exc.detail}"


def problem_card(
    exc: ApiError | BackendUnreachable, what: str, retry: Retry | None = None, *, here: str | None = None
) -> None:
    """A load that failed, inline where its data would be, with Retry; a session that ended goes to the
    login instead (and comes back to ``here``)."""
    if here is not None and isinstance(exc, ApiError) and exc.status == 401:
        to_login(here)
        return
    with (
        ui.card().classes("w-full p-5 shadow-sm rounded-xl").mark("problem-card"),
        ui.row().classes("w-full items-center gap-3 no-wrap"),
    ):
        ui.icon("cloud_off" if isinstance(exc, BackendUnreachable) else "error_outline").classes(
            "text-amber-600 text-2xl"
        )
        ui.label(failure_text(exc, what)).classes("text-slate-700 flex-1").mark("inline-problem")
        if retry is not None:
            ui.button("Retry", icon="refresh", on_click=retry).props("outline no-caps").mark("retry")


def action_failed(
    exc: ApiError | BackendUnreachable,
    what: str,
    *,
    here: str,
    wording: Callable[[str], str] | None = None,
) -> None:
    """An action that did not happen ("Not saved"): a notification with the API's sentence (through
    ``wording`` where a page puts validator phrases in words); a session that ended goes to the login."""
    if isinstance(exc, BackendUnreachable):
        ui.notify(f"{what}: Flowgate's API at {exc.url} is not answering.", type="negative")
    elif exc.status == 401:
        to_login(here)
    else:
        detail = wording(exc.detail) if wording is not None else exc.detail
        ui.notify(f"{what}: {detail}", type="negative", multi_line=True)


@dataclass(frozen=True, slots=True)
class Tab:
    path: str
    label: str
    icon: str
    marker: str


def section_tabs(tabs: Sequence[Tab], current: str, *, marker: str | None = None) -> None:
    """Links between the pages of one section, drawn as tabs under the page heading: each page keeps
    its own address (to reload and share) and the browser's back button works between them."""
    row = ui.row().classes("w-full gap-1 border-b border-slate-200 -mt-2 no-wrap overflow-x-auto")
    if marker:
        row.mark(marker)
    with row:
        for tab in tabs:
            active = tab.path == current
            look = (
                "border-primary text-primary font-medium"
                if active
                else "border-transparent text-slate-600 hover:text-slate-900"
            )
            with (
                ui.link(target=tab.path)
                .classes(f"flex items-center gap-1.5 px-3 py-2 -mb-px border-b-2 no-underline text-sm {look}")
                .mark(tab.marker, *(["tab-active"] if active else []))
            ):
                ui.icon(tab.icon, size="1.1rem")
                ui.label(tab.label).classes("whitespace-nowrap")
