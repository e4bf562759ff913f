"""HTTP endpoints of flows: drafts (with optimistic concurrency), validation, publishing, versions."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, delete, get, post, put
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from msgspec import UNSET

from backend.core.database import contains_text
from backend.core.edge import MAX_INT32
from backend.core.errors import InvalidInput
from backend.core.pagination import CursorParam, LimitParam, Page, fetch_page
from backend.flows import service
from backend.flows.schemas import (
    FlowCreate,
    FlowOut,
    FlowSummary,
    FlowUpdate,
    PublishIn,
    PublishOut,
    ValidateIn,
    ValidationOut,
    VersionOut,
    VersionSummary,
)
from backend.flows.tables import Flow
from backend.workspaces.auth import Caller, allow
from backend.workspaces.roles import Role
from flows.schema import json_schema

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match", description="The flow's ETag (its revision) as loaded; alternative to `revision`"
    ),
]


def _etag(revision: int) -> dict[str, str]:
    return {"ETag": f'"{revision}"'}


def _revision_from_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidInput("If-Match", 'must be the ETag the API returned, e.g. "3"', source="header")
    revision = int(text)
    if revision > MAX_INT32:  # revisions live in an integer column; PostgreSQL could not compare this one
        raise InvalidInput(
            "If-Match", f"{revision} is not a revision this API gives (at most {MAX_INT32})", source="header"
        )
    return revision


def _flow(row: dict[str, Any]) -> Response[FlowOut]:
    out = msgspec.convert(service.flow_out(row, with_graph=True), FlowOut)
    return Response(out, headers=_etag(row["revision"]))


class FlowController(Controller):
    path = "/flows"
    tags = ["flows"]
    guards = [allow(read=Role.viewer, write=Role.marketer)]

    @get("/", summary="List flows (without their graphs), newest last")
    async def list_flows(
        self,
        principal: Caller,
        name: Annotated[str | None, QueryParameter(description="Flows whose name contains this text")] = None,
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> Page[FlowSummary]:
        query = service.flows_query(
            principal.workspace_id,
            Flow.id,
            Flow.name,
            Flow.draft,
            Flow.revision,
            Flow.latest_version,
            Flow.published_revision,
            Flow.created_at,
            Flow.updated_at,
        )
        if name:
            query = query.where(contains_text(Flow.name, name))
        rows, next_cursor = await fetch_page(query, Flow.id, cursor, limit)
        return Page(
            items=[msgspec.convert(service.flow_out(row, with_graph=False), FlowSummary) for row in rows],
            next_cursor=next_cursor,
        )

    @get("/graph-schema", summary="JSON Schema of the flow graph format")
    async def graph_schema(self) -> dict[str, Any]:
        return json_schema()

    @post("/", status_code=HTTP_201_CREATED, summary="Create a flow with a draft graph")
    async def create_flow(self, principal: Caller, data: JSONBody[FlowCreate]) -> Response[FlowOut]:
        row = await service.create_flow(principal, data.name, data.graph)
        response = _flow(row)
        response.status_code = HTTP_201_CREATED
        return response

    @get("/{flow_id:int}", summary="A flow with its draft graph; the ETag header is its revision")
    async def get_flow(self, principal: Caller, flow_id: FromPath[int]) -> Response[FlowOut]:
        return _flow(await service.get_flow(principal, flow_id))

    @put("/{flow_id:int}", summary="Save the draft (name and/or graph); a stale revision answers 409")
    async def update_flow(
        self, principal: Caller, flow_id: FromPath[int], data: JSONBody[FlowUpdate], if_match: IfMatch = None
    ) -> Response[FlowOut]:
        revision = data.revision if data.revision is not UNSET else _revision_from_if_match(if_match)
        row = await service.update_flow(
            principal,
            flow_id,
            name=data.name if data.name is not UNSET else None,
            graph=data.graph if data.graph is not UNSET else None,
            revision=revision,
        )
        return _flow(row)

    @delete("/{flow_id:int}", status_code=HTTP_204_NO_CONTENT, summary="Delete a flow and its versions")
    async def delete_flow(self, principal: Caller, flow_id: FromPath[int]) -> None:
        await service.delete_flow(principal, flow_id)

    @post(
        "/{flow_id:int}/validate",
        status_code=HTTP_200_OK,
        opt={"read_only": True},
        summary="Problems of the draft, or of a given graph",
    )
    async def validate_flow(
        self, principal: Caller, flow_id: FromPath[int], data: JSONBody[ValidateIn | None] = None
    ) -> ValidationOut:
        row = await service.get_flow(principal, flow_id)
        raw = data.graph if data is not None and data.graph is not None else row["draft"]
        problems = await service.validate_graph(principal.workspace_id, service.parse_graph(raw))
        return msgspec.convert(
            {"valid": not problems, "errors": service.problems_out(problems)}, ValidationOut
        )

    @post(
        "/{flow_id:int}/publish",
        status_code=HTTP_201_CREATED,
        summary="Freeze the draft as the next version; 422 with the problems when it is not valid",
        # A draft equal to the latest version publishes nothing new: 200 with that version, not 201.
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=PublishOut, description="The draft equals the latest version: nothing new"
            )
        },
    )
    async def publish_flow(
        self, principal: Caller, flow_id: FromPath[int], data: JSONBody[PublishIn | None] = None
    ) -> Response[PublishOut]:
        result = await service.publish(principal, flow_id, data.revision if data else None)
        return Response(
            msgspec.convert(result, PublishOut),
            status_code=HTTP_201_CREATED if result["created"] else HTTP_200_OK,
        )

    @get("/{flow_id:int}/versions", summary="Published versions, newest first")
    async def list_versions(self, principal: Caller, flow_id: FromPath[int]) -> list[VersionSummary]:
        return [
            msgspec.convert(row, VersionSummary) for row in await service.list_versions(principal, flow_id)
        ]

    @get("/{flow_id:int}/versions/{number:int}", summary="One published version with its frozen graph")
    async def get_version(
        self, principal: Caller, flow_id: FromPath[int], number: FromPath[int]
    ) -> VersionOut:
        row = await service.get_version(principal, flow_id, number)
        return msgspec.convert(
            {
                "flow_id": flow_id,
                "number": row["number"],
                "trigger": row["trigger"],
                "published_at": row["published_at"],
                "published_by": row["published_by"],
                "graph": row["graph"],
            },
            VersionOut,
        )
