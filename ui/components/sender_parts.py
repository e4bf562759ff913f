"""Pieces the sender pages share: cards, the admins-only state, a copyable field and the delete
confirmation (empty, failed and signed-out states are :mod:`ui.components.page_states`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import senders as senders_api
from ui.clients.senders import SenderInfo
from ui.components.dialogs import transient_dialog
from ui.components.page_states import action_failed, empty_card
from ui.session import Session

CARD = "w-full p-6 gap-4 shadow-sm rounded-xl"


def admins_only() -> None:
    """What a marketer or viewer sees instead of the senders (the API lets them read, not change them)."""
    empty_card("lock", "Admins only", "Only workspace admins manage senders. Ask an admin of this workspace.")


def section_title(title: str, text: str = "") -> None:
    with ui.column().classes("gap-0.5"):
        ui.label(title).classes("text-xs font-semibold uppercase tracking-wide text-slate-500")
        if text:
            ui.label(text).classes("text-sm text-slate-600")


def confirm_delete(
    session: Session, sender: SenderInfo, after: Callable[[], Awaitable[None] | None], here: str
) -> None:
    """Ask before deleting; a sender a campaign still uses is refused (409) and the API's sentence is
    shown in the dialog, which stays open."""
    with ui.context.client.content:  # the page's, not the row's: a redrawn list must not take it along
        dialog = transient_dialog()
    with dialog, ui.card().classes("w-[30rem] gap-3").mark("delete-dialog"):
        ui.label(f"Delete “{sender['name']}”?").classes("text-lg font-semibold text-slate-900")
        ui.label(
            "It stops sending and receiving at once, and campaigns can no longer use it. Opt-outs received "
            "on it are kept and become workspace-wide, so nobody who said STOP to it is messaged again."
        ).classes("text-sm text-slate-600")
        refusal = ui.label("").classes("text-sm text-red-700").mark("delete-refused")
        refusal.visible = False
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps").mark("cancel-delete")

            async def delete() -> None:
                try:
                    await senders_api.delete_sender(session.token, sender["id"])
                except ApiError as exc:
                    if exc.status == 401:
                        action_failed(exc, "The sender was not deleted", here=here)
                        dialog.close()
                        return
                    refusal.set_text(exc.detail[:1].upper() + exc.detail[1:])
                    refusal.visible = True
                    return
                except BackendUnreachable as exc:
                    refusal.set_text(f"Flowgate's API at {exc.url} is not answering; nothing was deleted.")
                    refusal.visible = True
                    return
                # The dialog deletes itself when closed, and with it this handler's slot: close it last.
                ui.notify(f"“{sender['name']}” is deleted.", type="positive")
                result = after()
                if result is not None:
                    await result
                dialog.close()

            ui.button("Delete sender", icon="delete", on_click=delete).props(
                "unelevated no-caps color=negative"
            ).mark("confirm-delete")
    dialog.open()
