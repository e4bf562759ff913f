"""The preview simulator: walk a published flow version as a test contact, in a phone-like chat pane.

One component for three places: the flow editor shows it next to the canvas (and highlights the run's
node and path through ``on_progress``), campaign forms open it in a dialog, and ``/flows/{id}/preview``
shows it alone. The run itself lives at the API (``/api/v1/previews``): the pane only draws its latest
answer, so what the marketer sees is exactly what the interpreter did, never a UI-side imitation.

Within one preview the transcript only grows, so new bubbles are appended instead of redrawing the chat
(the scroll position and the browser's work stay put); only the quick-reply buttons change state, since
the interpreter answers a tap only while it waits on that message (older taps are ignored by it).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from nicegui import context, ui

from ui.backend import ApiError, BackendUnreachable, PreviewInfo, VersionSummary, api
from ui.components.field_errors import in_words
from ui.session import Session, forget, login_url

log = logging.getLogger(__name__)

ProgressHandler = Callable[[str | None, list[str]], Awaitable[None] | None]
"""``on_progress(active_node_id, visited_node_ids_in_order)``; ``(None, [])`` when there is no run."""
CloseHandler = Callable[[], Awaitable[None] | None]

ANSWERABLE_WAITS = frozenset({"reply", "buttons"})
"""Waits that a typed reply or a tap ends (a delay or an HTTP call ignores replies)."""

CONTACT_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("phone", "Phone"),
    ("email", "Email"),
    ("timezone", "Time zone"),
)
DEFAULT_CONTACT = {"name": "Test contact", "phone": "", "email": "", "timezone": "UTC"}
KIND_CAPTIONS = {"marketing": "Marketing", "transactional": "Transactional"}
KIND_IN_CAMPAIGNS = "The step's kind. A marketing campaign sends every message of its flow as marketing."


# --- reading a preview answer (pure, so the rules are easy to check) ----------------------------------


def parse_time(value: str | None) -> datetime | None:
    """The API's ISO timestamps (``...Z`` included) as aware datetimes; None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def format_duration(seconds: float) -> str:
    """A wait as people say it: ``45 s``, ``5 min``, ``1 h 30 min``, ``2 days 3 h``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    day_text = f"{days} day" if days == 1 else f"{days} days"
    return f"{day_text} {hours} h" if hours else day_text


def tappable_bubble(preview: Mapping[str, Any]) -> int | None:
    """Index of the one out bubble whose buttons a tap may answer now, or None.

    The API matches a tap against the flow's latest message only, and the interpreter takes it only while
    the run waits for a reply or a tap; buttons anywhere else would just produce an "ignored" note.
    """
    waiting = preview.get("waiting")
    if preview.get("status") != "waiting" or not waiting or waiting.get("kind") not in ANSWERABLE_WAITS:
        return None
    transcript = preview.get("transcript") or []
    for index in range(len(transcript) - 1, -1, -1):
        bubble = transcript[index]
        if bubble.get("direction") != "out":
            continue
        if not bubble.get("buttons"):
            return None
        if waiting["kind"] == "buttons" and bubble.get("node_id") != waiting.get("node_id"):
            return None
        return index
    return None


def accepts_reply(preview: Mapping[str, Any] | None) -> bool:
    waiting = (preview or {}).get("waiting")
    return bool(
        preview and preview.get("status") == "waiting" and waiting and waiting["kind"] in ANSWERABLE_WAITS
    )


def wait_label(preview: Mapping[str, Any]) -> str | None:
    """What the Skip button says (``Waiting 1 h — Skip``), or None when no timer is pending."""
    waiting = preview.get("waiting")
    until = parse_time((waiting or {}).get("until"))
    clock = parse_time(preview.get("clock"))
    if preview.get("status") != "waiting" or until is None or clock is None:
        return None
    duration = format_duration((until - clock).total_seconds())
    if waiting and waiting.get("kind") in ANSWERABLE_WAITS:
        return f"No reply? Times out in {duration} — Skip"
    return f"Waiting {duration} — Skip"


def end_text(preview: Mapping[str, Any]) -> str | None:
    """The status line of a finished run; the reason of a failed one is the interpreter's last note."""
    status = preview.get("status")
    if status == "completed":
        return "Flow finished"
    if status == "failed":
        notes = [b["text"] for b in preview.get("transcript") or [] if b.get("direction") == "note"]
        return f"Run ended: {notes[-1]}" if notes else "Run ended: the flow failed"
    return None


