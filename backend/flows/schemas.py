"""Request and response bodies of the flows API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, UnsetType

from backend.core.edge import MAX_INT32
from backend.core.schemas import Input, Output

FlowName = Annotated[str, Meta(min_length=1, max_length=200)]
GraphBody = Annotated[
    dict[str, Any],
    Meta(
        description="A flow graph (format_version, nodes, edges); its JSON Schema is at /api/v1/flows/graph-schema"
    ),
]
FlowStatus = Literal["draft", "published", "draft_ahead"]
Revision = Annotated[
    int, Meta(ge=1, le=MAX_INT32, description="A draft revision, as the flow's ETag gives it")
]
"""Revisions count from 1 in an ``integer`` column: a value out of that range is refused naming the field."""


class FlowCreate(Input):
    name: FlowName
    graph: GraphBody | None = None
    """The initial draft; left out, the flow starts with a single start node."""


class FlowUpdate(Input):
    """Replace the draft. ``revision`` is the one you loaded: a stale one answers 409 instead of overwriting."""

    name: FlowName | UnsetType = UNSET
    graph: GraphBody | UnsetType = UNSET
    revision: Revision | UnsetType = UNSET
    """Required unless sent as an ``If-Match`` header."""


class ValidateIn(Input):
    graph: GraphBody | None = None
    """Validate this graph instead of the saved draft (e.g. the editor's unsaved state)."""


class PublishIn(Input):
    revision: Revision | None = None
    """Publish only if the draft is still at this revision."""


class ProblemOut(Output):
    node_id: str | None
    code: str
    message: str
    field: str = ""


class ValidationOut(Output):
    valid: bool
    errors: list[ProblemOut]


class FlowSummary(Output):
    id: int
    name: str
    status: FlowStatus
    revision: int
    latest_version: int | None
    trigger: str
    created_at: datetime
    updated_at: datetime


class FlowOut(FlowSummary):
    graph: dict[str, Any]


class PublishOut(Output):
    flow_id: int
    version: int
    published_at: datetime
    created: bool
    """False when the draft was unchanged since the latest version, which is returned instead."""


class VersionSummary(Output):
    number: int
    trigger: str
    published_at: datetime
    published_by: str


class VersionOut(VersionSummary):
    flow_id: int
    graph: dict[str, Any]
