"""HTTP endpoints of this domain (registered in backend/app.py through CONTROLLERS).

Uploads are made by each domain's own endpoint (``POST /contacts/import``, ``POST /optouts/import``)
through :func:`backend.imports.uploads.store_upload`; this controller reads what became of them.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import FromPath, QueryParameter

from backend.core.pagination import CursorParam, LimitParam, Page, fetch_page
from backend.imports import service
from backend.imports.schemas import ImportOut, ImportStatus, ImportSummary
from backend.imports.tables import Import
from backend.workspaces.auth import Caller, allow
from backend.workspaces.roles import Role


class ImportController(Controller):
    path = "/imports"
    tags = ["imports"]
    guards = [allow(read=Role.viewer, write=Role.marketer)]

    @get("/", summary="List imports (without their row errors), oldest first")
    async def list_imports(
        self,
        principal: Caller,
        kind: Annotated[str | None, QueryParameter(description="`contacts`, `optouts`, …")] = None,
        status: Annotated[
            ImportStatus | None, QueryParameter(description="Only imports in this status")
        ] = None,
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> Page[ImportSummary]:
        query = service.imports_query(principal.workspace_id)
        if kind:
            query = query.where(Import.kind == kind)
        if status:
            query = query.where(Import.status == status)
        rows, next_cursor = await fetch_page(query, Import.id, cursor, limit)
        items = await service.with_phases(rows)
        return Page(items=[msgspec.convert(item, ImportSummary) for item in items], next_cursor=next_cursor)

    @get("/{import_id:int}", summary="One import: status, progress, counts and the first 1,000 row errors")
    async def get_import(self, principal: Caller, import_id: FromPath[int]) -> ImportOut:
        row = await service.get_import(principal.workspace_id, import_id)
        (out,) = await service.with_phases([row])
        return msgspec.convert(out, ImportOut)


CONTROLLERS: list = [ImportController]