def visited_nodes(preview: Mapping[str, Any]) -> list[str]:
    """The path's node ids, oldest first, repeats kept (a loop visits a node twice)."""
    return [step["node_id"] for step in preview.get("path") or []]


def is_web_link(url: str) -> bool:
    """Only http(s) media URLs become links: a ``javascript:`` URL in a flow must not run on a click."""
    return urlsplit(url.strip()).scheme.lower() in ("http", "https")


def contact_zone(preview: Mapping[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(str((preview.get("contact") or {}).get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def _call(callback: Callable[..., Awaitable[None] | None] | None, *args: Any) -> None:
    """Run a sync or async callback of the embedding page."""
    if callback is None:
        return
    result = callback(*args)
    if inspect.isawaitable(result):
        await result


# --- the test contact form -----------------------------------------------------------------------------


@dataclass
class _AttributeRow:
    row: ui.row
    key: ui.input
    value: ui.input


class ContactForm:
    """Who the flow talks to in the preview. The API validates it; its field errors show at the fields."""

    def __init__(self, on_apply: Callable[[], Awaitable[None]]) -> None:
        self._rows: list[_AttributeRow] = []
        with (
            ui.expansion("Test contact", icon="person_outline", caption="Name, time zone and attributes")
            .classes("w-full bg-white rounded-xl border border-slate-200 overflow-hidden")
            .props("dense header-class=text-slate-800")
            .mark("preview-contact") as self.expansion,
            ui.column().classes("w-full gap-2 px-3 pb-3"),
        ):
            self.inputs = {
                key: ui.input(label, value=DEFAULT_CONTACT[key])
                .props("dense outlined")
                .classes("w-full")
                .mark(f"contact-{key}")
                for key, label in CONTACT_FIELDS
            }
            self.inputs["timezone"].set_autocomplete(sorted(available_timezones()))
            ui.label("Attributes").classes("text-xs font-medium text-slate-500 uppercase tracking-wide mt-1")
            ui.label("Used by {{contact.<name>}} in messages and by attribute branches.").classes(
                "text-xs text-slate-500 -mt-2"
            )
            self._rows_box = ui.column().classes("w-full gap-1")
            ui.button("Add attribute", icon="add", on_click=lambda: self.add_row()).props(
                "flat dense no-caps color=primary"
            ).classes("self-start").mark("preview-add-attribute")
            self._problem = (
                ui.label().classes("text-xs text-red-700 whitespace-pre-wrap").mark("contact-problem")
            )
            self._problem.visible = False
            ui.button("Restart with this contact", icon="restart_alt", on_click=on_apply).props(
                "unelevated dense no-caps"
            ).classes("w-full").mark("preview-contact-apply")

    def add_row(self, key: str = "", value: str = "") -> _AttributeRow:
        with self._rows_box, ui.row().classes("w-full items-start gap-1 no-wrap") as row:
            key_input = ui.input("Attribute", value=key).props("dense outlined").classes("flex-1 min-w-0")
            value_input = ui.input("Value", value=value).props("dense outlined").classes("flex-1 min-w-0")
            entry = _AttributeRow(row, key_input.mark("attribute-key"), value_input.mark("attribute-value"))
            ui.button(icon="close", on_click=lambda: self._remove(entry)).props(
                "flat round dense color=grey-7"
            ).classes("mt-1").mark("preview-remove-attribute").tooltip("Remove")
        self._rows.append(entry)
        return entry

    def _remove(self, entry: _AttributeRow) -> None:
        self._rows.remove(entry)
        entry.row.delete()

    def values(self) -> dict[str, Any]:
        """The contact as the API takes it; attribute rows without a name are skipped."""
        contact: dict[str, Any] = {key: (field.value or "").strip() for key, field in self.inputs.items()}
        contact["attributes"] = {
            (row.key.value or "").strip(): row.value.value or ""
            for row in self._rows
            if (row.key.value or "").strip()
        }
        return contact

    def clear_errors(self) -> None:
        for field in self.inputs.values():
            field.error = None
        self._problem.visible = False

    def show_errors(self, field_errors: Mapping[str, str]) -> bool:
        """Put the API's ``contact.*`` errors at their fields; True when any was about the contact."""
        others: list[str] = []
        for name, message in field_errors.items():
            if not name.startswith("contact"):
                continue
            key = name.removeprefix("contact").lstrip(".")
            message = in_words(message)
            if key in self.inputs:
                self.inputs[key].error = message
            else:
                others.append(f"{key or 'contact'}: {message}")
        self._problem.text = "\n".join(others)
        self._problem.visible = bool(others)
        touched = any(name.startswith("contact") for name in field_errors)
        if touched:
            self.expansion.open()
        return touched


# --- the pane ------------------------------------------------------------------------------------------


class PreviewPane(ui.column):
    """A phone-like chat that walks one published version of a flow; create it, then ``await start()``.

    ``version`` is what the version picker shows until the first start (and what its Start button runs
    when the embedding page has not started it); ``start(None)`` always means the latest version.
    """

    def __init__(
        self,
        session: Session,
        flow_id: int,
        *,
        version: int | None = None,
        on_progress: ProgressHandler | None = None,
        on_close: CloseHandler | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.flow_id = flow_id
        self.version = version
        self.on_progress = on_progress
        self.on_close = on_close
        self.preview: PreviewInfo | None = None
        self._flow_name = ""
        self._generation = 0
        """Bumped by every start: answers that arrive for an older run are dropped."""
        self._busy = False
        self._syncing_picker = False
        self._rendered = 0
        self._button_rows: list[tuple[int, list[ui.button]]] = []
        self._last_day: str | None = None
        self.classes("w-[360px] max-w-full gap-3 no-wrap").mark("preview-pane")
        with self:
            self._toolbar()
            self._phone()
            self.contact = ContactForm(self._restart)
        self._show_notice("play_circle_outline", "Preview", "Walk this flow as a test contact.", start=True)

    # --- public ------------------------------------------------------------------------------------

    async def start(self, version: int | None = None) -> None:
        """(Re)start a run of ``version`` (None = the latest) with the test contact from the form."""
        self._generation += 1
        generation = self._generation
        await _call(self.on_progress, None, [])
        self._set_busy(True)
        try:
            versions = await self._load_flow(generation)
            if generation != self._generation or versions is None:
                return
            if not versions:
                self._sync_picker([], None)
                self._show_notice(
                    "unpublished",
                    "Publish the flow to preview it",
                    "The preview walks a published version, exactly what campaigns send. Publish the "
                    "flow in the editor, then restart the preview.",
                )
                return
            numbers = [item["number"] for item in versions]
            chosen = version if version is not None else numbers[0]
            self._sync_picker(versions, chosen)
            if chosen not in numbers:
                self._show_notice(
                    "search_off", f"There is no version {chosen}", "Pick one of the published versions above."
                )
                return
            self.version = chosen
            await self._start_run(generation, chosen)
        finally:
            if generation == self._generation:
                self._set_busy(False)

    # --- layout --------------------------------------------------------------------------------------

    def _toolbar(self) -> None:
        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            ui.icon("smartphone", size="1.25rem").classes("text-slate-500")
            ui.label("Preview").classes("text-base font-semibold text-slate-900")
            ui.space()
            self._picker = (
                ui.select({}, label="Version", on_change=self._picked)
                .props("dense outlined options-dense")
                .classes("w-32")
                .mark("preview-version")
            )
            self._restart_button = (
                ui.button(icon="restart_alt", on_click=self._restart)
                .props("flat round dense color=grey-8")
                .mark("preview-restart")
            )
            self._restart_button.tooltip("Restart from the beginning")
            if self.on_close is not None:
                ui.button(icon="close", on_click=self._close).props("flat round dense color=grey-8").mark(
                    "preview-close"
                ).tooltip("Close the preview")

    def _phone(self) -> None:
        with (
            ui.column()
            .classes(
                "w-full gap-0 no-wrap overflow-hidden rounded-[28px] border-[6px] border-slate-800 "
                "bg-slate-100 shadow-lg"
            )
            .style("height: min(620px, 78vh)")
            .mark("preview-phone")
        ):
            self._phone_header()
            # column-reverse keeps the newest bubble in view without any scrolling script.
            with ui.element("div").classes(
                "w-full flex-1 min-h-0 overflow-y-auto flex flex-col-reverse no-wrap"
            ) as self._scroller:
                self._chat = ui.column().classes("w-full gap-1.5 px-3 py-3").mark("preview-chat")
            self._notice = ui.column().classes(
                "w-full flex-1 min-h-0 items-center justify-center gap-2 px-6 text-center"
            )
            self._footer()

    def _phone_header(self) -> None:
        with ui.row().classes("w-full items-center gap-2.5 px-3 py-2.5 bg-indigo-600 text-white no-wrap"):
            with ui.element("div").classes(
                "w-9 h-9 rounded-full bg-white/20 flex items-center justify-center shrink-0"
            ):
                self._initials = ui.label("TC").classes("text-sm font-semibold")
            with ui.column().classes("gap-0 min-w-0 flex-1"):
                self._contact_name = (
                    ui.label(DEFAULT_CONTACT["name"])
                    .classes("font-medium truncate w-full")
                    .mark("preview-contact-name")
                )
                self._title = (
                    ui.label("").classes("text-xs text-indigo-100 truncate w-full").mark("preview-title")
                )
            self._spinner = ui.spinner(size="1.2rem", color="white")
            self._spinner.visible = False

    def _footer(self) -> None:
        with ui.column().classes("w-full gap-0 bg-white border-t border-slate-200"):
            self._status = ui.label("").classes("w-full px-3 pt-2 text-xs text-center").mark("preview-status")
            self._status.visible = False
            self._skip = (
                ui.button("", icon="fast_forward", on_click=self._skip_wait)
                .props("flat dense no-caps color=primary size=sm")
                .classes("self-center mt-1")
                .mark("preview-skip-wait")
            )
            self._skip.visible = False
            with ui.row().classes("w-full items-center gap-1.5 px-2 py-2 no-wrap"):
                self._reply = (
                    ui.input(placeholder="Type a reply")
                    .props("dense outlined rounded")
                    .classes("flex-1 min-w-0")
                    .on("keydown.enter", self._send_typed)
                    .mark("preview-reply")
                )
                self._send = (
                    ui.button(icon="send", on_click=self._send_typed)
                    .props("round dense unelevated color=primary")
                    .mark("preview-send")
                )

    # --- states --------------------------------------------------------------------------------------

    def _show_notice(self, icon: str, title: str, text: str, *, start: bool = False) -> None:
        """An explanation in place of the chat (nothing published, no such flow, API down...)."""
        self.preview = None
        self._reset_chat()
        self._scroller.visible = False
        self._notice.visible = True
        self._status.visible = False
        self._draw_header(self.contact.values()["name"], None)
        self._notice.clear()
        with self._notice:
            ui.icon(icon, size="2.25rem").classes("text-slate-400")
            ui.label(title).classes("text-base font-medium text-slate-800").mark("preview-notice")
            ui.label(text).classes("text-sm text-slate-500")
            if start:
                ui.button("Start", icon="play_arrow", on_click=lambda: self.start(self.version)).props(
                    "unelevated no-caps"
                ).mark("preview-start")
        self._refresh_controls()

    def _show_problem(self, text: str) -> None:
        """A failed request while a run is shown: say so in the status line, keep the transcript."""
        self._status.text = text
        self._status.classes(replace="w-full px-3 py-2 text-xs text-center text-amber-700")
        self._status.visible = True

    def _reset_chat(self) -> None:
        self._chat.clear()
        self._rendered = 0
        self._button_rows = []
        self._last_day = None

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._spinner.visible = busy
        self._refresh_controls()

    def _refresh_controls(self) -> None:
        """Enable exactly what the run can take now: one message's buttons, the reply box, Skip."""
        preview = self.preview
        tappable = tappable_bubble(preview) if preview else None
        for index, buttons in self._button_rows:
            for button in buttons:
                button.set_enabled(index == tappable and not self._busy)
        # The box itself stays enabled while a reply is on its way: disabling it would take the focus away
        # after every Enter. Sending is what waits for the answer.
        self._reply.set_enabled(accepts_reply(preview))
        self._send.set_enabled(accepts_reply(preview) and not self._busy)
        self._reply.props["placeholder"] = (
            "Type a reply" if accepts_reply(preview) else "The flow is not waiting for a reply"
        )
        skip = wait_label(preview) if preview else None
        self._skip.visible = skip is not None
        self._skip.text = skip or ""
        self._skip.set_enabled(not self._busy)
        self._restart_button.set_enabled(not self._busy)
        self._picker.set_enabled(not self._busy and bool(self._picker.options))

    # --- talking to the API ----------------------------------------------------------------------------

    async def _load_flow(self, generation: int) -> list[VersionSummary] | None:
        """The flow's name and its published versions, newest first; None when the pane shows why not."""
        try:
            flow = await api.get_flow(self.session.token, self.flow_id)
            versions = await api.list_versions(self.session.token, self.flow_id)
        except (ApiError, BackendUnreachable) as exc:
            text = self._failure_text(exc, "There is no such flow in this workspace.")
            if text is not None and generation == self._generation:
                self._sync_picker([], None)
                self._show_notice("error_outline", "Preview not available", text)
            return None
        self._flow_name = flow["name"]
        return versions

    async def _start_run(self, generation: int, version: int) -> None:
        self.contact.clear_errors()
        try:
            preview = await api.start_preview(
                self.session.token, self.flow_id, version=version, contact=self.contact.values()
            )
        except (ApiError, BackendUnreachable) as exc:
            if generation != self._generation:
                return
            if isinstance(exc, ApiError) and self.contact.show_errors(exc.field_errors):
                self._show_notice("person_off", "Check the test contact", "Fix the fields marked below.")
                return
            text = self._failure_text(exc)
            if text is not None:
                self._show_notice("error_outline", "The preview could not start", text)
            return
        if generation == self._generation:
            await self._show(preview)

    async def _answer(self, *, text: str | None = None, button_id: str | None = None) -> None:
        """Reply as the test contact (typed or tapped) and draw what the flow did next."""
        await self._act(
            lambda preview_id: api.reply_preview(
                self.session.token, preview_id, text=text, button_id=button_id
            )
        )

    async def _skip_wait(self) -> None:
        await self._act(lambda preview_id: api.skip_wait_preview(self.session.token, preview_id))

    async def _act(self, request: Callable[[str], Awaitable[PreviewInfo]]) -> None:
        """One request on the current run, one at a time; a restart meanwhile discards its answer."""
        if self.preview is None or self._busy:
            return
        generation = self._generation
        self._set_busy(True)
        try:
            preview = await request(self.preview["id"])
        except (ApiError, BackendUnreachable) as exc:
            if generation == self._generation:
                text = self._failure_text(
                    exc, "This preview has expired or was removed. Restart to walk the flow again."
                )
                if text is not None:
                    self._show_problem(text)
            return
        finally:
            if generation == self._generation:
                self._set_busy(False)
        if generation == self._generation:
            await self._show(preview)

    def _failure_text(self, exc: ApiError | BackendUnreachable, not_found: str = "") -> str | None:
        """What to tell the person; None after a 401, which sends them to the login page instead."""
        if isinstance(exc, BackendUnreachable):
            return f"Flowgate's API at {exc.url} did not answer ({exc.reason}). Try again in a moment."
        if exc.status == 401:
            forget()
            ui.navigate.to(login_url(self._here()))
            return None
        if exc.status == 404 and not_found:
            return not_found
        if exc.status == 403:
            return "Your role may not preview flows in this workspace."
        return exc.detail

    def _here(self) -> str:
        """The page to come back to after logging in again (the editor, the preview page, a campaign)."""
        try:
            url = context.client.request.url
        except RuntimeError:
            return f"/flows/{self.flow_id}/preview"
        return url.path + (f"?{url.query}" if url.query else "")

    # --- drawing an answer -----------------------------------------------------------------------------

    async def _show(self, preview: PreviewInfo) -> None:
        if self.preview is None or self.preview["id"] != preview["id"]:
            self._reset_chat()
        self.preview = preview
        self._notice.visible = False
        self._scroller.visible = True
        zone = contact_zone(preview)
        transcript = preview["transcript"]
        with self._chat:
            for index in range(self._rendered, len(transcript)):
                self._draw(index, transcript[index], zone)
        self._rendered = len(transcript)
        self._draw_header(str(preview["contact"].get("name") or ""), preview["version"])
        self._draw_status(preview)
        self._refresh_controls()
        await _call(self.on_progress, preview["active_node"], visited_nodes(preview))

    def _draw_header(self, name: str, version: int | None) -> None:
        """Who is chatting (the test contact) and what (the flow and the version of this run)."""
        name = name.strip() or DEFAULT_CONTACT["name"]
        self._contact_name.text = name
        self._initials.text = "".join(word[0] for word in name.split()[:2]).upper() or "?"
        self._title.text = " · ".join(
            part for part in (self._flow_name, f"v{version}" if version else "") if part
        )

    def _draw_status(self, preview: PreviewInfo) -> None:
        text = end_text(preview)
        self._status.visible = text is not None
        if text is not None:
            colour = "text-emerald-700" if preview["status"] == "completed" else "text-red-700"
            self._status.text = text
            self._status.classes(replace=f"w-full px-3 py-2 text-sm font-medium text-center {colour}")

    def _draw(self, index: int, bubble: dict[str, Any], zone: ZoneInfo) -> None:
        at = parse_time(bubble.get("at"))
        local = at.astimezone(zone) if at else None
        if local is not None:
            day = local.strftime("%a %d %b %Y")
            if day != self._last_day:
                self._last_day = day
                ui.label(local.strftime("%a %d %b")).classes(
                    "self-center text-[11px] text-slate-500 bg-white/80 rounded-full px-2.5 py-0.5 my-1"
                ).mark("preview-day")
        time_text = local.strftime("%H:%M") if local else ""
        direction = bubble.get("direction")
        if direction == "out":
            buttons = _out_bubble(bubble, time_text, lambda button_id: self._answer(button_id=button_id))
            if buttons:
                self._button_rows.append((index, buttons))
        elif direction == "in":
            _in_bubble(bubble, time_text)
        else:
            _note_bubble(bubble)

    # --- event handlers ------------------------------------------------------------------------------

    async def _send_typed(self) -> None:
        text = (self._reply.value or "").strip()
        if not text or not accepts_reply(self.preview) or self._busy:
            return
        self._reply.value = ""
        await self._answer(text=text)

    async def _restart(self) -> None:
        await self.start(self._picker.value if self._picker.options else self.version)

    def _picked(self) -> Awaitable[None] | None:
        """A version picked by the person restarts on it; NiceGUI runs the returned coroutine.

        Synchronous on purpose: the check must happen while :meth:`_sync_picker` still holds its flag.
        """
        if self._syncing_picker or self._picker.value is None:
            return None
        return self.start(self._picker.value)

    async def _close(self) -> None:
        self._generation += 1  # an answer still on its way must not highlight the graph again
        self._set_busy(False)
        await _call(self.on_progress, None, [])
        await _call(self.on_close)

    def _sync_picker(self, versions: list[VersionSummary], chosen: int | None) -> None:
        """Offer the published versions (newest first) without the change restarting the preview."""
        options = {
            item["number"]: f"v{item['number']} (latest)" if position == 0 else f"v{item['number']}"
            for position, item in enumerate(versions)
        }
        self._syncing_picker = True
        try:
            self._picker.set_options(options, value=chosen if chosen in options else None)
        finally:
            self._syncing_picker = False


# --- bubbles -------------------------------------------------------------------------------------------

_TEXT = "whitespace-pre-wrap [overflow-wrap:anywhere] text-sm leading-snug"


def _out_bubble(
    bubble: Mapping[str, Any], time_text: str, on_tap: Callable[[str], Awaitable[None]]
) -> list[ui.button]:
    """The flow's message on the left, in white, with its quick-reply buttons under it."""
    buttons: list[ui.button] = []
    with ui.column().classes("self-start max-w-[85%] gap-1").mark("preview-bubble", "bubble-out"):
        with ui.column().classes(
            "gap-1 bg-white text-slate-900 rounded-2xl rounded-tl-md px-3 py-2 shadow-sm"
        ):
            _template(bubble.get("template"))
            media = str(bubble.get("media_url") or "")
            if media:
                _media(media)
            if bubble.get("text"):
                ui.label(bubble["text"]).classes(_TEXT).mark("bubble-text")
            caption = " · ".join(
                part for part in (KIND_CAPTIONS.get(bubble.get("message_kind") or ""), time_text) if part
            )
            shown = (
                ui.label(caption)
                .classes("self-end text-[10px] text-slate-400 leading-none")
                .mark("bubble-caption")
            )
            if bubble.get("message_kind") == "transactional":
                shown.tooltip(KIND_IN_CAMPAIGNS)
        for button in bubble.get("buttons") or []:
            buttons.append(
                ui.button(
                    button.get("title") or button["id"], on_click=lambda _, bid=button["id"]: on_tap(bid)
                )
                .props("unelevated no-caps dense color=white text-color=primary")
                .classes("w-full rounded-xl shadow-sm text-sm")
                .mark("preview-button")
            )
    return buttons


def _template(template: Mapping[str, Any] | None) -> None:
    if not template:
        return
    language = template.get("language") or ""
    ui.label(f"Template {template.get('name', '')}" + (f" ({language})" if language else "")).classes(
        "text-xs font-semibold text-slate-600"
    ).mark("bubble-template")
    for number, param in enumerate(template.get("params") or [], start=1):
        ui.label(f"{{{{{number}}}}} {param}").classes(_TEXT + " text-slate-700")


def _media(url: str) -> None:
    with ui.row().classes("items-center gap-1 no-wrap text-xs min-w-0").mark("bubble-media"):
        ui.icon("attachment", size="1rem").classes("text-slate-500 shrink-0")
        if is_web_link(url):
            ui.link(url, url, new_tab=True).classes("text-indigo-700 truncate min-w-0")
        else:
            ui.label(url).classes("text-slate-600 truncate min-w-0")


def _in_bubble(bubble: Mapping[str, Any], time_text: str) -> None:
    """The test contact's reply on the right, in the brand colour."""
    with (
        ui.column()
        .classes("self-end max-w-[85%] gap-0.5 bg-indigo-600 text-white rounded-2xl rounded-tr-md px-3 py-2")
        .mark("preview-bubble", "bubble-in")
    ):
        ui.label(bubble.get("text") or "").classes(_TEXT).mark("bubble-text")
        if time_text:
            ui.label(time_text).classes("self-end text-[10px] text-indigo-200 leading-none")


def _note_bubble(bubble: Mapping[str, Any]) -> None:
    """What the flow did silently (a tag, an attribute, an HTTP call, a skipped wait): a grey line."""
    ui.label(bubble.get("text") or "").classes(
        "self-center max-w-[90%] text-center text-[11px] leading-snug text-slate-500 whitespace-pre-wrap "
        "[overflow-wrap:anywhere] px-2"
    ).mark("preview-bubble", "bubble-note")
