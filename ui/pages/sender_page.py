"""``/senders/new`` and ``/senders/{id}``: create a sender, and one sender's page.

A sender's page puts first what a person comes for: for the sandbox, a box to write to it as a customer
(try STOP without a phone); for a real provider, the webhook URL (and WhatsApp's verify token) to paste
into the provider's dashboard. Below are its settings, editable in place, and its deletion.

Creating a sender turns the page into the new sender's page without reloading it (the address changes to
``/senders/{id}``), so a verify token typed or generated in the form can be shown once more next to the
webhook URL, the only other moment it is known outside the API.
"""

from __future__ import annotations

import json

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import senders as senders_api
from ui.clients.senders import SenderInfo
from ui.components.page_states import problem_card
from ui.components.sender_connect import ConnectCard
from ui.components.sender_form import SenderFormView
from ui.components.sender_parts import CARD, admins_only, confirm_delete
from ui.components.sender_rules import summary
from ui.components.sender_simulate import SimulateBox
from ui.layout import page_heading, shell_page
from ui.session import Session

NEW_PATH = "/senders/new"


def register() -> None:
    shell_page(NEW_PATH, "New sender")(new_sender_body)  # before /senders/{sender_id}: "new" is no id
    shell_page("/senders/{sender_id}", "Sender")(sender_body)


def _back_link() -> None:
    with ui.link(target="/senders").classes(
        "flex items-center gap-1 text-sm text-slate-600 no-underline hover:text-primary -mb-4"
    ):
        ui.icon("arrow_back", size="1rem")
        ui.label("Senders")


async def new_sender_body(session: Session) -> None:
    if not session.allows("admin"):
        page_heading("New sender", "Only workspace admins add senders.")
        admins_only()
        return
    root = ui.column().classes("w-full gap-6")
    with root:
        _back_link()
        page_heading(
            "New sender",
            "A WhatsApp or SMS number, a Viber account or an email address to send from, with its provider "
            "settings and what it does when someone answers STOP.",
        )

        async def created(sender: SenderInfo, typed: dict[str, str]) -> None:
            ui.navigate.history.replace(f"/senders/{sender['id']}")
            ui.run_javascript(f"document.title = {json.dumps(sender['name'] + ' · Flowgate')}")
            await show_sender(session, sender, root, fresh_token=typed.get("verify_token"))
            with root:  # the form (and the button whose click this is) is gone
                ui.notify(f"“{sender['name']}” is created.", type="positive")

        SenderFormView(session, None, created, NEW_PATH).build()


async def sender_body(session: Session, sender_id: str = "") -> None:
    here = f"/senders/{sender_id}"
    if not session.allows("admin"):
        page_heading("Sender", "Only workspace admins see and change senders.")
        admins_only()
        return
    if not sender_id.isdigit():
        _not_found()
        return
    root = ui.column().classes("w-full gap-6")

    async def load() -> None:
        root.clear()
        try:
            sender = await senders_api.get_sender(session.token, int(sender_id))
        except (ApiError, BackendUnreachable) as exc:
            with root:
                if isinstance(exc, ApiError) and exc.status == 404:
                    _not_found()
                else:
                    _back_link()
                    page_heading("Sender", "")
                    problem_card(exc, "the sender", load, here=here)
            return
        await show_sender(session, sender, root)

    await load()


def _not_found() -> None:
    _back_link()
    page_heading("Sender not found", "It was deleted, or it belongs to another workspace.")
    ui.link("See every sender", "/senders").mark("all-senders")


async def show_sender(
    session: Session, sender: SenderInfo, root: ui.column, *, fresh_token: str | None = None
) -> None:
    """Draw ``sender``'s page into ``root`` (again after each save, so it shows what the API stored)."""
    here = f"/senders/{sender['id']}"
    root.clear()
    with root:
        _back_link()
        page_heading(sender["name"], summary(sender))
        if sender["provider"] == "sandbox":
            SimulateBox(session, sender).build()
        ConnectCard(session, sender, fresh_token).build()

        async def saved(updated: SenderInfo, typed: dict[str, str]) -> None:
            await show_sender(session, updated, root, fresh_token=typed.get("verify_token"))
            with root:  # the form (and the button whose click this is) is gone
                ui.notify("The sender is saved.", type="positive")

        SenderFormView(session, sender, saved, here).build()
        with (
            ui.card().classes(CARD + " border border-red-100").mark("danger-zone"),
            ui.row().classes("w-full items-center gap-4 no-wrap max-sm:flex-wrap"),
        ):
            with ui.column().classes("flex-1 gap-0.5"):
                ui.label("Delete this sender").classes("font-medium text-slate-900")
                ui.label(
                    "Refused while a campaign sends through it. Its opt-outs are kept, workspace-wide."
                ).classes("text-sm text-slate-600")
            ui.button(
                "Delete…",
                icon="delete",
                on_click=lambda: confirm_delete(session, sender, lambda: ui.navigate.to("/senders"), here),
            ).props("outline no-caps color=negative").mark("delete-sender")
