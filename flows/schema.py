"""The flow graph format (version 1): nodes with typed settings per kind, edges between named ports.

This is the JSON that the editor saves, the API stores as a draft, publishing freezes into a version,
and the interpreter runs. The structs only fix the *shape*: a half-drawn draft (an empty message, a
dangling edge, four buttons) decodes fine, and :mod:`flows.validation` says what is wrong with it,
because drafts may be saved invalid and only valid ones publish.

Ports. Each node kind has fixed output ports, some named after its content:
``next`` · ``else`` · ``reply`` · ``timeout`` · ``success`` · ``failure`` · ``button:<button id>`` ·
``rule:<rule id>``. :func:`flows.graph.output_ports` lists a node's ports.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

FORMAT_VERSION = 1

MessageKind = Literal["marketing", "transactional"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Text = Annotated[str, Meta(max_length=4096)]
Name = Annotated[str, Meta(max_length=200)]


class Position(Struct, forbid_unknown_fields=True, frozen=True):
    """Where the editor draws the node; meaningless to the interpreter."""

    x: float = 0.0
    y: float = 0.0


class NodeBase(Struct, kw_only=True, tag_field="kind", forbid_unknown_fields=True):
    id: Annotated[str, Meta(min_length=1, max_length=64)]
    label: Name = ""
    """The name the marketer gave the node on the canvas."""
    position: Position = Position()
    ends: list[str] = []
    """Output ports deliberately left unconnected: a run that leaves through one of them ends there."""


# --- triggers -----------------------------------------------------------------------------------------


class StartNode(NodeBase, tag="start"):
    """Where every run begins. ``manual`` covers campaigns and manual starts."""

    trigger: Literal["manual", "keyword", "api"] = "manual"
    keywords: list[Name] = []
    """For ``keyword`` triggers: inbound texts that start this flow (matched like opt-out keywords)."""


# --- messages -----------------------------------------------------------------------------------------


class Button(Struct, forbid_unknown_fields=True):
    id: Annotated[str, Meta(min_length=1, max_length=64)]
    title: Annotated[str, Meta(max_length=200)] = ""
    """Shown on the button; WhatsApp allows 20 characters (validation says so)."""


class TemplateRef(Struct, forbid_unknown_fields=True):
    """A provider-approved template (WhatsApp) with its positional parameters, each a text template."""

    name: Name = ""
    language: Annotated[str, Meta(max_length=16)] = "en"
    params: list[Text] = []


class SendMessageNode(NodeBase, tag="send_message"):
    """Send text (with ``{{variables}}``), media or a template, optionally with up to 3 quick-reply buttons.

    Without connected button ports the run moves on to ``next`` once the message is handed over. With
    connected button ports it waits up to ``reply_timeout`` seconds: a tap on a connected button leaves
    through ``button:<id>``; any other reply, the timeout, or a failed send leaves through ``next``.
    """

    text: Text = ""
    media_url: Annotated[str, Meta(max_length=2048)] = ""
    template: TemplateRef | None = None
    buttons: list[Button] = []
    message_kind: MessageKind = "marketing"
    category_id: int | None = None
    """Marketing category of the message (for the consent gate); none = the campaign's."""
    reply_timeout: int = 86_400


class WaitForReplyNode(NodeBase, tag="wait_for_reply"):
    """Wait for the contact's next message: ``reply`` when it comes, ``timeout`` after ``timeout`` seconds."""

    timeout: int = 86_400
    save_as: Name = ""
    """Variable that keeps the reply text, usable later as ``{{vars.<name>}}``."""


# --- logic --------------------------------------------------------------------------------------------

ReplyOperator = Literal["equals", "contains", "starts_with", "contains_any", "is_number", "button"]
AttributeOperator = Literal[
    "equals", "not_equals", "contains", "gt", "gte", "lt", "lte", "is_set", "is_not_set", "one_of"
]


class BranchRule(Struct, forbid_unknown_fields=True, kw_only=True):
    """One output of a branch. Which fields matter depends on the branch's ``mode``.

    - ``reply``: ``operator`` (a :data:`ReplyOperator`) and ``value`` against the last reply's text,
      or the tapped button's id for ``button``; ``contains_any`` takes comma-separated words.
    - ``attribute``: ``attribute`` (a contact field or attribute), ``operator`` (an
      :data:`AttributeOperator`) and ``value``; ``one_of`` takes comma-separated values.
    - ``random``: ``percent`` of runs take this rule; the rules' percentages add up to 100.
    """

    id: Annotated[str, Meta(min_length=1, max_length=64)]
    label: Name = ""
    operator: str = "equals"
    value: Text = ""
    attribute: Name = ""
    percent: float = 0.0


