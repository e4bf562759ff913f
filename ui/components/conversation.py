"""A contact's conversation as chat bubbles: what Flowgate sent (right) and what the contact wrote
(left), each outbound message with its delivery status and, when it was not sent, why.

Messages come newest first from ``GET /messages?contact_id=`` so the latest are shown at once; "Load
earlier" walks back with the cursor. A message still on its way (queued, sending) is asked for again
every few seconds for a while, so a message sent from the compose box turns "Sent" and "Delivered"
in place without a reload.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable, api
from ui.clients import audience as client
from ui.components.audience_rules import (
    CHANNEL_LABEL,
    KINDS,
    PENDING,
    STATUS_LOOK,
    message_body,
    message_time,
    status_text,
)
from ui.components.page_states import action_failed
from ui.components.times import parse_timestamp, relative_time
from ui.session import Session

PAGE_SIZE = 30
REFRESH_S = 2.0
FOLLOW_FOR_S = 300.0
"""A message still pending after five minutes is left alone (the worker or provider is down; a reload
shows whatever became of it)."""


class Conversation:
    def __init__(self, session: Session, contact: dict[str, Any], senders: dict[int, dict[str, Any]]) -> None:
        self.session = session
        self.contact = contact
        self.senders = senders
        self.messages: dict[int, dict[str, Any]] = {}
        self.campaign_names: dict[int, str] = {}
        """The campaigns the messages came from, by id, named as their monitors are (asked for once)."""
        self.next_cursor: str | None = None
        self.here = f"/audience/contacts/{contact['id']}"
        # Newest first in the page, drawn bottom-up (column-reverse; no-wrap, since Quasar's `.flex` wraps
        # and a long conversation would spill into a second column): it opens scrolled
        # to its latest message, like a chat, without any script.
        self.body = (
            ui.element("div")
            .classes("w-full max-h-[34rem] overflow-y-auto flex flex-col-reverse no-wrap gap-2 pr-1")
            .mark("conversation")
        )
        self.timer = ui.timer(REFRESH_S, self.follow_pending, active=False)

    async def load(self) -> None:
        try:
            page = await client.contact_messages(self.session.token, self.contact["id"], limit=PAGE_SIZE)
        except (ApiError, BackendUnreachable) as exc:
            self.body.clear()
            with self.body:
                ui.label(
                    "The conversation could not be loaded: "
                    + (exc.detail if isinstance(exc, ApiError) else "the API is not answering")
                ).classes("text-sm text-amber-700").mark("conversation-problem")
            return
        self.messages = {message["id"]: message for message in page["items"]}
        self.next_cursor = page["next_cursor"]
        await self._name_campaigns()
        self.render()

    async def load_earlier(self) -> None:
        try:
            page = await client.contact_messages(
                self.session.token, self.contact["id"], cursor=self.next_cursor, limit=PAGE_SIZE
            )
        except (ApiError, BackendUnreachable) as exc:
            action_failed(exc, "Earlier messages could not be loaded", here=self.here)
            return
        self.messages.update({message["id"]: message for message in page["items"]})
        self.next_cursor = page["next_cursor"]
        await self._name_campaigns()
        self.render()

    async def _name_campaigns(self) -> None:
        unnamed = {m["campaign_id"] for m in self.messages.values() if m.get("campaign_id")} - set(
            self.campaign_names
        )

        async def name(campaign_id: int) -> None:
            try:
                self.campaign_names[campaign_id] = (await api.get_campaign(self.session.token, campaign_id))[
                    "name"
                ]
            except ApiError as exc:
                if exc.status == 404:
                    self.campaign_names[campaign_id] = "a deleted campaign"
            except BackendUnreachable:
                pass  # the bubble links to the campaign without its name

        await asyncio.gather(*(name(campaign_id) for campaign_id in sorted(unnamed)))

    def add(self, message: dict[str, Any]) -> None:
        """A message just sent: shown at once, and followed until its status settles."""
        self.messages[message["id"]] = message
        self.render()

    async def follow_pending(self) -> None:
        now = datetime.now(UTC)
        pending = [
            message
            for message in self.messages.values()
            if message["status"] in PENDING
            and (now - parse_timestamp(message["created_at"])).total_seconds() < FOLLOW_FOR_S
        ]
        if not pending:
            self.timer.deactivate()
            return
        changed = False
        for message in pending:
            try:
                fresh = await client.get_message(self.session.token, message["id"])
            except (ApiError, BackendUnreachable):
                continue  # asked again on the next tick
            if fresh["status"] != message["status"]:
                self.messages[fresh["id"]] = fresh
                changed = True
        if changed:
            self.render()

    def render(self) -> None:
        self.body.clear()
        ordered = sorted(self.messages.values(), key=lambda message: message["id"], reverse=True)
        with self.body:
            if not ordered:
                ui.label("No messages with this contact yet.").classes(
                    "text-sm text-slate-500 self-center py-6"
                ).mark("conversation-empty")
            for message in ordered:
                self._bubble(message)
            if self.next_cursor:  # last in the page: drawn on top
                ui.button("Load earlier messages", icon="expand_less", on_click=self.load_earlier).props(
                    "flat dense no-caps"
                ).classes("self-center").mark("load-earlier")
        if any(message["status"] in PENDING for message in ordered):
            self.timer.activate()

    def _bubble(self, message: dict[str, Any]) -> None:
        outbound = message["direction"] == "outbound"
        sender = self.senders.get(message.get("sender_id") or 0)
        channel = CHANNEL_LABEL.get(message["channel"], message["channel"])
        with (
            ui.column()
            .classes("max-w-[80%] gap-1 " + ("self-end items-end" if outbound else "self-start items-start"))
            .mark("message", f"message-{message['id']}")
        ):
            parts = [channel, sender["name"] if sender else ""]
            if outbound and message.get("kind"):
                parts.append(KINDS.get(message["kind"], message["kind"]))
            with ui.row().classes("items-center gap-1 no-wrap text-xs text-slate-500"):
                ui.label(" · ".join(part for part in parts if part))
                campaign_id = message.get("campaign_id")
                if campaign_id:
                    ui.label("·")
                    ui.link(
                        self.campaign_names.get(campaign_id, "its campaign"), f"/campaigns/{campaign_id}"
                    ).classes("text-slate-500 hover:text-primary truncate max-w-[14rem]").mark(
                        "message-campaign"
                    )
            with ui.element("div").classes(
                "rounded-2xl px-4 py-2 text-sm whitespace-pre-wrap break-words " + _bubble_look(message)
            ):
                if message.get("subject"):
                    ui.label(message["subject"]).classes("font-semibold")
                body = message_body(message)
                if body:
                    ui.label(body).mark("message-text")
                if message.get("media_url"):
                    with ui.row().classes("items-center gap-1 no-wrap text-xs opacity-90"):
                        ui.icon("attachment", size="1rem")
                        ui.link(_file_name(message["media_url"]), message["media_url"], new_tab=True).classes(
                            "text-inherit underline truncate max-w-[16rem]"
                        ).mark("message-media")
                for button in message.get("buttons") or []:
                    ui.label(f"[{button.get('title', button.get('id'))}]").classes("text-xs opacity-80")
            with ui.row().classes("items-center gap-2 no-wrap"):
                moment = parse_timestamp(message["created_at"])
                ui.label(relative_time(moment, datetime.now(UTC))).classes("text-xs text-slate-400").tooltip(
                    message_time(message)
                )
                if outbound:
                    _, look = STATUS_LOOK.get(message["status"], ("", "bg-slate-100 text-slate-600"))
                    ui.label(status_text(message)).classes(f"text-xs px-2 py-0.5 rounded-full {look}").mark(
                        "message-status"
                    )


def _bubble_look(message: dict[str, Any]) -> str:
    """Sent: indigo on the right; not sent: pale red, so it never reads as delivered; received: white."""
    if message["direction"] != "outbound":
        return "bg-white text-slate-900 border border-slate-200 rounded-bl-sm"
    if message["status"] == "failed":
        return "bg-red-50 text-red-900 border border-dashed border-red-300 rounded-br-sm"
    return "bg-indigo-600 text-white rounded-br-sm"


def _file_name(url: str) -> str:
    """The media's file name, as a link's words (the whole address when its path names none)."""
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    return name or url
