"""The "Outputs" section of every step: where each port leads, and which ones deliberately end the run.

Validation asks for every output to be connected (``unconnected_output``) unless it is marked as an
end; saying so here, next to the port, is easier to find than adding End steps for every timeout.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from flows.graph import output_ports
from flows.schema import SendMessageNode
from ui.components.flow_document import mark_ended
from ui.components.flow_shapes import port_label
from ui.components.node_kinds import display_name
from ui.components.node_settings.context import SettingsContext
from ui.components.node_settings.fields import heading


def outputs_section(ctx: SettingsContext, focus: Callable[[str], None]) -> None:
    node = ctx.node
    ports = output_ports(node)
    if not ports:
        return
    heading("Outputs", "Drag from a dot on the step's right edge to the next step.")
    for port in ports:
        target = ctx.document.target_of(node.id, port)
        optional = isinstance(node, SendMessageNode) and port.startswith("button:")
        with ui.row().classes("w-full items-center gap-2 no-wrap min-h-[2rem]").mark(f"output-{port}"):
            ui.label(port_label(node, port)).classes("text-sm text-slate-700 w-24 truncate")
            ui.icon("arrow_forward", size="1rem").classes("text-slate-400")
            if target is not None:
                ui.button(display_name(target), on_click=lambda target_id=target.id: focus(target_id)).props(
                    "flat dense no-caps color=primary"
                ).classes("truncate max-w-[12rem]").tooltip("Show this step")
            elif optional:
                ui.label("Not connected: falls through Next").classes("text-xs text-slate-500")
            else:
                ended = port in node.ends
                ui.switch(
                    "Ends the run",
                    value=ended,
                    on_change=lambda event, port=port: ctx.apply(
                        lambda edited, on=bool(event.value), port=port: mark_ended(edited, port, on)
                    ),
                ).props("dense" + (" disable" if ctx.readonly else "")).classes("text-sm").mark(
                    f"end-{port}"
                ).tooltip("Leave this output unconnected on purpose: the run ends here")
