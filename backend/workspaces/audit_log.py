"""The workspace's audit log as its admins read it (``GET /api/v1/audit-log``).

Recording lives in :mod:`backend.audit` (every domain writes there, in the transaction of its change);
reading it is workspace administration, beside users, keys and settings. This way ``backend.audit``
depends on nothing of the workspaces domain, and workspaces depend on it, one way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import QueryParameter

from backend.audit.tables import AuditEvent
from backend.core.pagination import CursorParam, LimitParam, Order, Page, fetch_page
from backend.core.schemas import Output
from backend.workspaces.auth import Caller, allow
from backend.workspaces.roles import Role


class AuditEventOut(Output):
    id: int
    at: datetime
    actor: str
    actor_user_id: int | None
    action: str
    target_type: str
    target_id: str
    data: dict[str, Any]


class AuditController(Controller):
    path = "/audit-log"
    tags = ["audit"]
    guards = [allow(read=Role.admin, write=Role.admin)]

    @get("/", summary="Who changed what in this workspace, oldest first (or newest first with order=newest)")
    async def list_events(
        self,
        principal: Caller,
        action: Annotated[
            str | None, QueryParameter(description="Exact action, e.g. api_key.revoked")
        ] = None,
        since: Annotated[
            datetime | None, QueryParameter(description="Only events at or after this time")
        ] = None,
        order: Annotated[
            Order,
            QueryParameter(description="`oldest` first (default) or `newest` first; the cursor follows it"),
        ] = "oldest",
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> Page[AuditEventOut]:
        query = (
            AuditEvent.select().where(AuditEvent.workspace == principal.workspace_id).output(load_json=True)
        )
        if action:
            query = query.where(AuditEvent.action == action)
        if since:
            query = query.where(AuditEvent.at >= since)
        rows, next_cursor = await fetch_page(query, AuditEvent.id, cursor, limit, order)
        return Page(
            items=[
                AuditEventOut(
                    id=row["id"],
                    at=row["at"],
                    actor=row["actor_label"],
                    actor_user_id=row["actor_user"],
                    action=row["action"],
                    target_type=row["target_type"],
                    target_id=row["target_id"],
                    data=row["data"] or {},
                )
                for row in rows
            ],
            next_cursor=next_cursor,
        )
