"""Settings of the HTTP request step: method, URL, headers, body, the answer's fields to keep."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from flows.schema import HttpRequestNode, SaveField
from ui.components.node_settings.context import SettingsContext
from ui.components.node_settings.fields import INPUT_PROPS, add_action, heading, icon_action, text_input

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def http_form(ctx: SettingsContext, node: HttpRequestNode) -> None:
    heading("Request", "Success on a 2xx answer; Failure on any other answer or no answer in time.")
    with ui.row().classes("w-full items-start gap-2 no-wrap"):
        method = (
            ui.select(
                list(METHODS), value=node.method, label="Method", on_change=ctx.setter("method", rebuild=True)
            )
            .props(INPUT_PROPS + " options-dense" + (" readonly" if ctx.readonly else ""))
            .classes("w-28")
            .mark("http-method")
        )
        ctx.claim("method", method)
        text_input(
            ctx,
            "URL",
            node.url,
            lambda target, value: setattr(target, "url", value.strip()),
            problem_field="url",
            variables=True,
            placeholder="https://example.com/api/…",
        ).classes("flex-1").mark("http-url")
    _headers(ctx, node)
    if node.method != "GET":
        text_input(
            ctx,
            "Body (JSON)",
            node.body,
            lambda target, value: setattr(target, "body", value),
            problem_field="body",
            multiline=True,
            variables=True,
            placeholder='{"email": "{{contact.email}}"}',
        ).classes("font-mono")
    timeout = (
        ui.number(
            "Give up after",
            value=node.timeout_seconds,
            min=0.5,
            max=60,
            step=0.5,
            suffix="s",
            on_change=ctx.setter("timeout_seconds", convert=lambda value: float(value or 0)),
        )
        .props(INPUT_PROPS + (" readonly" if ctx.readonly else ""))
        .classes("w-40")
    )
    ctx.claim("timeout_seconds", timeout)
    _saved_fields(ctx, node)


def _headers(ctx: SettingsContext, node: HttpRequestNode) -> None:
    heading("Headers")
    for name, value in list(node.headers.items()):
        with ui.row().classes("w-full items-start gap-1 no-wrap"):
            ui.input(
                "Name", value=name, on_change=lambda event, old=name: _rename_header(ctx, old, event)
            ).props(INPUT_PROPS + " debounce=600" + (" readonly" if ctx.readonly else "")).classes("w-36")
            text_input(
                ctx,
                "Value",
                value,
                lambda target, text, name=name: target.headers.__setitem__(name, text),
                problem_field=f"headers.{name}",
                variables=True,
            ).classes("flex-1")
            icon_action(
                ctx, "close", "Remove header", lambda target, name=name: target.headers.pop(name, None)
            )
    add_action(ctx, "Add header", _add_header)


def _add_header(node: HttpRequestNode) -> None:
    name, number = "X-Header", 1
    while name in node.headers:
        number += 1
        name = f"X-Header-{number}"
    node.headers[name] = ""


def _rename_header(ctx: SettingsContext, old: str, event: Any) -> None:
    """Renaming keeps the header's place and value; an empty or taken name is ignored until fixed."""
    new = str(event.value or "").strip()
    if not new or new == old:
        return

    def change(node: HttpRequestNode) -> None:
        if new in node.headers:
            return
        node.headers = {new if key == old else key: value for key, value in node.headers.items()}

    ctx.apply(change, rebuild=True)


def _saved_fields(ctx: SettingsContext, node: HttpRequestNode) -> None:
    heading(
        "Keep from the answer",
        "A dotted path into the JSON answer, e.g. data.order.id, saved as {{vars.<name>}}.",
    )
    for index, saved in enumerate(node.save):
        with ui.row().classes("w-full items-start gap-1 no-wrap"):
            text_input(
                ctx,
                "Variable",
                saved.variable,
                lambda target, value, index=index: setattr(target.save[index], "variable", value.strip()),
                problem_field=f"save[{index}].variable",
            ).classes("w-32")
            text_input(
                ctx,
                "Path",
                saved.path,
                lambda target, value, index=index: setattr(target.save[index], "path", value.strip()),
                problem_field=f"save[{index}].path",
            ).classes("flex-1 font-mono")
            icon_action(ctx, "close", "Remove field", lambda target, index=index: target.save.pop(index))
    add_action(ctx, "Add field", lambda target: target.save.append(SaveField()))
