"""The editor's side panel: the selected step's settings, or what to do with several, or the flow's problems.

:class:`SettingsPanel` draws into one column and is told about two things: the selection changed
(:meth:`show`, which redraws) and validation answered (:meth:`show_problems`, which only updates error
texts, so typing is never interrupted).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nicegui import ui

from flows.schema import (
    AddTagNode,
    AddToGroupNode,
    BranchNode,
    DelayNode,
    EndNode,
    HttpRequestNode,
    OptInNode,
    OptOutNode,
    RemoveFromGroupNode,
    SendMessageNode,
    SetAttributeNode,
    StartNode,
    WaitForReplyNode,
)
from ui.backend import NamedRef, ProblemInfo
from ui.components.flow_document import FlowDocument
from ui.components.node_kinds import display_name, info
from ui.components.node_settings.contact import add_tag_form, consent_form, group_form, set_attribute_form
from ui.components.node_settings.context import Change, SettingsContext, on_node
from ui.components.node_settings.fields import INPUT_PROPS
from ui.components.node_settings.integrations import http_form
from ui.components.node_settings.logic import branch_form, delay_form
from ui.components.node_settings.messages import send_message_form, start_form, wait_form
from ui.components.node_settings.outputs import outputs_section

FORMS: dict[type, Callable[[SettingsContext, Any], None]] = {
    StartNode: start_form,
    SendMessageNode: send_message_form,
    WaitForReplyNode: wait_form,
    BranchNode: branch_form,
    DelayNode: delay_form,
    SetAttributeNode: set_attribute_form,
    AddTagNode: add_tag_form,
    AddToGroupNode: group_form,
    RemoveFromGroupNode: group_form,
    OptOutNode: consent_form,
    OptInNode: consent_form,
    HttpRequestNode: http_form,
    EndNode: lambda ctx, node: None,
}

Action = Callable[[], Awaitable[None] | None]

SHORTCUTS = (
    ("Delete / Backspace", "delete the selection"),
    ("Ctrl+Z · Ctrl+Shift+Z", "undo · redo"),
    ("Ctrl+C · Ctrl+V · Ctrl+D", "copy · paste · duplicate"),
    ("Shift + drag", "select several steps"),
    ("Ctrl + click", "add a step to the selection"),
)
READ_ONLY_SHORTCUTS = (("Ctrl+C", "copy the selected steps"), ("Shift + drag", "select several steps"))


@dataclass
class PanelActions:
    """What the panel's buttons do; the page wires them to the editor."""

    apply_change: Callable[[str, Change, str | None], bool]
    focus: Callable[[str], None]
    duplicate: Action
    delete: Action
    copy: Callable[[], int]


