"""Pieces every audience page draws the same way: the section tabs, opt-out badges, section cards and
the API's field errors under their inputs (empty, failed and signed-out states are
:mod:`ui.components.page_states`)."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from ui.backend import ApiError
from ui.components.audience_rules import opt_out_badges
from ui.components.page_states import Tab, section_tabs

TABS = (
    Tab("/audience", "Contacts", "person", "tab-contacts"),
    Tab("/audience/groups", "Groups", "group_work", "tab-groups"),
    Tab("/audience/import", "Imports", "upload_file", "tab-imports"),
)
SECTION_TITLE = "text-base font-semibold text-slate-900"


def audience_tabs(current: str) -> None:
    """Contacts · Groups · Imports: links, so each section has its own address to reload and share."""
    section_tabs(TABS, current, marker="audience-tabs")


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
