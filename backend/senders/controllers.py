"""HTTP endpoints of senders (registered in backend/app.py through CONTROLLERS).

Admins create and change senders; marketers and viewers may read them, because campaigns and the
compose box pick a sender. No response ever carries a secret: see ``service.sender_out``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from backend.core.database import contains_text
from backend.core.pagination import CursorParam, LimitParam, Page, fetch_page
from backend.senders import service
from backend.senders.schemas import Channel, Provider, SenderCreate, SenderOut, SenderPatch
from backend.senders.tables import Sender
from backend.workspaces.auth import Caller, allow
from backend.workspaces.roles import Role


def _sender(row: dict[str, Any]) -> SenderOut:
    return msgspec.convert(service.sender_out(row), SenderOut)


class SenderController(Controller):
    path = "/senders"
    tags = ["senders"]
    guards = [allow(read=Role.viewer, write=Role.admin)]

    @get("/", summary="List the workspace's senders (without secrets), oldest first")
    async def list_senders(
        self,
        principal: Caller,
        channel: Annotated[Channel | None, QueryParameter(description="Only this channel")] = None,
        provider: Annotated[Provider | None, QueryParameter(description="Only this provider")] = None,
        name: Annotated[
            str | None, QueryParameter(description="Senders whose name contains this text")
        ] = None,
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> Page[SenderOut]:
        query = service.senders_query(principal.workspace_id)
        if channel:
            query = query.where(Sender.channel == channel)
        if provider:
            query = query.where(Sender.provider == provider)
        if name:
            query = query.where(contains_text(Sender.name, name))
        rows, next_cursor = await fetch_page(query, Sender.id, cursor, limit)
        return Page(items=[_sender(row) for row in rows], next_cursor=next_cursor)

    @post("/", status_code=HTTP_201_CREATED, summary="Add a sender; secrets in config are never shown again")
    async def create_sender(self, principal: Caller, data: JSONBody[SenderCreate]) -> SenderOut:
        return _sender(await service.create_sender(principal, data))

    @get("/{sender_id:int}", summary="One sender (without secrets)")
    async def get_sender(self, principal: Caller, sender_id: FromPath[int]) -> SenderOut:
        return _sender(await service.get_sender(principal, sender_id))

    @patch(
        "/{sender_id:int}",
        summary="Change a sender; config merges (secrets left out keep their value, null clears a key)",
    )
    async def update_sender(
        self, principal: Caller, sender_id: FromPath[int], data: JSONBody[SenderPatch]
    ) -> SenderOut:
        return _sender(await service.update_sender(principal, sender_id, data))

    @delete(
        "/{sender_id:int}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a sender; its sender-scoped opt-outs become workspace-wide, never lost",
    )
    async def delete_sender(self, principal: Caller, sender_id: FromPath[int]) -> None:
        await service.delete_sender(principal, sender_id)


CONTROLLERS: list = [SenderController]
