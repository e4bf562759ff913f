"""Settings of the branch and delay steps."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from flows.schema import BranchNode, BranchRule, DelayNode, SendMessageNode
from ui.components.flow_shapes import ATTRIBUTE_OPERATOR_WORDS, REPLY_OPERATOR_WORDS, VALUELESS_OPERATORS
from ui.components.node_settings.context import SettingsContext
from ui.components.node_settings.fields import (
    INPUT_PROPS,
    add_action,
    choice,
    duration_input,
    heading,
    icon_action,
    next_id,
    text_input,
)

MODES = {"reply": "Reply", "attribute": "Attribute", "random": "Random split"}
MODE_HINTS = {
    "reply": "Rules are tried in order against the contact's last reply; the first match wins, else Else.",
    "attribute": "Rules are tried in order against the contact's fields; the first match wins, else Else.",
    "random": "Each run takes one path at random; the percentages add up to 100.",
}
LIST_HINT = {"contains_any": "Words separated by commas", "one_of": "Values separated by commas"}
WEEKDAYS = {"mon": "Mo", "tue": "Tu", "wed": "We", "thu": "Th", "fri": "Fr", "sat": "Sa", "sun": "Su"}


def branch_form(ctx: SettingsContext, node: BranchNode) -> None:
    heading("Branch on", MODE_HINTS[node.mode])
    ui.toggle(
        MODES,
        value=node.mode,
        on_change=lambda event: ctx.apply(lambda target: _switch_mode(target, event.value), rebuild=True),
    ).props("no-caps dense unelevated toggle-color=primary color=grey-2 text-color=grey-9").classes(
        "w-full"
    ).mark("branch-mode")
    operators = REPLY_OPERATOR_WORDS if node.mode == "reply" else ATTRIBUTE_OPERATOR_WORDS
    for index, rule in enumerate(node.rules):
        _rule_card(ctx, node, index, rule, operators)
    if (add := add_action(ctx, "Add rule", _add_rule)) is not None:
        add.mark("add-rule")
    if node.mode == "reply":
        ui.checkbox(
            "Match upper and lower case exactly",
            value=node.case_sensitive,
            on_change=ctx.setter("case_sensitive"),
        ).props("dense" + (" disable" if ctx.readonly else "")).classes("text-sm")


def _switch_mode(node: BranchNode, mode: str) -> None:
    """Keep the rules (and their connections) but give them settings that fit the new mode."""
    node.mode = mode  # type: ignore[assignment]
    allowed = REPLY_OPERATOR_WORDS if mode == "reply" else ATTRIBUTE_OPERATOR_WORDS
    for rule in node.rules:
        if rule.operator not in allowed:
            rule.operator = "equals"
    if mode == "random" and node.rules and not sum(rule.percent for rule in node.rules):
        share = round(100 / len(node.rules), 2)
        for rule in node.rules:
            rule.percent = share
        node.rules[-1].percent = round(100 - share * (len(node.rules) - 1), 2)


def _add_rule(node: BranchNode) -> None:
    node.rules.append(BranchRule(id=next_id("r", (rule.id for rule in node.rules)), operator="equals"))


def _rule_card(
    ctx: SettingsContext, node: BranchNode, index: int, rule: BranchRule, operators: dict[str, str]
) -> None:
    where = f"rules[{index}]"
    key = f"{ctx.node_id}:{where}"

    def set_rule(attribute: str, *, rebuild: bool = False, convert=lambda value: value):
        def handle(event: Any) -> None:
            value = convert(event.value)
            ctx.apply(
                lambda target: setattr(target.rules[index], attribute, value),
                f"{key}.{attribute}",
                rebuild=rebuild,
            )

        return handle

    with (
        ui.card()
        .classes("w-full p-3 gap-2 shadow-none border border-slate-200 rounded-lg")
        .mark("branch-rule")
    ):
        with ui.row().classes("w-full items-center gap-1 no-wrap"):
            ui.label(f"Rule {index + 1}").classes("text-sm font-medium text-slate-700")
            ui.space()
            if not ctx.readonly:
                _rule_actions(ctx, node, index)
        if node.mode == "random":
            percent = (
                ui.number(
                    "Share of runs",
                    value=rule.percent,
                    min=0,
                    max=100,
                    step=1,
                    suffix="%",
                    on_change=set_rule("percent", convert=lambda value: float(value or 0)),
                )
                .props(INPUT_PROPS)
                .classes("w-full")
            )
            ctx.claim(f"{where}.percent", percent)
            if ctx.readonly:
                percent.props("readonly")
        else:
            if node.mode == "attribute":
                text_input(
                    ctx,
                    "Contact field or attribute",
                    rule.attribute,
                    lambda target, value: setattr(target.rules[index], "attribute", value.strip()),
                    problem_field=f"{where}.attribute",
                    placeholder="city",
                )
            operator = (
                ui.select(
                    operators,
                    label="Condition",
                    value=rule.operator if rule.operator in operators else None,
                    on_change=set_rule("operator", rebuild=True),
                )
                .props(INPUT_PROPS + " options-dense")
                .classes("w-full")
                .mark("rule-operator")
            )
            ctx.claim(f"{where}.operator", operator)
            if ctx.readonly:
                operator.props("readonly")
            if rule.operator == "button":
                _button_choice(ctx, index, rule)
            elif rule.operator not in VALUELESS_OPERATORS:
                text_input(
                    ctx,
                    "Value",
                    rule.value,
                    lambda target, value: setattr(target.rules[index], "value", value),
                    problem_field=f"{where}.value",
                    placeholder=LIST_HINT.get(rule.operator, ""),
                ).mark("rule-value")
        text_input(
            ctx,
            "Name of this path (optional)",
            rule.label,
            lambda target, value: setattr(target.rules[index], "label", value),
            problem_field=f"{where}.label",
        )


def _rule_actions(ctx: SettingsContext, node: BranchNode, index: int) -> None:
    def swap(offset: int):
        def change(target: BranchNode) -> None:
            rules = target.rules
            rules[index], rules[index + offset] = rules[index + offset], rules[index]

        return change

    if index > 0:
        icon_action(ctx, "arrow_upward", "Try earlier", swap(-1))
    if index < len(node.rules) - 1:
        icon_action(ctx, "arrow_downward", "Try later", swap(1))
    remove = icon_action(
        ctx, "delete_outline", "Remove rule (and its connection)", lambda target: target.rules.pop(index)
    )
    if remove is not None:
        remove.mark("remove-rule")


def _button_choice(ctx: SettingsContext, index: int, rule: BranchRule) -> None:
    """A ``button`` rule names a button id; offer the flow's buttons by their titles."""
    options: dict[str, str] = {}
    for node in ctx.document.graph.nodes:
        if isinstance(node, SendMessageNode):
            for button in node.buttons:
                options.setdefault(button.id, f"{button.title or button.id} ({node.label or node.id})")
    if rule.value and rule.value not in options:
        options[rule.value] = f"{rule.value} (no such button)"
    element = (
        ui.select(
            options,
            label="Button",
            value=rule.value or None,
            on_change=lambda event: ctx.apply(
                lambda target: setattr(target.rules[index], "value", event.value or ""),
                f"{ctx.node_id}:rules[{index}].value",
            ),
        )
        .props(INPUT_PROPS + " options-dense" + (" readonly" if ctx.readonly else ""))
        .classes("w-full")
    )
    ctx.claim(f"rules[{index}].value", element)