class BranchNode(NodeBase, tag="branch"):
    """Rules are tried in order; the first that matches wins, else ``else`` (random splits have no else)."""

    mode: Literal["reply", "attribute", "random"] = "reply"
    rules: list[BranchRule] = []
    case_sensitive: bool = False


class DelayNode(NodeBase, tag="delay"):
    """Pause for ``seconds``, or until the next ``time_of_day`` (HH:MM) in the contact's timezone."""

    mode: Literal["duration", "time_of_day"] = "duration"
    seconds: int = 3_600
    time_of_day: Annotated[str, Meta(max_length=5)] = "09:00"
    days: list[Weekday] = []
    """For ``time_of_day``: only these weekdays (empty: any day)."""


# --- contact changes ----------------------------------------------------------------------------------


class SetAttributeNode(NodeBase, tag="set_attribute"):
    attribute: Name = ""
    value: Text = ""
    """A text template: ``{{vars.answer}}`` copies a saved reply into the contact."""


class AddTagNode(NodeBase, tag="add_tag"):
    tag: Name = ""


class AddToGroupNode(NodeBase, tag="add_to_group"):
    group_id: int | None = None


class RemoveFromGroupNode(NodeBase, tag="remove_from_group"):
    group_id: int | None = None


class OptOutNode(NodeBase, tag="opt_out"):
    """Record the contact's opt-out from marketing (one category, or all when none)."""

    category_id: int | None = None


class OptInNode(NodeBase, tag="opt_in"):
    category_id: int | None = None


# --- integrations -------------------------------------------------------------------------------------


class SaveField(Struct, forbid_unknown_fields=True):
    """Copy ``path`` (dotted, e.g. ``data.items.0.name``) of the JSON response into ``{{vars.<variable>}}``."""

    variable: Name = ""
    path: Annotated[str, Meta(max_length=500)] = ""


class HttpRequestNode(NodeBase, tag="http_request"):
    """Call an HTTP endpoint; ``success`` on a 2xx answer, ``failure`` otherwise (or on timeout)."""

    method: HttpMethod = "GET"
    url: Annotated[str, Meta(max_length=2048)] = ""
    headers: dict[str, Text] = {}
    body: Text = ""
    save: list[SaveField] = []
    timeout_seconds: float = 10.0


class EndNode(NodeBase, tag="end"):
    """The run ends here."""


Node = (
    StartNode
    | SendMessageNode
    | WaitForReplyNode
    | BranchNode
    | DelayNode
    | SetAttributeNode
    | AddTagNode
    | AddToGroupNode
    | RemoveFromGroupNode
    | HttpRequestNode
    | OptOutNode
    | OptInNode
    | EndNode
)

NODE_KINDS: dict[str, type[NodeBase]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in Node.__args__  # type: ignore[attr-defined]
}


class Edge(Struct, forbid_unknown_fields=True, kw_only=True):
    """A connection from one node's output port to another node."""

    id: Annotated[str, Meta(max_length=128)] = ""
    source: str
    source_port: str = "next"
    target: str


class FlowGraph(Struct, forbid_unknown_fields=True, kw_only=True):
    format_version: int = FORMAT_VERSION
    nodes: list[Node] = []
    edges: list[Edge] = []


class FormatError(ValueError):
    """The JSON is not a flow graph; the message says where (``$.nodes[2].kind``) and why."""


def decode_graph(data: bytes | str | dict) -> FlowGraph:
    """Parse a flow graph from JSON text or already-parsed JSON, upgrading older format versions."""
    try:
        raw = msgspec.json.decode(data) if isinstance(data, bytes | str) else data
    except msgspec.DecodeError as exc:
        raise FormatError(str(exc)) from None
    if not isinstance(raw, dict):
        raise FormatError("a flow graph is a JSON object with nodes and edges")
    version = raw.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise FormatError(
            f"format_version {version!r} is not supported; this Flowgate reads versions 1 to {FORMAT_VERSION}"
        )
    try:
        return msgspec.convert(raw, FlowGraph)
    except msgspec.ValidationError as exc:
        raise FormatError(str(exc)) from None


def encode_graph(graph: FlowGraph) -> bytes:
    return msgspec.json.encode(graph)


def graph_to_builtins(graph: FlowGraph) -> dict:
    return msgspec.to_builtins(graph)


def json_schema() -> dict:
    """JSON Schema of the graph format, for the editor and integrators."""
    return msgspec.json.schema(FlowGraph)
