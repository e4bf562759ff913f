"""Drafts, validation and publishing. Every query is scoped to the caller's workspace."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from backend.audience.tables import Group
from backend.audit import service as audit
from backend.consent.tables import MarketingCategory
from backend.core.database import is_unique_violation, locked, refused_while_referenced, transaction
from backend.core.edge import MAX_INT32
from backend.core.errors import Conflict, FieldProblem, InvalidInput, NotFound, Unprocessable
from backend.flows.tables import Flow, FlowVersion
from backend.workspaces.auth import Principal
from flows.schema import FlowGraph, FormatError, StartNode, decode_graph, graph_to_builtins
from flows.validation import Problem, validate

NEW_FLOW_GRAPH: dict[str, Any] = {
    "format_version": 1,
    "nodes": [{"kind": "start", "id": "start", "label": "Start", "position": {"x": 0, "y": 0}}],
    "edges": [],
}


def parse_graph(raw: dict[str, Any], field: str = "graph") -> FlowGraph:
    try:
        return decode_graph(raw)
    except FormatError as exc:
        message = str(exc).replace("`$.", f"`$.{field}.")
        raise InvalidInput(field, message) from None


def trigger_of(graph: FlowGraph) -> str:
    starts = [node for node in graph.nodes if isinstance(node, StartNode)]
    return starts[0].trigger if starts else "manual"


def _draft_trigger(draft: dict[str, Any]) -> str:
    """The start node's trigger read straight from the stored JSON (lists need no full decode)."""
    for node in draft.get("nodes", []):
        if isinstance(node, dict) and node.get("kind") == "start":
            return str(node.get("trigger", "manual"))
    return "manual"


def status_of(row: dict[str, Any]) -> str:
    """``draft`` (never published), ``published`` (the draft is the latest version) or ``draft_ahead``.

    ``published_revision`` is the draft revision known to hold the latest version's graph: publishing
    sets it, and so does every save whose graph turns out equal to that version (see
    :func:`same_graph`), so a draft changed and changed back (an undo) reads as published again.
    """
    if row["latest_version"] is None:
        return "draft"
    return "published" if row["published_revision"] == row["revision"] else "draft_ahead"


def _canonical(raw: dict[str, Any]) -> bytes:
    """A graph as bytes that differ only when the graph says something different.

    Left out: edge ids (labels the editor invents; no run, report or person reads them) and the order
    of the node and edge lists (a run follows ids and ports, never list positions). Everything else
    counts, positions and labels included: a version is also what its page and the campaign monitor
    draw, so a tidied layout or a renamed step is worth publishing.
    """
    builtins = graph_to_builtins(decode_graph(raw))
    nodes = sorted(msgspec.json.encode(node, order="sorted") for node in builtins["nodes"])
    edges = sorted(
        msgspec.json.encode([edge["source"], edge["source_port"], edge["target"]])
        for edge in builtins["edges"]
    )
    return msgspec.json.encode([builtins["format_version"], nodes, edges])


