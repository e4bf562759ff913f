"""Opting an address back in (``DELETE /optouts/{id}?reason=``), behind a confirmation that asks why.

The reason is required here although the API asks for one only when the person opted out themselves: it
is what the history will show, and "why was this person messaged again?" is the question it answers.
A person's own opt-out (keyword, form, link) may be reversed by admins only; marketers are told so
instead of being offered a button the API would refuse.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import consent
from ui.clients.consent import OptOutInfo
from ui.components.dialogs import transient_dialog
from ui.components.optout_rules import MAX_REMARKS, category_text, channel_label, scope_text, source_label
from ui.session import Session

AfterRevoke = Callable[[OptOutInfo], Awaitable[None] | None]


def may_revoke(session: Session, entry: OptOutInfo) -> bool:
    """Whether this user may opt the entry's address back in (the API's rule, to hide what it refuses)."""
    if not entry["active"] or not session.allows("marketer"):
        return False
    return session.is_admin or not entry["self_service"]


def revoke_button(session: Session, entry: OptOutInfo, after: AfterRevoke, *, dense: bool = True) -> None:
    """The row's "Opt back in" action, or why it is not offered to a marketer."""
    if may_revoke(session, entry):
        # On a phone the words give way to the address the row is about; the button keeps its name.
        with (
            ui.button(icon="undo", on_click=lambda: confirm_revoke(session, entry, after))
            .props(f'flat {"dense " if dense else ""}no-caps no-wrap color=primary aria-label="Opt back in"')
            .mark("opt-back-in")
        ):
            ui.label("Opt back in").classes("ml-2 max-sm:hidden")
    elif entry["active"] and session.allows("marketer"):
        ui.icon("lock", size="1.1rem").classes("text-slate-400").tooltip(
            "The person opted out themselves; only an admin may opt them back in."
        ).mark("admin-only")


def confirm_revoke(session: Session, entry: OptOutInfo, after: AfterRevoke) -> None:
    with (
        transient_dialog() as dialog,
        ui.card().classes("w-[32rem] max-w-full p-6 gap-3 rounded-xl").mark("revoke-dialog"),
    ):
        ui.label(f"Opt {entry['address']} back in?").classes("text-lg font-semibold text-slate-900")
        ui.label(
            f"Marketing on {channel_label(entry['channel'])} ({category_text(entry['category_name']).lower()}, "
            f"{scope_text(entry).lower()}) may reach this address again, unless another opt-out still applies. "
            "The opt-out stays in the address's history."
        ).classes("text-sm text-slate-600")
        if entry["self_service"]:
            ui.label(
                f"The person opted out themselves ({source_label(entry['source']).lower()}). Opt them back in "
                "only if they asked to receive marketing again."
            ).classes("text-sm p-3 rounded-lg bg-amber-50 border border-amber-200 text-amber-900").mark(
                "self-service-warning"
            )
        reason = (
            ui.textarea("Why? (kept in the history)")
            .props(f"outlined dense stack-label autogrow counter maxlength={MAX_REMARKS}")
            .classes("w-full")
            .mark("revoke-reason")
        )
        error = ui.label("").classes("text-sm text-red-700 break-words").mark("revoke-error")
        error.visible = False

        async def revoke() -> None:
            text = (reason.value or "").strip()
            if not text:
                reason.error = "Say why the address is opted back in, e.g. “asked for offers again by phone”."
                return
            reason.error = None
            button.disable()
            try:
                revoked = await consent.revoke_optout(session.token, entry["id"], text)
            except ApiError as exc:
                message = exc.field_errors.get("reason")
                if message:
                    reason.error = message[:1].upper() + message[1:]
                else:
                    error.set_text(f"Not opted in: {exc.detail}")
                    error.visible = True
                return
            except BackendUnreachable as exc:
                error.set_text(f"Not opted in: Flowgate's API at {exc.url} is not answering.")
                error.visible = True
                return
            finally:
                button.enable()
            ui.notify(
                f"{revoked['address']} is opted back in on {channel_label(revoked['channel'])}.",
                type="positive",
            )
            dialog.close()  # after the toast: closing deletes the dialog, and the slot the toast needs
            result = after(revoked)
            if asyncio.iscoroutine(result):
                await result

        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps color=grey-8")
            button = (
                ui.button("Opt back in", icon="undo", on_click=revoke)
                .props("unelevated no-caps color=primary")
                .mark("confirm-revoke")
            )
        reason.on("keydown.enter.ctrl", revoke)
    dialog.open()
