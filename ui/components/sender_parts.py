"""Pieces the sender pages share: cards, the admins-only state, a copyable field, one way of turning an
API failure into what a person sees (401 goes back to the login), and the delete confirmation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import senders as senders_api
from ui.clients.senders import SenderInfo
from ui.components.dialogs import transient_dialog
from ui.session import Session, forget, login_url

CARD = "w-full p-6 gap-4 shadow-sm rounded-xl"
DASHED = (
    "w-full p-10 items-center gap-2 shadow-none border border-dashed border-slate-300 rounded-xl bg-white"
)


def empty_card(icon: str, title: str, text: str, marker: str = "empty-state") -> ui.card:
    with ui.card().classes(DASHED).mark(marker) as card:
        ui.icon(icon, size="2.5rem").classes("text-slate-400")
        ui.label(title).classes("text-lg font-medium text-slate-800")
        ui.label(text).classes("text-sm text-slate-500 text-center max-w-md")
    return card


def admins_only() -> None:
    """What a marketer or viewer sees instead of the senders (the API lets them read, not change them)."""
    empty_card("lock", "Admins only", "Only workspace admins manage senders. Ask an admin of this workspace.")


def section_title(title: str, text: str = "") -> None:
    with ui.column().classes("gap-0.5"):
        ui.label(title).classes("text-xs font-semibold uppercase tracking-wide text-slate-500")
        if text:
            ui.label(text).classes("text-sm text-slate-600")


def failure_text(exc: ApiError | BackendUnreachable, what: str) -> str:
    if isinstance(exc, BackendUnreachable):
        return f"Flowgate's API at {exc.url} is not answering; {what} could not be loaded."
    return f"{what[:1].upper()}{what[1:]} could not be loaded: {exc.detail}"


def handle_failure(
    exc: ApiError | BackendUnreachable,
    here: str,
    what: str,
    retry: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """401: sign in again, then come back; anything else: a card saying what failed, with Retry."""
    if isinstance(exc, ApiError) and exc.status == 401:
        forget()
        ui.navigate.to(login_url(here))
        return
    with (
        ui.card().classes("w-full p-5 shadow-sm rounded-xl").mark("problem-card"),
        ui.row().classes("w-full items-center gap-3 no-wrap"),
    ):
        ui.icon("cloud_off").classes("text-amber-600 text-2xl")
        ui.label(failure_text(exc, what)).classes("text-slate-700 flex-1").mark("inline-problem")
        if retry is not None:
            ui.button("Retry", icon="refresh", on_click=retry).props("outline no-caps").mark("retry")


def notify_failure(exc: ApiError | BackendUnreachable, what: str, here: str) -> None:
    """A failed action: a toast with the API's sentence; a dead session goes to the login."""
    if isinstance(exc, BackendUnreachable):
        ui.notify(f"{what}: Flowgate's API at {exc.url} is not answering.", type="negative")
    elif exc.status == 401:
        forget()
        ui.navigate.to(login_url(here))
    else:
        ui.notify(f"{what}: {exc.detail}", type="negative", multi_line=True)


def copy_field(label: str, value: str, marker: str, *, multiline: bool = False) -> ui.input:
    """A read-only field with a copy button, for what people paste into a provider's dashboard
    (``multiline``: wrapped in full, for a command too long for one line)."""
    element = (
        (ui.textarea(label, value=value).props("autogrow") if multiline else ui.input(label, value=value))
        .props('outlined dense readonly stack-label input-class="font-mono text-sm"')
        .classes("w-full")
        .mark(marker)
    )
    with element.add_slot("append"):

        def copy() -> None:
            ui.clipboard.write(value)
            ui.notify(f"{label} copied to the clipboard.", type="positive")

        ui.button(icon="content_copy", on_click=copy).props(
            f'flat round dense color=primary aria-label="Copy {label}"'
        ).tooltip("Copy").mark(f"copy-{marker}")
    return element


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
                        notify_failure(exc, "The sender was not deleted", here)
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
