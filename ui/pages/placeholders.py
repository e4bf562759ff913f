"""The sections that exist in the navigation before their features do.

Each page says what it will be for and shows an empty state; no sample rows, so nobody mistakes a
mock-up for data in their workspace.
"""

from __future__ import annotations

from dataclasses import dataclass

from nicegui import ui

from ui.layout import page_heading, shell_page
from ui.session import Session


@dataclass(frozen=True, slots=True)
class Placeholder:
    path: str
    title: str
    purpose: str
    icon: str
    empty: str
    least_role: str = "viewer"


PLACEHOLDERS: tuple[Placeholder, ...] = (
    Placeholder(
        "/senders",
        "Senders",
        "The WhatsApp and SMS numbers, Viber accounts and email addresses Flowgate sends from, with their "
        "provider settings and opt-out keywords.",
        "send",
        "No senders yet",
        least_role="admin",
    ),
)


def register() -> None:
    for placeholder in PLACEHOLDERS:
        shell_page(placeholder.path, placeholder.title)(_body_for(placeholder))


def _body_for(placeholder: Placeholder):
    async def body(session: Session) -> None:
        page_heading(placeholder.title, placeholder.purpose)
        if not session.allows(placeholder.least_role):
            _empty_card("lock", "Admins only", f"Only workspace admins manage {placeholder.title.lower()}.")
            return
        _empty_card(
            placeholder.icon,
            placeholder.empty,
            "This part of Flowgate is still being built; it will list real data from your workspace here.",
        )

    return body


def _empty_card(icon: str, title: str, text: str) -> None:
    with (
        ui.card()
        .classes(
            "w-full p-10 items-center gap-2 shadow-none border border-dashed border-slate-300 "
            "rounded-xl bg-white"
        )
        .mark("empty-state"),
    ):
        ui.icon(icon, size="2.5rem").classes("text-slate-400")
        ui.label(title).classes("text-lg font-medium text-slate-800")
        ui.label(text).classes("text-sm text-slate-500 text-center max-w-md")
