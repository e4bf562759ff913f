"""The editor's catalogue of node kinds: how each looks, where the palette lists it, what a new one holds.

One table for the Python side (side panel headings, new nodes) and the browser (palette, node colours
and icons, sent as the editor's ``kinds`` prop), so a kind added to :mod:`flows.schema` needs one new
row here and nothing in the JavaScript.

A new node starts with settings that make sense for most flows (a delay of one hour, a reply branch
with one rule), not with the schema's bare defaults, and is still invalid where the marketer must
decide (an empty message): validation then marks it on the canvas at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flows.schema import (
    NODE_KINDS,
    AddTagNode,
    AddToGroupNode,
    BranchNode,
    BranchRule,
    DelayNode,
    EndNode,
    HttpRequestNode,
    Node,
    OptInNode,
    OptOutNode,
    Position,
    RemoveFromGroupNode,
    SendMessageNode,
    SetAttributeNode,
    StartNode,
    WaitForReplyNode,
)


@dataclass(frozen=True, slots=True)
class NodeKind:
    kind: str
    title: str
    icon: str
    """A Material icon name (NiceGUI ships the font)."""
    tone: str
    """Colour family on the canvas: start, message, logic, contact, consent (an opt-out: alarm red),
    consent_given (an opt-in: a positive green), integration, end."""
    group: str
    """The palette section."""
    description: str
    id_prefix: str
    make: Callable[[], Node]
    """A new node of this kind with the editor's starting settings (id and position set by the caller)."""


def _kind(cls: type, title: str, icon: str, tone: str, group: str, description: str, prefix: str, make):
    return NodeKind(cls.__struct_config__.tag, title, icon, tone, group, description, prefix, make)


_PLACEHOLDER = "__new__"

CATALOGUE: tuple[NodeKind, ...] = (
    _kind(
        StartNode,
        "Start",
        "play_arrow",
        "start",
        "Flow",
        "Where every run begins: a campaign, a keyword or the API.",
        "start",
        lambda: StartNode(id=_PLACEHOLDER),
    ),
    _kind(
        SendMessageNode,
        "Send message",
        "chat",
        "message",
        "Messages",
        "Text with variables, media or a template, with up to 3 quick-reply buttons.",
        "message",
        lambda: SendMessageNode(id=_PLACEHOLDER),
    ),
    _kind(
        WaitForReplyNode,
        "Wait for reply",
        "hourglass_empty",
        "message",
        "Messages",
        "Pause until the contact answers, or take the timeout path.",
        "wait",
        lambda: WaitForReplyNode(id=_PLACEHOLDER, timeout=86_400),
    ),
    _kind(
        BranchNode,
        "Branch",
        "call_split",
        "logic",
        "Logic",
        "Go one way or another on the reply, a contact attribute or a random split.",
        "branch",
        lambda: BranchNode(id=_PLACEHOLDER, rules=[BranchRule(id="r1", operator="equals")]),
    ),
    _kind(
        DelayNode,
        "Delay",
        "schedule",
        "logic",
        "Logic",
        "Wait a while, or until a time of day in the contact's time zone.",
        "delay",
        lambda: DelayNode(id=_PLACEHOLDER, seconds=3_600),
    ),
    _kind(
        SetAttributeNode,
        "Set attribute",
        "edit_note",
        "contact",
        "Contact",
        "Store a value on the contact, e.g. a saved reply.",
        "set",
        lambda: SetAttributeNode(id=_PLACEHOLDER),
    ),
    _kind(
        AddTagNode,
        "Add tag",
        "sell",
        "contact",
        "Contact",
        "Tag the contact for later segmenting.",
        "tag",
        lambda: AddTagNode(id=_PLACEHOLDER),
    ),
    _kind(
        AddToGroupNode,
        "Add to group",
        "group_add",
        "contact",
        "Contact",
        "Put the contact into a group.",
        "group-add",
        lambda: AddToGroupNode(id=_PLACEHOLDER),
    ),
    _kind(
        RemoveFromGroupNode,
        "Remove from group",
        "group_remove",
        "contact",
        "Contact",
        "Take the contact out of a group.",
        "group-remove",
        lambda: RemoveFromGroupNode(id=_PLACEHOLDER),
    ),
    _kind(
        OptOutNode,
        "Opt out",
        "block",
        "consent",
        "Consent",
        "Record the contact's opt-out from marketing.",
        "opt-out",
        lambda: OptOutNode(id=_PLACEHOLDER),
    ),
    _kind(
        OptInNode,
        "Opt in",
        "check_circle",
        "consent_given",
        "Consent",
        "Record the contact's consent to marketing again.",
        "opt-in",
        lambda: OptInNode(id=_PLACEHOLDER),
    ),
    _kind(
        HttpRequestNode,
        "HTTP request",
        "http",
        "integration",
        "Integrations",
        "Call your own system and keep fields of its answer.",
        "http",
        lambda: HttpRequestNode(id=_PLACEHOLDER, method="POST"),
    ),
    _kind(
        EndNode,
        "End",
        "stop",
        "end",
        "Flow",
        "The run ends here.",
        "end",
        lambda: EndNode(id=_PLACEHOLDER),
    ),
)

BY_KIND: dict[str, NodeKind] = {entry.kind: entry for entry in CATALOGUE}
assert set(BY_KIND) == set(NODE_KINDS), "every node kind of flows.schema needs a catalogue row"


def kind_of(node: Node) -> str:
    return node.__struct_config__.tag  # type: ignore[return-value]


def info(node_or_kind: Node | str) -> NodeKind:
    return BY_KIND[node_or_kind if isinstance(node_or_kind, str) else kind_of(node_or_kind)]


def new_node(kind: str, taken: Iterable[str], position: Position) -> Node:
    """A node of ``kind`` with an id not in ``taken`` (``message-3``), placed at ``position``."""
    entry = BY_KIND.get(kind)
    if entry is None:
        raise ValueError(f"unknown node kind {kind!r}; known: {', '.join(BY_KIND)}")
    node = entry.make()
    node.id = free_id(entry.id_prefix, taken)
    node.position = position
    return node


def free_id(prefix: str, taken: Iterable[str]) -> str:
    """``prefix-n`` with the smallest n ≥ 1 not in ``taken``: short ids people can read in errors."""
    used = set(taken)
    number = 1
    while f"{prefix}-{number}" in used:
        number += 1
    return f"{prefix}-{number}"


def display_name(node: Node) -> str:
    """What lists and messages call the node: its label, or its kind and id when it has none."""
    return node.label or f"{info(node).title} ({node.id})"


def palette_props() -> list[dict[str, str]]:
    """The ``kinds`` prop of the editor: the palette's entries and each kind's look."""
    return [
        {
            "kind": entry.kind,
            "title": entry.title,
            "icon": entry.icon,
            "tone": entry.tone,
            "group": entry.group,
            "description": entry.description,
        }
        for entry in CATALOGUE
    ]