@dataclass
class SettingsPanel:
    container: ui.column
    document: FlowDocument
    actions: PanelActions
    readonly: bool = False
    groups: list[NamedRef] = field(default_factory=list)
    categories: list[NamedRef] = field(default_factory=list)
    problems: list[ProblemInfo] | None = None
    """None until validation answered (a published version is never validated: it was valid to publish)."""
    status: str | None = None
    """The flow's publishing status (``draft``, ``published``, ``draft_ahead``) once the page knows it."""
    latest_version: int | None = None
    _context: SettingsContext | None = None
    _overview: ui.column | None = None

    def show(self) -> None:
        """Draw the panel for the current selection."""
        self.container.clear()
        self._context = self._overview = None
        selection = self.document.selection
        with self.container:
            if len(selection) == 1 and self.document.node(selection[0]) is not None:
                self._node(selection[0])
            elif len(selection) > 1:
                self._several(len(selection))
            else:
                self._flow_overview()
        self.show_problems(self.problems)

    def show_problems(self, problems: list[ProblemInfo] | None) -> None:
        self.problems = problems
        if problems is None:
            return
        if self._context is not None:
            mine = [problem for problem in problems if problem["node_id"] == self._context.node_id]
            self._context.show_problems(mine)
        elif self._overview is not None:
            self._draw_problem_list()

    def show_status(self, status: str, latest_version: int | None) -> None:
        """The flow was saved or published: the overview's line about publishing follows."""
        if (status, latest_version) == (self.status, self.latest_version):
            return
        self.status, self.latest_version = status, latest_version
        if self._overview is not None and self.problems is not None:
            self._draw_problem_list()

    # --- one step -----------------------------------------------------------------------------

    def _node(self, node_id: str) -> None:
        node = self.document.node(node_id)
        assert node is not None
        kind = info(node)
        context = SettingsContext(
            self.document,
            node_id,
            self.actions.apply_change,
            rebuild=self.show,
            groups=self.groups,
            categories=self.categories,
            readonly=self.readonly,
        )
        self._context = context
        with ui.column().classes("w-full gap-3 p-4").mark("node-settings"):
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.icon(kind.icon, size="1.25rem").classes(f"fg-tone-{kind.tone}").style(
                    "color: var(--fg-tone)"
                )
                ui.label(kind.title).classes("text-base font-semibold text-slate-900").mark("settings-kind")
                ui.space()
                ui.label(node.id).classes("text-xs font-mono text-slate-400").tooltip("The step's id")
            ui.label(kind.description).classes("text-xs text-slate-500 -mt-2")
            context.unclaimed = ui.column().classes(
                "w-full gap-1 p-2 rounded-lg bg-red-50 border border-red-200"
            )
            context.unclaimed.visible = False
            context.unclaimed.mark("node-problems")
            label = (
                ui.input(
                    "Name on the canvas",
                    value=node.label,
                    on_change=lambda event: context.apply(
                        lambda target: setattr(target, "label", event.value or ""), f"{node_id}:label"
                    ),
                )
                .props(INPUT_PROPS + " maxlength=200" + (" readonly" if self.readonly else ""))
                .classes("w-full")
                .mark("node-label")
            )
            context.claim("label", label)
            FORMS[type(node)](context, node)
            outputs_section(context, self.actions.focus)
            if not self.readonly:
                with ui.row().classes("w-full gap-2 pt-2 border-t border-slate-100"):
                    ui.button("Duplicate", icon="content_copy", on_click=self.actions.duplicate).props(
                        "flat dense no-caps color=grey-8"
                    ).mark("duplicate-node")
                    ui.space()
                    ui.button("Delete", icon="delete_outline", on_click=self.actions.delete).props(
                        "flat dense no-caps color=negative"
                    ).mark("delete-node")

    # --- several steps ------------------------------------------------------------------------

    def _several(self, count: int) -> None:
        with ui.column().classes("w-full gap-3 p-4").mark("selection-settings"):
            ui.label(f"{count} steps selected").classes("text-base font-semibold text-slate-900")
            ui.label("Drag any of them to move them together.").classes("text-sm text-slate-500")
            with ui.row().classes("gap-2"):
                ui.button("Copy", icon="content_copy", on_click=self._copy).props(
                    "outline dense no-caps color=grey-8"
                ).mark("copy-selection")
                if not self.readonly:
                    ui.button("Duplicate", icon="library_add", on_click=self.actions.duplicate).props(
                        "outline dense no-caps color=grey-8"
                    ).mark("duplicate-selection")
                    ui.button("Delete", icon="delete_outline", on_click=self.actions.delete).props(
                        "outline dense no-caps color=negative"
                    ).mark("delete-selection")

    def _copy(self) -> None:
        copied = self.actions.copy()
        ui.notify(f"Copied {copied} steps: paste them with Ctrl+V, here or in another flow.", timeout=2000)

    # --- nothing selected ---------------------------------------------------------------------

    def _flow_overview(self) -> None:
        hint = (
            "Read-only: select a step to see its settings, or copy steps into a draft."
            if self.readonly
            else "Select a step to edit it. Problems that keep the flow from publishing are listed here."
        )
        with ui.column().classes("w-full gap-4 p-4").mark("flow-overview"):
            with ui.column().classes("gap-1"):
                ui.label("Flow").classes("text-base font-semibold text-slate-900")
                ui.label(hint).classes("text-sm text-slate-500")
            self._overview = ui.column().classes("w-full gap-2").mark("flow-problems")
            with ui.column().classes("w-full gap-1"):
                ui.label("Shortcuts").classes("text-xs font-semibold uppercase tracking-wide text-slate-500")
                for keys, what in READ_ONLY_SHORTCUTS if self.readonly else SHORTCUTS:
                    with ui.row().classes("w-full gap-2 no-wrap text-xs"):
                        ui.label(keys).classes("font-mono text-slate-700 w-40 shrink-0")
                        ui.label(what).classes("text-slate-500")

    def _draw_problem_list(self) -> None:
        assert self._overview is not None and self.problems is not None
        self._overview.clear()
        headline = problems_headline(
            len(self.problems), readonly=self.readonly, status=self.status, latest_version=self.latest_version
        )
        with self._overview:
            if not self.problems:
                with ui.row().classes("items-center gap-2 no-wrap"):
                    ui.icon("check_circle", size="1.1rem").classes("text-emerald-600")
                    ui.label(headline).classes("text-sm text-emerald-800").mark("problems-headline")
                return
            ui.label(headline).classes("text-sm font-medium text-red-800").mark("problems-headline")
            for problem in self.problems:
                self._problem_row(problem)

    def _problem_row(self, problem: ProblemInfo) -> None:
        node = self.document.node(problem["node_id"]) if problem["node_id"] else None
        where = display_name(node) if node is not None else "Flow"
        with (
            ui.row()
            .classes(
                "w-full items-start gap-2 no-wrap p-2 rounded-lg border border-red-100 bg-red-50"
                + (" cursor-pointer hover:border-red-300" if node is not None else "")
            )
            .mark("problem-row") as row
        ):
            ui.icon("error_outline", size="1rem").classes("text-red-600 mt-0.5")
            with ui.column().classes("gap-0 min-w-0"):
                ui.label(where).classes("text-xs font-semibold text-red-900 truncate")
                ui.label(on_node(problem["message"], node)).classes("text-sm text-red-800")
        if node is not None:
            row.on("click", lambda node_id=node.id: self.actions.focus(node_id))


def problems_headline(count: int, *, readonly: bool, status: str | None, latest_version: int | None) -> str:
    """The overview's line above the problem list: what the problems mean for publishing.

    People who cannot publish (viewers) read only whether the draft has problems. For the others a
    clean draft is worth publishing only when it differs from the latest version, so a draft that is
    that version says so instead of inviting a publish that would change nothing.
    """
    if count:
        plural = "s" if count != 1 else ""
        return (
            f"{count} problem{plural} in this draft"
            if readonly
            else f"{count} problem{plural} to fix before publishing"
        )
    if readonly:
        return "No problems found in this draft."
    if status == "published" and latest_version is not None:
        return f"No problems. Published as version {latest_version} and up to date."
    if status == "draft_ahead" and latest_version is not None:
        return f"No problems: the changes can be published as version {latest_version + 1}."
    return "No problems: the flow can be published."
