"""Pieces every audience page draws the same way: the section tabs, opt-out badges, empty states, the
inline problem card with Retry, and what happens when the API refuses or does not answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.components.audience_rules import opt_out_badges
from ui.session import forget, login_url

TABS = (
    ("Contacts", "/audience", "person"),
    ("Groups", "/audience/groups", "group_work"),
    ("Imports", "/audience/import", "upload_file"),
)
CARD = "w-full p-0 gap-0 shadow-sm rounded-xl overflow-hidden"
HEADER_ROW = (
    "w-full items-center no-wrap gap-4 px-5 py-2 bg-slate-50 border-b border-slate-200 "
    "text-xs font-medium uppercase tracking-wide text-slate-500"
)
SECTION_TITLE = "text-base font-semibold text-slate-900"


def audience_tabs(current: str) -> None:
    """Contacts · Groups · Imports: links, so each section has its own address to reload and share."""
    with ui.row().classes("w-full gap-1 border-b border-slate-200").mark("audience-tabs"):
        for label, path, icon in TABS:
            active = path == current
            with (
                ui.link(target=path)
                .classes(
                    "flex items-center gap-1.5 px-3 py-2 -mb-px no-underline text-sm border-b-2 "
                    + (
                        "border-primary text-primary font-medium"
                        if active
                        else "border-transparent text-slate-600 hover:text-slate-900"
                    )
                )
                .mark(f"tab-{label.lower()}")
            ):
                ui.icon(icon, size="1.1rem")
                ui.label(label)


def opt_out_chips(entries: list[dict[str, Any]], *, none_text: str = "") -> None:
    """A red badge per channel the contact opted out on (amber when only a category or sender is
    concerned); the tooltip says for what, where, until when and how."""
    badges = opt_out_badges(entries)
    if not badges and none_text:
        ui.label(none_text).classes("text-xs text-slate-400")
    for badge in badges:
        colour = (
            "bg-red-50 text-red-700 ring-red-200"
            if badge.complete
            else "bg-amber-50 text-amber-800 ring-amber-200"
        )
        with ui.row().classes(
            f"items-center gap-1 no-wrap text-xs font-medium px-2 py-0.5 rounded-full ring-1 {colour}"
        ):
            ui.icon("block", size="0.85rem")
            ui.label(badge.text).mark("opt-out-badge", f"opt-out-{badge.channel}")
            ui.tooltip(badge.detail).classes("text-sm max-w-sm")


def empty_card(icon: str, title: str, text: str, *, marker: str = "empty-state") -> ui.card:
    with (
        ui.card()
        .classes(
            "w-full p-10 items-center gap-2 shadow-none border border-dashed border-slate-300 rounded-xl bg-white"
        )
        .mark(marker) as card
    ):
        ui.icon(icon, size="2.5rem").classes("text-slate-400")
        ui.label(title).classes("text-lg font-medium text-slate-800")
        ui.label(text).classes("text-sm text-slate-500 text-center max-w-md")
    return card


def problem_text(exc: ApiError | BackendUnreachable, what: str) -> str:
    if isinstance(exc, BackendUnreachable):
        return f"Flowgate's API at {exc.url} is not answering; {what} could not be loaded."
    return f"{what[:1].upper()}{what[1:]} could not be loaded: {exc.detail}"


def problem_card(
    exc: ApiError | BackendUnreachable,
    what: str,
    retry: Callable[[], Awaitable[None] | None],
    *,
    here: str,
) -> None:
    """The inline problem card (a session that ended goes to the login instead)."""
    if isinstance(exc, ApiError) and exc.status == 401:
        to_login(here)
        return
    with (
        ui.card().classes("w-full p-6 shadow-sm rounded-xl"),
        ui.row().classes("w-full items-center gap-3 no-wrap"),
    ):
        ui.icon("cloud_off" if isinstance(exc, BackendUnreachable) else "error_outline").classes(
            "text-amber-600 text-2xl"
        )
        ui.label(problem_text(exc, what)).classes("text-slate-700 flex-1").mark("inline-problem")
        ui.button("Retry", icon="refresh", on_click=retry).props("flat no-caps").mark("retry")


def to_login(here: str) -> None:
    forget()
    ui.navigate.to(login_url(here))


def failed(exc: ApiError | BackendUnreachable, what: str, *, here: str) -> None:
    """Say why an action did not happen, in a notification; a dead session goes to the login."""
    if isinstance(exc, BackendUnreachable):
        ui.notify(f"{what}: Flowgate's API at {exc.url} is not answering.", type="negative")
    elif exc.status == 401:
        to_login(here)
    else:
        ui.notify(f"{what}: {exc.detail}", type="negative", multi_line=True)


def section(title: str, *, marker: str, subtitle: str = "") -> ui.card:
    """A white card with a title: the blocks of the contact and group pages."""
    card = ui.card().classes("w-full p-5 gap-3 shadow-sm rounded-xl").mark(marker)
    with card:
        ui.label(title).classes(SECTION_TITLE)
        if subtitle:
            ui.label(subtitle).classes("text-sm text-slate-500 -mt-2")
    return card


def field_errors_into(inputs: dict[str, Any], exc: ApiError) -> bool:
    """Put the API's per-field sentences under the inputs they name; True when any was placed.

    Field names like ``attributes.plan`` land on the ``attributes`` input."""
    placed = False
    for name, message in exc.field_errors.items():
        target = inputs.get(name) or inputs.get(name.split(".", 1)[0])
        if target is not None:
            target.error = message[:1].upper() + message[1:]
            placed = True
    return placed
