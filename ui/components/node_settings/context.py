"""What every settings form needs: the node being edited, how to change it, and where errors go.

Forms never change the graph themselves: each input calls :meth:`SettingsContext.apply` with a small
function that edits the node, so every edit is one undoable step of the :class:`FlowDocument` (typing
into one field coalesces into one step through its ``key``) and the canvas and autosave hear of it.

Validation problems arrive while the person types; rebuilding the form then would steal the focus.
Inputs therefore register under the problem ``field`` they edit (``text``, ``buttons[0].title``), and
:meth:`show_problems` sets the error text on those inputs in place. Problems no input claims are listed
at the top of the panel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nicegui import ui

from flows.schema import Node
from flows.validation import node_name
from ui.backend import NamedRef, ProblemInfo
from ui.components.flow_document import FlowDocument

Change = Callable[[Node], None]


@dataclass
class SettingsContext:
    document: FlowDocument
    node_id: str
    apply_change: Callable[[str, Change, str | None], bool]
    """``(node_id, change, key) -> ports_changed``: the page's one way to edit a node."""
    rebuild: Callable[[], None]
    """Draw the panel again (after a change that adds or removes inputs, like a new button)."""
    groups: list[NamedRef] = field(default_factory=list)
    categories: list[NamedRef] = field(default_factory=list)
    readonly: bool = False
    inputs: dict[str, ui.element] = field(default_factory=dict)
    unclaimed: ui.column | None = None

    @property
    def node(self) -> Node:
        node = self.document.node(self.node_id)
        assert node is not None, f"node {self.node_id} is gone; the panel should have been rebuilt"
        return node

    def apply(self, change: Change, key: str | None = None, *, rebuild: bool = False) -> None:
        """Edit the node; redraw the form when its ports changed or the caller says the form changed."""
        ports_changed = self.apply_change(self.node_id, change, key)
        if rebuild or ports_changed:
            self.rebuild()

    def setter(self, attribute: str, *, rebuild: bool = False, convert: Callable[[Any], Any] = lambda v: v):
        """An ``on_change`` handler that copies the input's value into ``node.<attribute>``."""

        def handle(event: Any) -> None:
            value = convert(event.value)
            self.apply(
                lambda node: setattr(node, attribute, value), f"{self.node_id}:{attribute}", rebuild=rebuild
            )

        return handle

    def claim(self, problem_field: str, element: ui.element) -> ui.element:
        """Show problems of ``problem_field`` on ``element`` (a Quasar input or select)."""
        self.inputs[problem_field] = element
        return element

    def show_problems(self, problems: list[ProblemInfo]) -> None:
        by_field: dict[str, list[str]] = {}
        for problem in problems:
            by_field.setdefault(problem["field"], []).append(
                on_node(problem["message"], self.document.node(self.node_id))
            )
        for name, element in self.inputs.items():
            messages = by_field.pop(name, [])
            error = " ".join(messages)
            if element.props.get("error-message", "") != error or bool(element.props.get("error")) != bool(
                error
            ):
                element.props["error"] = bool(error)  # (assigning props sends them)
                element.props["error-message"] = error
        if self.unclaimed is not None:
            self.unclaimed.clear()
            with self.unclaimed:
                for messages in by_field.values():
                    for message in messages:
                        with ui.row().classes("items-start gap-2 no-wrap"):
                            ui.icon("error_outline", size="1rem").classes("text-red-600 mt-0.5")
                            ui.label(message).classes("text-sm text-red-800").mark("node-problem")
            self.unclaimed.visible = bool(by_field)


def sentence(message: str) -> str:
    """Validation messages are written to follow a node's name; alone they need a capital letter."""
    return message[:1].upper() + message[1:] if message else message


def on_node(message: str, node: Node | None) -> str:
    """A problem as shown on its own node: without the node's name in front, as a sentence."""
    if node is not None:
        message = message.removeprefix(f"{node_name(node)}: ")
    return sentence(message)
