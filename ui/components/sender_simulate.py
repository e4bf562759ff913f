"""The sandbox sender's "simulate an inbound message" box: write to the sender as a customer would, STOP
included, without a phone, and see what the gateway did with it.

The message goes to ``POST /senders/{id}/sandbox/inbound`` and from there the same way as a provider's
webhook: stored, then handled by the worker (contact, keywords and opt-outs, confirmations, flows). So the
answer is not in the POST's response: the box posts with its own event id, waits for the inbound message
carrying that id to appear among the sender's messages, then reads what followed it: the consent events
whose evidence names that message, and the sender's replies to the contact. Without a worker nothing
happens, and the box says so rather than waiting for ever.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import senders as senders_api
from ui.clients.senders import MessageInfo, SenderInfo
from ui.components.sender_parts import CARD
from ui.components.sender_rules import (
    FROM_HINTS,
    FROM_MISSING,
    Outcome,
    contact_path,
    error_words,
    history_path,
    outcome_lines,
    quick_words,
)
from ui.session import Session, forget, login_url

POLL_S = 0.5
WAIT_S = 30.0
"""How long the box waits for the worker before saying that none seems to be running."""
SETTLE_S = 8.0
"""How long replies are followed after the message was handled (queued -> sent or failed)."""
MODES = {"text": "Typed text", "button": "Button tap"}
TONES = {"neutral": "text-slate-500", "good": "text-emerald-600", "warn": "text-amber-600"}


class SimulateBox:
    def __init__(self, session: Session, sender: SenderInfo) -> None:
        self.session = session
        self.sender = sender
        self.here = f"/senders/{sender['id']}"
        self.generation = 0
        """Bumped per send: a newer message stops the wait for an older one."""

    def build(self) -> None:
        channel = self.sender["channel"]
        with ui.card().classes(CARD).mark("simulate-box"):
            with ui.row().classes("items-center gap-2 no-wrap"):
                ui.icon("science", size="1.5rem").classes("text-primary")
                ui.label("Simulate an inbound message").classes("text-lg font-semibold text-slate-900")
            ui.label(
                "Write to this sandbox sender as a customer would, and try STOP without a phone. Flowgate "
                "handles it like a message that arrived from the provider: keywords and opt-outs, "
                "confirmations, flows."
            ).classes("text-sm text-slate-600 -mt-2")
            with ui.row().classes("w-full gap-3 items-start no-wrap max-sm:flex-wrap"):
                self.from_input = (
                    ui.input("From").props("outlined dense stack-label").classes("w-96").mark("simulate-from")
                )
                self.from_input.props["hint"] = FROM_HINTS[channel]
                self.from_input.on_value_change(lambda: self._clear_error(self.from_input))
                self.mode = (
                    ui.toggle(MODES, value="text", on_change=self._mode_changed)
                    .props("no-caps unelevated toggle-color=primary")
                    .classes("mt-0.5 border border-slate-300 rounded-md overflow-hidden")
                    .mark("simulate-mode")
                )
            with ui.row().classes("w-full gap-3 items-start no-wrap"):
                self.text_input = (
                    ui.input("Message", value=(quick_words(self.sender) or [""])[0])
                    .props("outlined dense stack-label maxlength=4096")
                    .classes("flex-1")
                    .mark("simulate-text")
                )
                self.text_input.on("keydown.enter", self.send)
                self.text_input.on_value_change(lambda: self._clear_error(self.text_input))
                self.button_input = (
                    ui.input("Button id")
                    .props('outlined dense stack-label maxlength=256 hint="The id of the button tapped"')
                    .classes("flex-1")
                    .mark("simulate-button-id")
                )
                self.button_input.visible = False
                self.button_input.on_value_change(lambda: self._clear_error(self.button_input))
                self.send_button = (
                    ui.button("Send", icon="send", on_click=self.send)
                    .props("unelevated no-caps color=primary")
                    .classes("mt-0.5")
                    .mark("simulate-send")
                )
            words = quick_words(self.sender)
            if words:
                with ui.row().classes("items-center gap-2 -mt-2"):
                    ui.label("Try").classes("text-sm text-slate-500")
                    for word in words:
                        ui.button(word, on_click=lambda word=word: self._use(word)).props(
                            "outline dense rounded no-caps size=sm color=primary"
                        ).classes("px-2").mark(f"quick-{word.lower()}")
            self.result = ui.column().classes("w-full gap-2").mark("simulate-result")

    # --- input ----------------------------------------------------------------------------------------

    def _mode_changed(self, event: Any) -> None:
        typed = event.value != "button"
        self.text_input.visible = typed
        self.button_input.visible = not typed

    def _use(self, word: str) -> None:
        self.mode.set_value("text")
        self.text_input.set_value(word)

    @staticmethod
    def _clear_error(element: ui.input) -> None:
        element.error = None

    def _read(self) -> tuple[str, str | None, str | None] | None:
        """``(from, text, button_id)``, or None after marking what is missing."""
        address = (self.from_input.value or "").strip()
        typed = self.mode.value != "button"
        text = (self.text_input.value or "").strip() if typed else None
        button = (self.button_input.value or "").strip() if not typed else None
        ok = True
        if not address:
            self.from_input.error = FROM_MISSING[self.sender["channel"]]
            ok = False
        if typed and not text:
            self.text_input.error = "Enter what the customer writes, e.g. STOP."
            ok = False
        if not typed and not button:
            self.button_input.error = "Enter the id of the button the customer taps."
            ok = False
        return (address, text, button) if ok else None

    # --- sending and following -------------------------------------------------------------------------

    async def send(self) -> None:
        read = self._read()
        if read is None:
            return
        address, text, button = read
        event_id = f"ui-{uuid.uuid4().hex}"
        posted = datetime.now(UTC)
        try:
            await senders_api.simulate_inbound(
                self.session.token,
                self.sender["id"],
                from_=address,
                text=text,
                button_id=button,
                event_id=event_id,
            )
        except BackendUnreachable as exc:
            ui.notify(f"Flowgate's API at {exc.url} is not answering; nothing was sent.", type="negative")
            return
        except ApiError as exc:
            self._refused(exc)
            return
        self.generation += 1
        generation = self.generation
        said = text if text is not None else f"a tap on button “{button}”"
        self._show_waiting(said)
        inbound = await self._wait_for(event_id, generation)
        if generation != self.generation or self.result.is_deleted:
            return
        if inbound is None:
            self._show_not_handled(said, event_id, generation)
            return
        await self._follow(inbound, posted, generation)

    def _refused(self, exc: ApiError) -> None:
        if exc.status == 401:
            forget()
            ui.navigate.to(login_url(self.here))
            return
        inputs = {"from": self.from_input, "text": self.text_input, "button_id": self.button_input}
        shown = False
        for field, message in exc.field_errors.items():
            element = inputs.get(field)
            if element is not None and element.visible:
                element.error = error_words(field, message)
                shown = True
        if not shown:
            ui.notify(f"Not sent: {exc.detail}", type="negative", multi_line=True)

    async def _wait_for(self, event_id: str, generation: int) -> MessageInfo | None:
        """The stored inbound message of ``event_id`` once the worker handled it, or None after WAIT_S."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if generation != self.generation or self.result.is_deleted:
                return None
            try:
                recent = await senders_api.sender_messages(
                    self.session.token, self.sender["id"], direction="inbound", limit=50
                )
            except (ApiError, BackendUnreachable):
                recent = []  # a blip: keep waiting until the deadline
            for message in recent:
                if message.get("provider_message_id") == event_id:
                    return message
            await asyncio.sleep(POLL_S)
        return None

    async def _follow(self, inbound: MessageInfo, posted: datetime, generation: int) -> None:
        """Show what the message did, then follow the replies until they left (or SETTLE_S passed)."""
        deadline = time.monotonic() + SETTLE_S
        while True:
            try:
                replies, events = await self._effects(inbound, posted)
            except (ApiError, BackendUnreachable) as exc:
                detail = exc.detail if isinstance(exc, ApiError) else "the API is not answering"
                replies, events = [], []
                ui.notify(f"What the message did could not be read: {detail}", type="warning")
            if generation != self.generation or self.result.is_deleted:
                return
            self._show_outcome(inbound, replies, events)
            settled = all(reply.get("status") != "queued" for reply in replies)
            if settled or time.monotonic() > deadline:
                return
            await asyncio.sleep(POLL_S * 2)

    async def _effects(self, inbound: MessageInfo, posted: datetime) -> tuple[list[MessageInfo], list[Any]]:
        token = self.session.token
        contact_id = inbound.get("contact_id")
        since = (posted - timedelta(minutes=10)).isoformat()
        replies_call = (
            senders_api.sender_messages(
                token, self.sender["id"], direction="outbound", contact_id=contact_id, limit=10
            )
            if contact_id is not None
            else _nothing()
        )
        outbound, events = await asyncio.gather(
            replies_call,
            senders_api.consent_events(
                token, channel=self.sender["channel"], address=str(inbound.get("to", "")), since=since
            ),
        )
        replies = sorted(
            (message for message in outbound if message.get("id", 0) > inbound.get("id", 0)),
            key=lambda message: message.get("id", 0),
        )
        own = [
            event
            for event in events
            if (event.get("evidence") or {}).get("inbound_message_id") == inbound.get("id")
        ]
        return replies, own

    # --- drawing -------------------------------------------------------------------------------------------

    def _show_waiting(self, said: str) -> None:
        self.result.clear()
        with self.result, ui.row().classes("items-center gap-2 no-wrap"):
            ui.spinner(size="1.25rem")
            ui.label(f"Sent {_quoted(said)}. Waiting for the worker to handle it…").classes(
                "text-sm text-slate-600"
            ).mark("simulate-waiting")

    def _show_not_handled(self, said: str, event_id: str, generation: int) -> None:
        self.result.clear()
        with (
            self.result,
            ui.column().classes("w-full gap-2 rounded-lg bg-amber-50 p-3").mark("simulate-pending"),
        ):
            ui.label(
                f"{_first_upper(_quoted(said))} is stored, but no worker has handled it yet. Messages are "
                "handled by Flowgate's worker (flowgate worker; flowgate dev and make run start one), "
                "which picks this one up as soon as it runs."
            ).classes("text-sm text-amber-900")

            async def check_again() -> None:
                self._show_waiting(said)
                inbound = await self._wait_for(event_id, generation)
                if generation != self.generation or self.result.is_deleted:
                    return
                if inbound is None:
                    self._show_not_handled(said, event_id, generation)
                    return
                await self._follow(inbound, datetime.now(UTC) - timedelta(minutes=5), generation)

            ui.button("Check again", icon="refresh", on_click=check_again).props(
                "outline dense no-caps"
            ).mark("simulate-check-again")

    def _show_outcome(self, inbound: MessageInfo, replies: list[MessageInfo], events: list[Any]) -> None:
        self.result.clear()
        with (
            self.result,
            ui.column()
            .classes("w-full gap-2 rounded-lg border border-slate-200 p-3")
            .mark("simulate-outcome"),
        ):
            for line in outcome_lines(inbound, replies, events):
                _line(line)
            with ui.row().classes("gap-4 pt-1"):
                contact_id = inbound.get("contact_id")
                if contact_id is not None:
                    ui.link("Open the contact", contact_path(contact_id)).classes("text-sm").mark(
                        "simulate-contact-link"
                    )
                ui.link(
                    f"Opt-out history of {inbound.get('to', '')}",
                    history_path(self.sender["channel"], str(inbound.get("to", ""))),
                ).classes("text-sm").mark("simulate-history-link")


def _line(line: Outcome) -> None:
    with ui.row().classes("items-start gap-2 no-wrap"):
        ui.icon(line.icon, size="1.2rem").classes(f"{TONES[line.tone]} shrink-0 mt-0.5")
        ui.label(line.text).classes("text-sm text-slate-800").mark("outcome-line")


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _quoted(said: str) -> str:
    return said if said.startswith("a tap") else f"“{said}”"


async def _nothing() -> list[MessageInfo]:
    return []
