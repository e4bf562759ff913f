"""What the settings pages share: their tabs, the admins-only card, secrets shown once with a copy button,
and the API's validator phrases said in words (empty, failed and signed-out states are
:mod:`ui.components.page_states`).

The settings live on several pages (``/settings``, ``/settings/users``, …) rather than tabs of one page:
each loads only its own data, has an address to share, and the browser's back button works between them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from ui.backend import ApiError
from ui.components.dialogs import transient_dialog
from ui.components.field_errors import in_words as validator_words
from ui.components.page_states import Tab, section_tabs
from ui.layout import page_heading
from ui.session import Session


@dataclass(frozen=True, slots=True)
class Section:
    path: str
    label: str
    icon: str
    least_role: str
    marker: str


SECTIONS: tuple[Section, ...] = (
    Section("/settings", "Workspace", "tune", "viewer", "tab-workspace"),
    Section("/settings/users", "Users", "group", "admin", "tab-users"),
    Section("/settings/api-keys", "API keys", "key", "admin", "tab-api-keys"),
    Section("/settings/webhooks", "Webhooks", "webhook", "admin", "tab-webhooks"),
    Section("/settings/audit-log", "Audit log", "history", "admin", "tab-audit-log"),
)

ROLES = {"admin": "Admin", "marketer": "Marketer", "viewer": "Viewer"}
ROLE_HELP = {
    "admin": "Admin: everything, including users, API keys, senders and settings",
    "marketer": "Marketer: flows, campaigns, audience and opt-outs",
    "viewer": "Viewer: reads everything, changes nothing",
}
"""The roles as a picker shows them: what each may do, in the API's terms (PRODUCT.md 3)."""

CARD = "w-full p-6 gap-4 shadow-sm rounded-xl"
"""A section card, as on the other pages."""


# --- the API's words in words ---------------------------------------------------------------------------


def in_words(message: str, unit: str = "", *, low: int | None = None, high: int | None = None) -> str:
    """A field error as a sentence under the field: the validator's phrase (``Expected `int` >= 1``) in
    words by :func:`ui.components.field_errors.in_words` ("Enter a whole number between 1 and 3650
    days." when the form passes the field's ``low``/``high`` and plural ``unit``), and a sentence the API
    wrote itself as it is, with a capital and a full stop."""
    text = validator_words(message, low=low, high=high, unit=unit).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def field_errors(exc: ApiError) -> dict[str, str]:
    """Every field the API named, with its message: the ``errors`` list of a 400, or the field a 409's
    sentence starts with (``email: a user with email … already exists``)."""
    if exc.field_errors:
        return dict(exc.field_errors)
    field, sep, rest = exc.detail.partition(": ")
    if sep and re.fullmatch(r"[a-z_]+", field):
        return {field: rest}
    return {}


def detail_in_words(detail: str) -> str:
    """A whole ``detail`` (``role: the workspace's last admin cannot be demoted``) as a sentence: the
    leading field name goes, since the dialog or notification already says what was being changed."""
    field, sep, rest = detail.partition(": ")
    if sep and re.fullmatch(r"[a-z_.\[\]0-9]+", field):
        return in_words(rest)
    return in_words(detail)


# --- page furniture -------------------------------------------------------------------------------------


def settings_heading(session: Session, current: str) -> None:
    """The page title and the row of settings sections this role may open, the current one underlined."""
    page_heading(
        "Settings",
        "The workspace's rules, its people and keys, the webhooks that receive consent events, and who "
        "changed what.",
    )
    section_tabs(
        [
            Tab(section.path, section.label, section.icon, section.marker)
            for section in SECTIONS
            if session.allows(section.least_role)
        ],
        current,
        marker="settings-tabs",
    )


def admins_only(what: str) -> None:
    """Shown instead of an admin section to a marketer or viewer who typed its address."""
    with (
        ui.card()
        .classes(
            "w-full p-10 items-center gap-2 shadow-none border border-dashed border-slate-300 rounded-xl bg-white"
        )
        .mark("admins-only")
    ):
        ui.icon("lock", size="2.5rem").classes("text-slate-400")
        ui.label("Admins only").classes("text-lg font-medium text-slate-800")
        ui.label(f"Only workspace admins see and manage {what}. Ask an admin of this workspace.").classes(
            "text-sm text-slate-500 text-center max-w-md"
        )


def page_dialog() -> ui.dialog:
    """A :func:`transient_dialog` that belongs to the page rather than to the row or button that opened
    it: a dialog whose action redraws the list (revoke, remove, delete) would otherwise be deleted with
    the old row while its handler still runs."""
    with ui.context.client.content:
        return transient_dialog()


def shown_once(what: str) -> None:
    """The warning next to a secret the API returns once and never again."""
    with ui.row().classes("w-full items-start gap-2 no-wrap rounded-lg bg-amber-50 p-3").mark("shown-once"):
        ui.icon("warning_amber", size="1.25rem").classes("text-amber-600 shrink-0")
        ui.label(
            f"Copy the {what} now and keep it somewhere safe: it is shown this once. Flowgate keeps only a "
            "hash of it and cannot show it again; if it is lost, make a new one."
        ).classes("text-sm text-amber-900")


def menu_item(text: str, icon: str, on_click: Callable[[], Any], *, danger: bool = False) -> ui.menu_item:
    """One entry of a row's actions menu (the look of the flows list's)."""
    colour = "text-red-700" if danger else "text-slate-700"
    with ui.menu_item(on_click=on_click).classes(f"{colour} min-h-0 py-2") as item:
        with ui.item_section().props("avatar").classes("min-w-0 pr-3"):
            ui.icon(icon, size="1.15rem")
        ui.item_section(text)
    return item


def row_menu(marker: str) -> ui.menu:
    """The ⋮ button at the end of a row and the menu it opens; fill the menu with :func:`menu_item`."""
    button = (
        ui.button(icon="more_vert")
        .props('flat round dense color=grey-7 aria-label="Actions"')
        .classes("w-8")
        .mark(marker)
    )
    with button:
        return ui.menu().props('anchor="bottom right" self="top right"')


def section_title(title: str, text: str) -> None:
    with ui.column().classes("gap-1"):
        ui.label(title).classes("text-lg font-semibold text-slate-900")
        ui.label(text).classes("text-sm text-slate-600")


def badge(text: str, style: str, marker: str = "") -> ui.label:
    label = ui.label(text).classes(
        f"inline-block text-xs font-medium px-2 py-0.5 rounded-full whitespace-nowrap {style}"
    )
    if marker:
        label.mark(marker)
    return label


BADGE_GREEN = "bg-emerald-50 text-emerald-700"
BADGE_GREY = "bg-slate-100 text-slate-600"
BADGE_RED = "bg-red-50 text-red-700"
BADGE_AMBER = "bg-amber-50 text-amber-800"
BADGE_INDIGO = "bg-indigo-50 text-indigo-700"
