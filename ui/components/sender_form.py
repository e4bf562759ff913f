"""The sender form, for a new sender and for an existing one: channel and provider, the provider's own
settings, keywords, the scope of keyword opt-outs, the replies and the rate limit.

The form's state is a :class:`~ui.components.sender_rules.SenderForm`; this module only draws it and sends
what it makes. The form's own checks are the ones a person needs while typing (what is missing); the API
judges the rest, and its sentence appears under the input its field names, nested settings included
(``config.auto_reply.delay_seconds`` under the delays). An error the form has no input for shows above the
buttons, so nothing the API says is lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui
from nicegui.elements.mixins.validation_element import ValidationElement

from ui.backend import ApiError, BackendUnreachable
from ui.clients import senders as senders_api
from ui.clients.senders import SenderInfo
from ui.components.sender_parts import CARD, section_title
from ui.components.sender_rules import (
    ADDRESS_HINTS,
    ADDRESS_LABELS,
    CHANNELS,
    DEFAULT_RATE_LIMITS,
    DELAY_MAX_S,
    KEYWORD_LISTS,
    NAME_MAX,
    PROVIDER_BLURBS,
    PROVIDERS,
    RATE_FIELDS,
    RATE_LIMIT_MAX,
    REPLY_MAX,
    SCOPE_HINTS,
    SCOPES,
    SETTINGS,
    AutoReplyForm,
    SenderForm,
    Setting,
    error_words,
    input_key,
    new_verify_token,
    provider_options,
)
from ui.session import Session, forget, login_url

Saved = Callable[[SenderInfo, dict[str, str]], Awaitable[None]]
"""Called after a save with the sender as the API answered and the secrets typed into the form (so the
page can show a just-chosen verify token once)."""

KEYWORD_TEXT = {
    "opt_out_keywords": (
        "Opt-out keywords",
        "A message that is one of these words opts the person out of marketing from this sender. "
        "Matched ignoring case, spaces and punctuation.",
    ),
    "opt_in_keywords": ("Opt-in keywords", "Opts the person back in after an opt-out by keyword."),
    "help_keywords": ("Help keywords", "Answered with the help reply below."),
}
TOGGLE = "border border-slate-300 rounded-md overflow-hidden"
"""A frame around a toggle's options, so the ones not chosen still read as buttons."""
REPLY_TEXT = {
    "confirmation_message": (
        "Opt-out confirmation",
        "Sent after an opt-out keyword. Empty: no confirmation.",
    ),
    "opt_in_confirmation_message": (
        "Opt-in confirmation",
        "Sent after an opt-in keyword. Empty: no confirmation.",
    ),
    "help_reply": ("Help reply", "Sent when someone writes a help keyword. Empty: no answer."),
}


