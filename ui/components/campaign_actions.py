"""The state actions of a campaign (suspend, resume, modify, end, delete), each behind a confirmation that says
what will happen. Shared by the list and the monitor, which offer only what the campaign's state allows.

Every action goes to the API, which re-checks the state: a campaign that changed in another tab answers
409 with its sentence, which is shown as it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from nicegui import Client, ui

from ui.backend import ApiError, BackendUnreachable, CampaignInfo, api
from ui.components.campaign_rules import allowed_actions, api_time, input_time, next_start, parse_input_time
from ui.components.dialogs import transient_dialog
from ui.session import Session, forget, login_url

AfterChange = Callable[[CampaignInfo | None], Awaitable[None] | None]
"""Called with the changed campaign, or None once it is deleted."""

ACTION_LOOK = {
    "suspend": ("Suspend", "pause"),
    "resume": ("Resume", "play_arrow"),
    "modify": ("Modify", "edit"),
    "end": ("End now", "stop_circle"),
    "delete": ("Delete", "delete"),
}


def action_buttons(
    session: Session, campaign: CampaignInfo, after: AfterChange, *, dense: bool = False
) -> None:
    """One button per action the campaign's state allows (none for viewers)."""
    if not session.allows("marketer"):
        return
    for action in allowed_actions(campaign["status"]):
        label, icon = ACTION_LOOK[action]
        style = "flat dense no-caps" if dense else "outline no-caps"
        color = CONFIRMATIONS[action].color if action in CONFIRMATIONS else "primary"
        ui.button(
            label, icon=icon, on_click=lambda action=action: run_action(session, campaign, action, after)
        ).props(f"{style} color={color}").mark(f"campaign-{action}")


async def run_action(session: Session, campaign: CampaignInfo, action: str, after: AfterChange) -> None:
    # The dialogs delete themselves when closed, and with them the slot a confirm button's handler runs
    # in: what follows the API's answer (a notice, a redraw, a new page) runs in the page's client.
    client = ui.context.client
    if action == "modify":
        ui.navigate.to(f"/campaigns/{campaign['id']}/edit")
    elif action == "resume":
        _ask_resume(client, session, campaign, after)
    elif action in CONFIRMATIONS:
        _confirm(client, session, campaign, after, CONFIRMATIONS[action])


def _ask_resume(client: Client, session: Session, campaign: CampaignInfo, after: AfterChange) -> None:
    end = datetime.fromisoformat(campaign["end_at"]).astimezone(UTC)
    with transient_dialog() as dialog, ui.card().classes("w-[28rem] gap-3").mark("resume-dialog"):
        ui.label(f"Resume “{campaign['name']}”").classes("text-lg font-semibold")
        ui.label(
            "Pick when it runs again. Contacts continue where they stopped, nobody gets a message twice, "
            "and the first trigger also reaches members who joined the group meanwhile."
        ).classes("text-sm text-slate-600")
        start = (
            ui.input("Start again at (UTC)", value=input_time(next_start(datetime.now(UTC))))
            .props("type=datetime-local outlined dense stack-label")
            .classes("w-full")
            .mark("resume-start")
        )
        ui.label(f"It ends as planned on {end.day} {end:%b %Y, %H:%M} UTC.").classes("text-xs text-slate-500")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")

            async def resume() -> None:
                moment = parse_input_time(start.value)
                if moment is None or moment <= datetime.now(UTC):
                    start.props('error error-message="Pick a time later than now."')
                    return
                if moment >= end:
                    start.props('error error-message="Pick a time before the campaign ends."')
                    return
                dialog.close()
                call = api.resume_campaign(session.token, campaign["id"], api_time(moment))
                await _apply(client, session, campaign, after, call, "scheduled to resume")

            ui.button("Resume", icon="play_arrow", on_click=resume).props(
                "unelevated no-caps color=primary"
            ).mark("confirm-resume")
    dialog.open()


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What a confirmation dialog says and does: its marker is ``{action}-dialog``, its button's
    ``confirm-{action}``."""

    action: str
    title: str
    """With ``{name}``, the campaign's name."""
    text: str
    button: str
    icon: str
    color: str
    done: str
    """The campaign "is …" once it is done (the notice)."""
    call: Callable[[str, int], Awaitable[CampaignInfo | None]]
    """The API call, given the session's token and the campaign's id."""


CONFIRMATIONS: dict[str, Confirmation] = {
    "suspend": Confirmation(
        action="suspend",
        title="Suspend “{name}”?",
        text="No trigger fires and no further message of its flow is sent while it is paused; messages "
        "already on their way may still arrive. Contacts keep their place in the flow and continue "
        "where they stopped when you resume it at a new start time.",
        button="Suspend",
        icon="pause",
        color="primary",
        done="paused",
        call=api.suspend_campaign,
    ),
    "end": Confirmation(
        action="end",
        title="End “{name}” now?",
        text="It ends as it would at its end time: no trigger fires again, messages not sent yet are "
        "cancelled and contacts still in its flow stop there. Its statistics and report stay. It "
        "cannot be started again; create a new campaign to send again.",
        button="End now",
        icon="stop_circle",
        color="negative",
        done="ended",
        call=api.end_campaign,
    ),
    "delete": Confirmation(
        action="delete",
        title="Delete “{name}”?",
        text="Its schedule, statistics and report are deleted; messages not sent yet are cancelled and "
        "contacts still in its flow stop there. Messages already sent stay in each contact's history. "
        "This cannot be undone.",
        button="Delete",
        icon="delete",
        color="negative",
        done="deleted",
        call=api.delete_campaign,
    ),
}
"""The actions that only need a yes (resume asks for a time, modify opens the form)."""


def _confirm(
    client: Client,
    session: Session,
    campaign: CampaignInfo,
    after: AfterChange,
    confirmation: Confirmation,
) -> None:
    with (
        transient_dialog() as dialog,
        ui.card().classes("w-[28rem] gap-3").mark(f"{confirmation.action}-dialog"),
    ):
        ui.label(confirmation.title.format(name=campaign["name"])).classes("text-lg font-semibold")
        ui.label(confirmation.text).classes("text-sm text-slate-600")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")

            async def confirmed() -> None:
                dialog.close()
                call = confirmation.call(session.token, campaign["id"])
                await _apply(client, session, campaign, after, call, confirmation.done)

            ui.button(confirmation.button, icon=confirmation.icon, on_click=confirmed).props(
                f"unelevated no-caps color={confirmation.color}"
            ).mark(f"confirm-{confirmation.action}")
    dialog.open()


async def _apply(
    client: Client,
    session: Session,
    campaign: CampaignInfo,
    after: AfterChange,
    call: Awaitable[CampaignInfo | None],
    done: str,
) -> None:
    with client:
        await _answer(session, campaign, after, call, done)


async def _answer(
    session: Session,
    campaign: CampaignInfo,
    after: AfterChange,
    call: Awaitable[CampaignInfo | None],
    done: str,
) -> None:
    try:
        changed = await call
    except BackendUnreachable:
        ui.notify("The API is not answering; nothing was changed.", type="negative")
        return
    except ApiError as exc:
        if exc.status == 401:
            forget()
            ui.navigate.to(login_url(f"/campaigns/{campaign['id']}"))
            return
        ui.notify(exc.detail, type="negative", multi_line=True)
        return
    ui.notify(f"“{campaign['name']}” is {done}.", type="positive")
    result = after(changed)
    if result is not None:
        await result
