"""Settings of the start, send message and wait for reply steps."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from flows.schema import Button, SendMessageNode, StartNode, TemplateRef, WaitForReplyNode
from flows.validation import MAX_BUTTON_TITLE, MAX_BUTTONS
from ui.components.node_settings.context import SettingsContext
from ui.components.node_settings.fields import (
    INPUT_PROPS,
    add_action,
    choice,
    duration_input,
    heading,
    icon_action,
    message_counter,
    next_id,
    reference_select,
    refresh_counter,
    text_input,
)

TRIGGERS = {"manual": "Campaign", "keyword": "Keyword", "api": "API"}
TRIGGER_HINTS = {
    "manual": "Campaigns (and manual starts) send this flow to their group.",
    "keyword": "A contact who texts one of these words starts the flow (case and punctuation ignored).",
    "api": "Your system starts the flow for a contact over the API.",
}


def start_form(ctx: SettingsContext, node: StartNode) -> None:
    heading("Trigger", TRIGGER_HINTS[node.trigger])
    choice(ctx, TRIGGERS, node.trigger, "trigger")
    if node.trigger == "keyword":
        chips = (
            ui.input_chips(
                "Keywords",
                value=list(node.keywords),
                new_value_mode="add-unique",
                on_change=lambda event: ctx.apply(
                    lambda target: setattr(
                        target, "keywords", [str(word).strip() for word in event.value if str(word).strip()]
                    ),
                    f"{ctx.node_id}:keywords",
                ),
            )
            .props(INPUT_PROPS + ' hint="Type a word, then Enter"')
            .classes("w-full")
            .mark("start-keywords")
        )
        if ctx.readonly:
            chips.props("readonly")
        ctx.claim("keywords", chips)


def send_message_form(ctx: SettingsContext, node: SendMessageNode) -> None:
    content = "template" if node.template is not None else "text"
    heading("Message")
    ui.toggle(
        {"text": "Text", "template": "WhatsApp template"},
        value=content,
        on_change=lambda event: ctx.apply(
            lambda target: setattr(target, "template", TemplateRef() if event.value == "template" else None),
            rebuild=True,
        ),
    ).props("no-caps dense unelevated toggle-color=primary color=grey-2 text-color=grey-9").classes(
        "w-full"
    ).mark("message-content")
    if node.template is not None:
        _template_fields(ctx, node.template)
    else:
        _text_fields(ctx, node)
    text_input(
        ctx,
        "Media URL (optional)",
        node.media_url,
        lambda target, value: setattr(target, "media_url", value),
        problem_field="media_url",
        placeholder="https://…/picture.jpg",
    )
    _buttons(ctx, node)
    heading(
        "Consent",
        "Marketing messages pass the consent gate: contacts who opted out are skipped. In a marketing "
        "campaign every message of the flow is marketing, whatever its step says.",
    )
    choice(
        ctx, {"marketing": "Marketing", "transactional": "Transactional"}, node.message_kind, "message_kind"
    )
    if node.message_kind == "marketing":
        reference_select(
            ctx,
            "Marketing category",
            ctx.categories,
            node.category_id,
            "category_id",
            none_label="The campaign's category",
            missing_hint="No marketing categories yet: an admin adds them under Settings.",
        )


def _text_fields(ctx: SettingsContext, node: SendMessageNode) -> None:
    counter: list[ui.label] = []

    def set_text(target: Any, value: str) -> None:
        target.text = value
        if counter:
            refresh_counter(counter[0], value, with_buttons=bool(target.buttons))

    text_input(
        ctx,
        "Text",
        node.text,
        set_text,
        problem_field="text",
        multiline=True,
        variables=True,
        placeholder="Hi {{contact.name}}, …",
    ).mark("message-text")
    counter.append(message_counter(node.text, with_buttons=bool(node.buttons)))


def _template_fields(ctx: SettingsContext, template: TemplateRef) -> None:
    with ui.row().classes("w-full gap-2 no-wrap"):
        text_input(
            ctx,
            "Template name",
            template.name,
            lambda target, value: setattr(target.template, "name", value),
            problem_field="template.name",
            placeholder="spring_offer",
        ).classes("flex-1")
        text_input(
            ctx,
            "Language",
            template.language,
            lambda target, value: setattr(target.template, "language", value),
            problem_field="template.language",
        ).classes("w-24")
    for index, param in enumerate(template.params):
        with ui.row().classes("w-full items-start gap-1 no-wrap"):
            text_input(
                ctx,
                f"Parameter {{{{{index + 1}}}}}",
                param,
                lambda target, value, index=index: target.template.params.__setitem__(index, value),
                problem_field=f"template.params[{index}]",
                variables=True,
            ).classes("flex-1")
            icon_action(
                ctx,
                "close",
                "Remove parameter",
                lambda target, index=index: target.template.params.pop(index),
            )
    add_button = add_action(ctx, "Add parameter", lambda target: target.template.params.append(""))
    if add_button is not None:
        add_button.mark("add-template-param")


def _buttons(ctx: SettingsContext, node: SendMessageNode) -> None:
    heading(
        "Quick-reply buttons",
        f"Up to {MAX_BUTTONS}; connect a button's dot to branch on the tap. "
        "Any other reply, or no tap in time, leaves through Next.",
    )
    for index, button in enumerate(node.buttons):
        with ui.row().classes("w-full items-start gap-1 no-wrap"):
            text_input(
                ctx,
                f"Button {index + 1}",
                button.title,
                lambda target, value, index=index: setattr(target.buttons[index], "title", value),
                problem_field=f"buttons[{index}].title",
                counter=MAX_BUTTON_TITLE,
                placeholder="Yes please",
            ).classes("flex-1").mark("button-title")
            remove = icon_action(
                ctx,
                "delete_outline",
                "Remove button (and its connection)",
                lambda target, index=index: target.buttons.pop(index),
            )
            if remove is not None:
                remove.mark("remove-button")
    if len(node.buttons) < MAX_BUTTONS and (add := add_action(ctx, "Add button", _add_button)) is not None:
        add.mark("add-button")
    if node.buttons:
        duration_input(ctx, "Wait for a tap up to", node.reply_timeout, "reply_timeout")


def _add_button(node: Any) -> None:
    node.buttons.append(Button(id=next_id("b", (button.id for button in node.buttons)), title=""))


def wait_form(ctx: SettingsContext, node: WaitForReplyNode) -> None:
    heading("Waiting", "Reply leaves when the contact answers; Timeout when they do not in time.")
    duration_input(ctx, "Wait up to", node.timeout, "timeout")
    text_input(
        ctx,
        "Save the reply as (optional)",
        node.save_as,
        lambda target, value: setattr(target, "save_as", value.strip()),
        problem_field="save_as",
        placeholder="answer",
    ).props('hint="Later steps use it as {{vars.answer}}"')