class SenderFormView:
    """Draws a :class:`SenderForm` in a card and saves it through the API."""

    def __init__(self, session: Session, sender: SenderInfo | None, on_saved: Saved, here: str) -> None:
        self.session = session
        self.sender = sender
        self.form = SenderForm.from_sender(sender) if sender else SenderForm.new()
        self.on_saved = on_saved
        self.here = here
        self.inputs: dict[str, ValidationElement] = {}
        """Inputs by the API's name of their field (``name``, ``config.access_token``, …)."""
        self.api_errors: dict[str, str] = {}
        self.touched: set[str] = set()
        self.tried = False
        """After a save attempt every problem shows, not only those of touched inputs."""
        self.saving = False

    # --- drawing ------------------------------------------------------------------------------------

    def build(self) -> None:
        with ui.card().classes(CARD + " gap-5").mark("sender-form"):
            if self.sender is not None:
                ui.label("Settings").classes("text-lg font-semibold text-slate-900 -mb-2")
            self._channel_and_provider()
            section_title("Sender")
            with ui.row().classes("w-full gap-3 no-wrap max-sm:flex-wrap"):
                self._text("name", "Name", NAME_MAX, "sender-name", "flex-1", hint="Shown in pickers.")
                self.address_input = self._text(
                    "address",
                    ADDRESS_LABELS[self.form.channel],
                    254,
                    "sender-address",
                    "flex-1",
                    hint=ADDRESS_HINTS[self.form.channel],
                )
            self.settings_box = ui.column().classes("w-full gap-4")
            self._draw_settings()

            section_title(
                "Keywords",
                "Type a word and press Enter. A word may be in one list only.",
            )
            for name in KEYWORD_LISTS:
                self._keywords(name)

            section_title(
                "Whom a STOP protects", "Where an opt-out received by keyword on this sender applies."
            )
            ui.radio(SCOPES, value=self.form.opt_out_scope, on_change=self._scope_changed).props(
                "inline"
            ).mark("sender-scope")
            self.scope_hint = ui.label(SCOPE_HINTS[self.form.opt_out_scope]).classes(
                "text-sm text-slate-600 -mt-3"
            )

            section_title("Replies")
            for key, (label, hint) in REPLY_TEXT.items():
                self._reply(key, label, hint)

            section_title("Sending")
            default = DEFAULT_RATE_LIMITS[self.form.channel]
            rate = (
                ui.number(
                    "Rate limit (messages per second)",
                    value=self.form.rate_limit,
                    min=1,
                    max=RATE_LIMIT_MAX,
                    precision=0,
                    on_change=lambda e: self.changed("rate_limit_per_second", "rate_limit", _whole(e.value)),
                )
                .props("outlined dense stack-label")
                .classes("w-72")
                .mark("sender-rate-limit")
            )
            rate.props["hint"] = _rate_hint(default)
            self.inputs["rate_limit_per_second"] = rate

            self.general_error = (
                ui.label("").classes("w-full text-sm text-red-700 whitespace-pre-line").mark("form-error")
            )
            self.general_error.visible = False
            with ui.row().classes("w-full justify-end gap-2 pt-2"):
                ui.button("Cancel", on_click=lambda: ui.navigate.to("/senders")).props("flat no-caps").mark(
                    "cancel-sender"
                )
                self.save_button = (
                    ui.button(
                        "Save changes" if self.sender else "Create sender", icon="check", on_click=self.save
                    )
                    .props("unelevated no-caps color=primary")
                    .mark("save-sender")
                )
        self.refresh_errors()

    def _channel_and_provider(self) -> None:
        section_title("Channel and provider")
        with ui.row().classes("w-full items-start gap-6 max-sm:flex-wrap"):
            with ui.column().classes("gap-1"):
                ui.label("Channel").classes("text-sm text-slate-600")
                channel = (
                    ui.toggle(CHANNELS, value=self.form.channel, on_change=self._channel_changed)
                    .props("no-caps unelevated toggle-color=primary")
                    .classes(TOGGLE)
                )
                channel.mark("sender-channel")
                if self.sender is not None:
                    channel.disable()
                    channel.tooltip("A sender stays on its channel; add a new sender for another one.")
            with ui.column().classes("gap-1"):
                ui.label("Provider").classes("text-sm text-slate-600")
                self.provider_toggle = (
                    ui.toggle(
                        provider_options(self.form.channel),
                        value=self.form.provider,
                        on_change=self._provider_changed,
                    )
                    .props("no-caps unelevated toggle-color=primary")
                    .classes(TOGGLE)
                    .mark("sender-provider")
                )
        self.provider_blurb = ui.label(PROVIDER_BLURBS[self.form.provider]).classes(
            "text-sm text-slate-600 -mt-2"
        )

    def _draw_settings(self) -> None:
        """The provider's own settings; redrawn from scratch when the provider changes."""
        for key in [key for key in self.inputs if key.startswith("config.")]:
            del self.inputs[key]
        self.settings_box.clear()
        provider = self.form.provider
        with self.settings_box:
            section_title(f"{PROVIDERS[provider]} settings")
            if self.form.fresh_config and self.sender is not None:
                ui.label(
                    f"Switching to the {PROVIDERS[provider]} replaces the provider settings: enter them all."
                ).classes("text-sm text-amber-800 -mt-3").mark("provider-switch-note")
            if provider == "sandbox":
                self._auto_reply()
                return
            main = [setting for setting in SETTINGS[provider] if not setting.advanced]
            advanced = [setting for setting in SETTINGS[provider] if setting.advanced]
            with ui.grid(columns=2).classes("w-full gap-x-3 gap-y-4 max-sm:grid-cols-1"):
                for setting in main:
                    self._setting(setting)
            if advanced:
                with (
                    ui.expansion("Advanced", icon="tune")
                    .classes("w-full text-sm text-slate-700")
                    .props("dense")
                    .mark("advanced-settings") as folded,
                    ui.column().classes("w-full gap-4 pt-2"),
                ):
                    for setting in advanced:
                        self._setting(setting)
                # Open when an advanced setting holds something other than its default.
                folded.value = any(
                    self.form.settings.get(setting.key) not in (None, "", setting.default)
                    for setting in advanced
                )

    def _setting(self, setting: Setting) -> None:
        marker = f"setting-{setting.key}"
        if setting.kind == "secret":
            self._secret(setting)
            return
        value = self.form.settings.get(setting.key)

        def changed(event: Any, key: str = setting.key) -> None:
            self.form.settings[key] = event.value
            self._edited(f"config.{key}")

        if setting.kind == "number":
            element = ui.number(
                setting.label,
                value=value,
                min=setting.low,
                max=setting.high,
                precision=0,
                on_change=changed,
            )
        elif setting.kind == "choice":
            element = ui.select(dict(setting.choices), label=setting.label, value=value, on_change=changed)
        else:
            element = ui.input(setting.label, value=value or "", on_change=changed).props(
                f"maxlength={setting.max_length}"
            )
            if setting.default:
                element.props(f'placeholder="{setting.default}"')
        element.props("outlined dense stack-label").classes("w-full").mark(marker)
        if setting.hint:
            element.props["hint"] = setting.hint
        self.inputs[setting.field] = element

    def _secret(self, setting: Setting) -> None:
        is_set = self.form.secret_is_set(setting.key)

        def changed(event: Any, key: str = setting.key) -> None:
            self.form.secrets[key] = event.value or ""
            self._edited(f"config.{key}")

        element = (
            ui.input(
                setting.label,
                value=self.form.secrets.get(setting.key, ""),
                password=True,
                password_toggle_button=True,
                on_change=changed,
            )
            .props(f"outlined dense stack-label autocomplete=new-password maxlength={setting.max_length}")
            .classes("w-full")
            .mark(f"setting-{setting.key}")
        )
        if is_set:
            element.props["placeholder"] = "••••••••"
            element.props["hint"] = "Set. Leave it empty to keep the value Flowgate holds."
        elif setting.key in self.form.cleared:
            element.props["hint"] = "Will be cleared when you save."
        elif setting.hint:
            element.props["hint"] = setting.hint
        with element.add_slot("append"):
            if is_set:
                ui.label("set").classes(
                    "text-xs font-medium px-2 py-0.5 rounded-full bg-emerald-50 text-emerald-700"
                ).mark(f"secret-set-{setting.key}")
            elif setting.key in self.form.cleared:
                ui.label("cleared on save").classes(
                    "text-xs font-medium px-2 py-0.5 rounded-full bg-amber-50 text-amber-800 whitespace-nowrap"
                ).mark(f"secret-cleared-{setting.key}")
            if setting.key == "verify_token":
                ui.button(icon="autorenew", on_click=lambda: self._generate(element)).props(
                    'flat round dense color=primary aria-label="Generate a verify token"'
                ).tooltip("Generate one").mark("generate-verify-token")
                ui.button(
                    icon="content_copy", on_click=lambda: self._copy_typed(element, setting.label)
                ).props('flat round dense color=primary aria-label="Copy the verify token"').tooltip(
                    "Copy"
                ).mark("copy-typed-verify-token")
            if not setting.required and (is_set or setting.key in self.form.cleared):
                cleared = setting.key in self.form.cleared
                ui.button(
                    "Keep" if cleared else "Clear",
                    on_click=lambda key=setting.key: self._toggle_clear(key),
                ).props("flat dense no-caps color=grey-8").mark(f"clear-{setting.key}")
        self.inputs[setting.field] = element

    def _generate(self, element: ui.input) -> None:
        element.set_value(new_verify_token())
        element.props["type"] = "text"  # show it: it is about to be pasted into Meta's dashboard
        element.update()

    def _copy_typed(self, element: ui.input, label: str) -> None:
        if not element.value:
            ui.notify(f"Type or generate the {label.lower()} first.", type="warning")
            return
        ui.clipboard.write(element.value)
        ui.notify(f"{label} copied to the clipboard.", type="positive")

    def _toggle_clear(self, key: str) -> None:
        self.form.cleared ^= {key}
        self.form.secrets.pop(key, None)
        self._draw_settings()
        self.refresh_errors()

    def _auto_reply(self) -> None:
        ui.label(
            "Simulated customers can answer every message this sender accepts: delivery and read "
            "receipts, taps or replies, and now and then a STOP, each after a random delay. Off: nothing "
            "happens after a send unless you answer yourself with “Simulate an inbound message”."
        ).classes("text-sm text-slate-600 -mt-3")
        ui.switch(
            "Simulated customers answer",
            value=self.form.auto_reply is not None,
            on_change=self._auto_reply_switched,
        ).mark("auto-reply-switch")
        auto = self.form.auto_reply
        if auto is None:
            return
        with ui.grid(columns=4).classes("w-full gap-3 max-md:grid-cols-2"):
            for key, label, of_what in RATE_FIELDS:
                self._rate(auto, key, label, of_what)
        with ui.row().classes("w-full gap-3 items-start no-wrap"):
            self._delay(auto, "shortest", "Shortest delay")
            self._delay(auto, "longest", "Longest delay", field="config.auto_reply.delay_seconds")
        texts = (
            ui.input_chips(
                "Texts they answer with (when the message has no buttons)",
                value=list(auto.texts),
                new_value_mode="add-unique",
                on_change=lambda e: self._auto_changed(
                    "texts", list(e.value or []), "config.auto_reply.texts"
                ),
            )
            .props("outlined dense stack-label")
            .classes("w-full")
            .mark("auto-reply-texts")
        )
        self.inputs["config.auto_reply.texts"] = texts

    def _rate(self, auto: AutoReplyForm, key: str, label: str, of_what: str) -> None:
        element = (
            ui.number(
                label,
                value=getattr(auto, key),
                min=0,
                max=100,
                precision=1,
                suffix="%",
                on_change=lambda e, key=key: self._auto_changed(key, e.value, f"config.auto_reply.{key}"),
            )
            .props(f'outlined dense stack-label hint="{of_what}"')
            .classes("w-full")
            .mark(f"auto-reply-{key}")
        )
        self.inputs[f"config.auto_reply.{key}"] = element

    def _delay(self, auto: AutoReplyForm, key: str, label: str, field: str | None = None) -> None:
        element = (
            ui.number(
                label,
                value=getattr(auto, key),
                min=0,
                max=DELAY_MAX_S,
                precision=1,
                suffix="s",
                on_change=lambda e, key=key: self._auto_changed(
                    key, e.value, "config.auto_reply.delay_seconds"
                ),
            )
            .props("outlined dense stack-label")
            .classes("flex-1")
            .mark(f"auto-reply-{key}")
        )
        if field:
            self.inputs[field] = element

    def _keywords(self, name: str) -> None:
        label, hint = KEYWORD_TEXT[name]

        def changed(event: Any) -> None:
            self.form.keywords[name] = [str(word) for word in event.value or []]
            self._edited(name)

        element = (
            ui.input_chips(
                label, value=list(self.form.keywords[name]), new_value_mode="add-unique", on_change=changed
            )
            .props("outlined dense stack-label")
            .classes("w-full")
            .mark(name.replace("_", "-"))
        )
        element.props["hint"] = hint
        self.inputs[name] = element

    def _reply(self, key: str, label: str, hint: str) -> None:
        def changed(event: Any) -> None:
            setattr(self.form, key, event.value or "")
            self._edited(key)

        element = (
            ui.textarea(label, value=getattr(self.form, key), on_change=changed)
            .props(f"outlined dense stack-label autogrow counter maxlength={REPLY_MAX}")
            .classes("w-full")
            .mark(key.replace("_", "-"))
        )
        element.props["hint"] = hint
        self.inputs[key] = element

    def _text(self, key: str, label: str, limit: int, marker: str, width: str, *, hint: str) -> ui.input:
        def changed(event: Any) -> None:
            setattr(self.form, key, event.value or "")
            self._edited(key)

        element = (
            ui.input(label, value=getattr(self.form, key), on_change=changed)
            .props(f"outlined dense stack-label maxlength={limit}")
            .classes(width)
            .mark(marker)
        )
        element.props["hint"] = hint
        self.inputs[key] = element
        return element

    # --- reacting -------------------------------------------------------------------------------------

    def _channel_changed(self, event: Any) -> None:
        if not event.value or event.value == self.form.channel:
            return
        provider = self.form.provider
        self.form.set_channel(event.value)
        self.provider_toggle.set_options(provider_options(self.form.channel), value=self.form.provider)
        self.address_input.props["label"] = ADDRESS_LABELS[self.form.channel]
        self.address_input.props["hint"] = ADDRESS_HINTS[self.form.channel]
        self.address_input.update()
        rate = self.inputs["rate_limit_per_second"]
        rate.set_value(self.form.rate_limit)
        rate.props["hint"] = _rate_hint(DEFAULT_RATE_LIMITS[self.form.channel])
        if provider != self.form.provider:
            self._after_provider()
        self._edited("channel")

    def _provider_changed(self, event: Any) -> None:
        if not event.value or event.value == self.form.provider:
            return
        self.form.set_provider(event.value)
        self._after_provider()
        self._edited("provider")

    def _after_provider(self) -> None:
        self.provider_blurb.set_text(PROVIDER_BLURBS[self.form.provider])
        self.api_errors = {
            key: value for key, value in self.api_errors.items() if not key.startswith("config.")
        }
        self._draw_settings()
        self.refresh_errors()

    def _scope_changed(self, event: Any) -> None:
        self.form.opt_out_scope = event.value
        self.scope_hint.set_text(SCOPE_HINTS.get(event.value, ""))
        self._edited("opt_out_scope")

    def _auto_reply_switched(self, event: Any) -> None:
        on = bool(event.value)
        if on == (self.form.auto_reply is not None):
            return
        self.form.auto_reply = AutoReplyForm() if on else None
        self._draw_settings()
        self._edited("config.auto_reply")

    def _auto_changed(self, key: str, value: Any, field: str) -> None:
        assert self.form.auto_reply is not None
        setattr(self.form.auto_reply, key, value)
        self._edited(field)

    def changed(self, field: str, attribute: str, value: Any) -> None:
        setattr(self.form, attribute, value)
        self._edited(field)

    def _edited(self, field: str) -> None:
        self.touched.add(field)
        self.api_errors.pop(field, None)
        self.refresh_errors()

    def refresh_errors(self) -> None:
        """Each input's problem: the API's answer first, else the form's own check once it was touched."""
        problems = self.form.problems()
        for key, element in self.inputs.items():
            message = self.api_errors.get(key) or (
                problems.get(key) if self.tried or key in self.touched else None
            )
            element.error = message or None

    # --- saving -----------------------------------------------------------------------------------------

    async def save(self) -> None:
        if self.saving:
            return
        self.tried = True
        self.general_error.visible = False
        problems = self.form.problems()
        if problems:
            self.refresh_errors()
            ui.notify("Some fields need attention: see the ones marked in red.", type="warning")
            return
        token = self.session.token
        typed = {key: value.strip() for key, value in self.form.secrets.items() if value and value.strip()}
        self.saving = True
        self.save_button.props("loading")
        try:
            if self.sender is None:
                saved = await senders_api.create_sender(token, self.form.create_body())
            else:
                changes = self.form.changes(self.sender)
                if not changes:
                    ui.notify("Nothing to save: no field was changed.", type="info")
                    return
                saved = await senders_api.update_sender(token, self.sender["id"], changes)
        except BackendUnreachable as exc:
            ui.notify(f"Flowgate's API at {exc.url} is not answering; nothing was saved.", type="negative")
            return
        except ApiError as exc:
            if exc.status == 401:
                forget()
                ui.navigate.to(login_url(self.here))
                return
            self.show_api_errors(exc)
            return
        finally:
            self.saving = False
            if not self.save_button.is_deleted:
                self.save_button.props(remove="loading")
        await self.on_saved(saved, typed)

    def show_api_errors(self, exc: ApiError) -> None:
        """Every field error under its input; the rest (or a refusal without fields) above the buttons."""
        self.api_errors = {}
        elsewhere: list[str] = []
        for field, message in exc.field_errors.items():
            key = input_key(field)
            words = error_words(field, message, self.form.provider)
            if key in self.inputs:
                self.api_errors.setdefault(key, words)
            else:
                elsewhere.append(f"{field}: {words}")
        if not exc.field_errors:
            elsewhere.append(exc.detail[:1].upper() + exc.detail[1:])
        self.general_error.set_text("\n".join(elsewhere))
        self.general_error.visible = bool(elsewhere)
        self.refresh_errors()
        ui.notify("The sender was not saved: see the fields marked in red.", type="negative")


def _rate_hint(default: int) -> str:
    return f"1 to {RATE_LIMIT_MAX}; the channel's default is {default}."


def _whole(value: Any) -> int | None:
    return None if value is None else int(value)