def same_graph(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Whether two stored graphs (a draft, a version) are the same flow; unreadable ones never are."""
    try:
        return _canonical(first) == _canonical(second)
    except FormatError:
        return False


def flow_out(row: dict[str, Any], *, with_graph: bool) -> dict[str, Any]:
    out = {
        "id": row["id"],
        "name": row["name"],
        "status": status_of(row),
        "revision": row["revision"],
        "latest_version": row["latest_version"],
        "trigger": _draft_trigger(row["draft"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    if with_graph:
        out["graph"] = row["draft"]
    return out


def flows_query(workspace_id: int, *columns: Any):
    return Flow.select(*columns).where(Flow.workspace == workspace_id).output(load_json=True)


async def get_flow(principal: Principal, flow_id: int) -> dict[str, Any]:
    row = await flows_query(principal.workspace_id).where(Flow.id == flow_id).first()
    if row is None:
        raise NotFound("flow", flow_id)
    return row


async def create_flow(principal: Principal, name: str, graph: dict[str, Any] | None) -> dict[str, Any]:
    parsed = parse_graph(graph if graph is not None else NEW_FLOW_GRAPH)
    async with transaction():
        row = (
            await Flow.insert(
                Flow(
                    workspace=principal.workspace_id,
                    name=name.strip(),
                    draft=graph_to_builtins(parsed),
                    created_by=principal.user_id,
                )
            ).returning(Flow.id)
        )[0]
        await audit.record(
            principal, "flow.created", target_type="flow", target_id=row["id"], data={"name": name}
        )
    return await get_flow(principal, row["id"])


async def update_flow(
    principal: Principal,
    flow_id: int,
    *,
    name: str | None,
    graph: dict[str, Any] | None,
    revision: int | None,
) -> dict[str, Any]:
    """Save the draft if it is still at ``revision``; a concurrent save in between is a 409, never lost."""
    if revision is None:
        raise InvalidInput(
            "revision", "send the revision you loaded (or an If-Match header) so no save is lost"
        )
    values: dict[Any, Any] = {Flow.revision: Flow.revision + 1, Flow.updated_at: datetime.now(UTC)}
    if name is not None:
        values[Flow.name] = name.strip()
    if graph is not None:
        values[Flow.draft] = graph_to_builtins(parse_graph(graph))
    updated = (
        await Flow.update(values)
        .where(
            (Flow.id == flow_id) & (Flow.workspace == principal.workspace_id) & (Flow.revision == revision)
        )
        .returning(Flow.id)
    )
    if not updated:
        current = await get_flow(principal, flow_id)  # 404 when it is not ours
        raise Conflict(
            f"revision: the draft changed since revision {revision} (now {current['revision']}); "
            "reload it and apply your change again"
        )
    await _note_if_published(principal.workspace_id, flow_id, revision + 1)
    return await get_flow(principal, flow_id)


async def _note_if_published(workspace_id: int, flow_id: int, revision: int) -> None:
    """Record that draft ``revision`` holds the latest version's graph, when it does.

    Runs after the save, outside its statement: the update is guarded by ``revision``, so a save or
    publish that lands in between is never overwritten, only left to speak for itself.
    """
    row = (
        await flows_query(workspace_id, Flow.draft, Flow.latest_version, Flow.published_revision)
        .where((Flow.id == flow_id) & (Flow.revision == revision))
        .first()
    )
    if row is None or row["latest_version"] is None or row["published_revision"] == revision:
        return
    version = (
        await versions_query(workspace_id, flow_id, FlowVersion.graph)
        .where(FlowVersion.number == row["latest_version"])
        .first()
    )
    if version is not None and same_graph(row["draft"], version["graph"]):
        await Flow.update({Flow.published_revision: revision}).where(
            (Flow.id == flow_id) & (Flow.revision == revision)
        )


async def delete_flow(principal: Principal, flow_id: int) -> None:
    """The flow, its versions and their runs; refused (409) while a campaign uses it."""
    async with (
        refused_while_referenced(
            f"flow {flow_id} is used by a campaign: delete the campaign or give it another flow first"
        ),
        transaction(),
    ):
        row = await get_flow(principal, flow_id)
        await Flow.delete().where(Flow.id == flow_id)
        await audit.record(
            principal, "flow.deleted", target_type="flow", target_id=flow_id, data={"name": row["name"]}
        )


def problems_out(problems: list[Problem]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(problem) for problem in problems]


async def validate_graph(workspace_id: int, graph: FlowGraph) -> list[Problem]:
    """The graph's problems, with its group and category ids checked against this workspace's.

    A group or category deleted since the node was set shows up here (``unknown_reference``) instead
    of failing when a campaign reaches the node. The lookups run only for graphs that refer to one.
    """
    group_ids = category_ids = None
    referenced = {name for node in graph.nodes for name in _REFERENCE_FIELDS if getattr(node, name, None)}
    if "group_id" in referenced:
        rows = await Group.select(Group.id).where(Group.workspace == workspace_id)
        group_ids = {row["id"] for row in rows}
    if "category_id" in referenced:
        rows = await MarketingCategory.select(MarketingCategory.id).where(
            MarketingCategory.workspace == workspace_id
        )
        category_ids = {row["id"] for row in rows}
    return validate(graph, group_ids=group_ids, category_ids=category_ids)


_REFERENCE_FIELDS = ("group_id", "category_id")


async def publish(principal: Principal, flow_id: int, revision: int | None) -> dict[str, Any]:
    """Freeze the draft as the next numbered version; an unchanged draft returns the latest version."""
    try:
        return await _publish(principal, flow_id, revision)
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict("another publish of this flow finished first; reload and try again") from None
        raise


async def _publish(principal: Principal, flow_id: int, revision: int | None) -> dict[str, Any]:
    async with transaction():
        row = await locked(flows_query(principal.workspace_id).where(Flow.id == flow_id)).first()
        if row is None:
            raise NotFound("flow", flow_id)
        if revision is not None and revision != row["revision"]:
            raise Conflict(
                f"revision: the draft is at revision {row['revision']}, not {revision}; reload it first"
            )
        graph = parse_graph(row["draft"])
        problems = await validate_graph(principal.workspace_id, graph)
        if problems:
            raise Unprocessable(
                f"the flow has {len(problems)} problem(s); fix them before publishing. First: {problems[0].message}",
                [
                    FieldProblem(
                        field=f"graph.{problem.field}" if problem.field else "graph",
                        message=problem.message,
                        source="body",
                        node_id=problem.node_id,
                        code=problem.code,
                    )
                    for problem in problems
                ],
            )
        if row["latest_version"] is not None:
            # Unchanged means the same graph, not the same revision: a draft edited and edited back
            # (or only renamed) is still the latest version, and publishing it must not duplicate it.
            latest = await _version_row(principal, flow_id, row["latest_version"])
            if same_graph(row["draft"], latest["graph"]):
                if row["published_revision"] != row["revision"]:
                    await Flow.update({Flow.published_revision: row["revision"]}).where(Flow.id == flow_id)
                return {
                    "flow_id": flow_id,
                    "version": latest["number"],
                    "published_at": latest["published_at"],
                    "created": False,
                }
        number = (row["latest_version"] or 0) + 1
        version = (
            await FlowVersion.insert(
                FlowVersion(
                    workspace=principal.workspace_id,
                    flow=flow_id,
                    number=number,
                    graph=graph_to_builtins(graph),
                    trigger=trigger_of(graph),
                    published_by=principal.label,
                )
            ).returning(FlowVersion.published_at)
        )[0]
        await Flow.update({Flow.latest_version: number, Flow.published_revision: row["revision"]}).where(
            Flow.id == flow_id
        )
        await audit.record(
            principal, "flow.published", target_type="flow", target_id=flow_id, data={"version": number}
        )
    return {"flow_id": flow_id, "version": number, "published_at": version["published_at"], "created": True}


def versions_query(workspace_id: int, flow_id: int, *columns: Any):
    return (
        FlowVersion.select(*columns)
        .where((FlowVersion.workspace == workspace_id) & (FlowVersion.flow == flow_id))
        .output(load_json=True)
    )


async def _version_row(principal: Principal, flow_id: int, number: int) -> dict[str, Any]:
    if not 1 <= number <= MAX_INT32:  # numbers live in an integer column: PostgreSQL refuses a larger one
        raise NotFound(f"version {number} of flow", flow_id)
    row = await versions_query(principal.workspace_id, flow_id).where(FlowVersion.number == number).first()
    if row is None:
        raise NotFound(f"version {number} of flow", flow_id)
    return row


async def list_versions(principal: Principal, flow_id: int) -> list[dict[str, Any]]:
    await get_flow(principal, flow_id)
    return await versions_query(
        principal.workspace_id,
        flow_id,
        FlowVersion.number,
        FlowVersion.trigger,
        FlowVersion.published_at,
        FlowVersion.published_by,
    ).order_by(FlowVersion.number, ascending=False)


async def get_version(principal: Principal, flow_id: int, number: int | None = None) -> dict[str, Any]:
    """One published version; ``None`` means the latest. 404 when the flow was never published."""
    if number is None:
        flow = await get_flow(principal, flow_id)
        if flow["latest_version"] is None:
            raise NotFound(f"a published version of flow {flow_id} (publish it first); version")
        number = flow["latest_version"]
    return await _version_row(principal, flow_id, number)