def delay_form(ctx: SettingsContext, node: DelayNode) -> None:
    heading("Delay")
    choice(ctx, {"duration": "For a while", "time_of_day": "Until a time of day"}, node.mode, "mode")
    if node.mode == "duration":
        duration_input(ctx, "Wait", node.seconds, "seconds")
        return
    time = (
        ui.time_input(
            "Time of day (contact's time zone)", value=node.time_of_day, on_change=ctx.setter("time_of_day")
        )
        .props(INPUT_PROPS)
        .classes("w-full")
        .mark("delay-time")
    )
    if ctx.readonly:
        time.props("readonly")
    ctx.claim("time_of_day", time)
    heading("On these days", "None chosen: the next day the time comes.")
    with ui.row().classes("gap-1"):
        for day, short in WEEKDAYS.items():
            chosen = day in node.days
            ui.button(
                short,
                on_click=lambda day=day: ctx.apply(lambda target: _toggle_day(target, day), rebuild=True),
            ).props(
                ("unelevated color=primary" if chosen else "outline color=grey-7")
                + " dense no-caps size=sm"
                + (" disable" if ctx.readonly else "")
            ).classes("min-w-[2.25rem]").mark(f"day-{day}")


def _toggle_day(node: DelayNode, day: str) -> None:
    days = [existing for existing in node.days if existing != day]
    if len(days) == len(node.days):
        days.append(day)  # type: ignore[arg-type]
    node.days = sorted(days, key=list(WEEKDAYS).index)  # type: ignore[assignment]
