"""Inputs the settings forms share: text with a variable picker, durations, pickers for groups and
categories, and a section heading. Each writes into the node through :class:`SettingsContext`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from nicegui import ui

from flows.schema import FlowGraph, HttpRequestNode, Node, SendMessageNode, WaitForReplyNode
from flows.templating import CONTACT_FIELDS
from ui.backend import NamedRef
from ui.components.message_length import describe
from ui.components.node_settings.context import Change, SettingsContext

INPUT_PROPS = "outlined dense stack-label"
NO_CHOICE = 0
UNITS = (("days", 86_400), ("hours", 3_600), ("minutes", 60), ("seconds", 1))


def add_action(ctx: SettingsContext, label: str, change: Change) -> ui.button | None:
    """An "Add …" button under a list of settings (none in a read-only form); the form redraws."""
    if ctx.readonly:
        return None
    return ui.button(label, icon="add", on_click=lambda: ctx.apply(change, rebuild=True)).props(
        "flat dense no-caps color=primary"
    )


def icon_action(ctx: SettingsContext, icon: str, what: str, change: Change) -> ui.button | None:
    """A small icon button beside one entry of a list (remove, move up…); ``what`` is its tooltip."""
    if ctx.readonly:
        return None
    return (
        ui.button(icon=icon, on_click=lambda: ctx.apply(change, rebuild=True))
        .props(f'flat round dense size=sm color=grey-7 aria-label="{what}"')
        .classes("mt-1")
        .tooltip(what)
    )


def next_id(prefix: str, taken: Iterable[str]) -> str:
    """``b1``, ``b2``…: the first free id for a button or rule (short, since they name ports)."""
    used = set(taken)
    number = 1
    while f"{prefix}{number}" in used:
        number += 1
    return f"{prefix}{number}"


def heading(text: str, hint: str = "") -> None:
    with ui.column().classes("gap-0 pt-2"):
        ui.label(text).classes("text-xs font-semibold uppercase tracking-wide text-slate-500")
        if hint:
            ui.label(hint).classes("text-xs text-slate-500")


def text_input(
    ctx: SettingsContext,
    label: str,
    value: str,
    on_value: Callable[[Node, str], None],
    *,
    problem_field: str,
    multiline: bool = False,
    variables: bool = False,
    placeholder: str = "",
    counter: int | None = None,
    key: str | None = None,
) -> ui.input | ui.textarea:
    """A text setting; ``variables`` adds a picker that inserts ``{{…}}`` at the cursor."""
    factory = ui.textarea if multiline else ui.input

    def changed(event: Any) -> None:
        text = event.value or ""
        ctx.apply(lambda node: on_value(node, text), key or f"{ctx.node_id}:{problem_field}")

    element = factory(label, value=value, placeholder=placeholder or None, on_change=changed)
    element.props(INPUT_PROPS + (" autogrow" if multiline else "")).classes("w-full")
    if counter is not None:
        element.props(f"counter maxlength={counter}")
    if ctx.readonly:
        element.props("readonly")
    elif variables:
        with element.add_slot("append"):
            variable_menu(ctx, element)
    ctx.claim(problem_field, element)
    return element


def variable_menu(ctx: SettingsContext, target: ui.input | ui.textarea) -> None:
    """A ``{x}`` button listing the variables this flow can use; a pick goes in at the cursor."""
    with (
        ui.button(icon="data_object")
        .props('flat round dense size=sm color=primary aria-label="Insert a variable"')
        .tooltip("Insert a variable")
        .mark("variable-picker"),
        ui.menu().props("auto-close") as menu,
    ):
        for path, description in available_variables(ctx.document.graph):
            item = ui.item(on_click=lambda path=path: insert_at_cursor(target, "{{" + path + "}}"))
            with item.mark(f"variable-{path}"), ui.item_section():
                ui.item_label(path).classes("font-mono text-sm")
                ui.item_label(description).props("caption")
    menu.mark("variable-menu")


async def insert_at_cursor(target: ui.input | ui.textarea, snippet: str) -> None:
    """Put ``snippet`` where the caret is (or at the end when the browser does not say)."""
    current = target.value or ""
    start = end = len(current)
    try:
        where = await target.client.run_javascript(
            f"{_FIELD_JS.format(id=target.id)} return f ? [f.selectionStart, f.selectionEnd] : null;",
            timeout=1.5,
        )
        if isinstance(where, list) and len(where) == 2 and all(isinstance(i, int) for i in where):
            start, end = sorted((min(where[0], len(current)), min(where[1], len(current))))
    except (TimeoutError, RuntimeError):
        pass  # no answer from the browser: append
    target.value = current[:start] + snippet + current[end:]
    caret = start + len(snippet)
    target.client.run_javascript(
        f"{_FIELD_JS.format(id=target.id)} if (f) {{ f.focus(); f.setSelectionRange({caret}, {caret}); }}"
    )


# The native field of a NiceGUI input: Quasar gives the <input>/<textarea> itself the element's id.
_FIELD_JS = (
    "const e = getHtmlElement({id});"
    "const f = e && (e.matches('textarea, input') ? e : e.querySelector('textarea, input'));"
)


def available_variables(graph: FlowGraph) -> list[tuple[str, str]]:
    """Every ``{{variable}}`` the flow can fill: the contact's fields, saved replies and HTTP fields.

    Listed for the whole flow, not per path: validation tells when a node uses one that nothing before
    it sets (``unknown_variable``).
    """
    found: list[tuple[str, str]] = [(f"contact.{name}", f"The contact's {name}") for name in CONTACT_FIELDS]
    saved: dict[str, str] = {}
    for node in graph.nodes:
        if isinstance(node, WaitForReplyNode) and node.save_as:
            saved.setdefault(f"vars.{node.save_as}", f"Reply saved by {node.label or node.id}")
        elif isinstance(node, HttpRequestNode):
            for field in node.save:
                if field.variable:
                    saved.setdefault(f"vars.{field.variable}", f"From {node.label or node.id}: {field.path}")
    found.extend(sorted(saved.items()))
    found.append(("reply.text", "The contact's latest reply"))
    if any(isinstance(node, SendMessageNode) and node.buttons for node in graph.nodes):
        found.append(("reply.button", "The id of the button they tapped"))
    return found


def message_counter(text: str, *, with_buttons: bool) -> ui.label:
    label = ui.label().mark("message-counter")
    refresh_counter(label, text, with_buttons=with_buttons)
    return label


def refresh_counter(label: ui.label, text: str, *, with_buttons: bool) -> None:
    line, over = describe(text, with_buttons=with_buttons)
    label.text = line
    label.classes(replace="text-xs -mt-2 " + ("text-red-700" if over else "text-slate-500"))


def split_duration(seconds: int) -> tuple[int, int]:
    """The largest unit that divides ``seconds`` evenly: 5400 -> (90, 60)."""
    for _, size in UNITS:
        if seconds >= size and seconds % size == 0:
            return seconds // size, size
    return max(seconds, 0), 1


def duration_input(
    ctx: SettingsContext, label: str, seconds: int, attribute: str, *, problem_field: str | None = None
) -> None:
    """A number and a unit (minutes, hours, days), stored as seconds in ``node.<attribute>``."""
    amount, unit = split_duration(seconds)
    key = f"{ctx.node_id}:{attribute}"
    with ui.row().classes("w-full items-start gap-2 no-wrap"):
        number = (
            ui.number(label, value=amount, min=1, step=1, precision=0)
            .props(INPUT_PROPS)
            .classes("flex-1")
            .mark(f"duration-{attribute}")
        )
        unit_select = (
            ui.select({size: name for name, size in UNITS}, value=unit)
            .props(INPUT_PROPS + " options-dense")
            .classes("w-32")
            .mark(f"duration-{attribute}-unit")
        )

    def changed(_: Any) -> None:
        value = int(number.value or 0) * int(unit_select.value or 1)
        ctx.apply(lambda node: setattr(node, attribute, value), key)

    number.on_value_change(changed)
    unit_select.on_value_change(changed)
    if ctx.readonly:
        number.props("readonly")
        unit_select.props("readonly")
    ctx.claim(problem_field or attribute, number)


def reference_select(
    ctx: SettingsContext,
    label: str,
    refs: list[NamedRef],
    value: int | None,
    attribute: str,
    *,
    none_label: str | None,
    missing_hint: str,
) -> ui.select:
    """Pick a group or category by name; ``none_label`` offers "no choice" (e.g. "All marketing")."""
    options: dict[int, str] = {}
    if none_label is not None:
        options[NO_CHOICE] = none_label  # ids start at 1: 0 stands for "none" (a None value shows blank)
    options.update({ref["id"]: ref["name"] for ref in refs})
    if value is not None and value not in options:
        options[value] = f"Deleted ({value})"  # keep what the node holds visible; validation flags it
    current = NO_CHOICE if value is None and none_label is not None else value
    element = (
        ui.select(
            options,
            label=label,
            value=current,
            on_change=ctx.setter(attribute, convert=lambda chosen: chosen or None),
        )
        .props(INPUT_PROPS + " options-dense")
        .classes("w-full")
    )
    if ctx.readonly:
        element.props("readonly")
    if not refs:
        ui.label(missing_hint).classes("text-xs text-slate-500 -mt-1")
    ctx.claim(attribute, element)
    return element


def choice(
    ctx: SettingsContext, options: dict[str, str], value: str, attribute: str, *, rebuild: bool = True
) -> ui.toggle:
    """A segmented choice between modes; changing the mode usually changes the form, so it rebuilds."""
    element = (
        ui.toggle(options, value=value, on_change=ctx.setter(attribute, rebuild=rebuild))
        .props("no-caps dense unelevated toggle-color=primary color=grey-2 text-color=grey-9")
        .classes("w-full")
        .mark(f"choice-{attribute}")
    )
    if ctx.readonly:
        element.props("disable")
    return element
