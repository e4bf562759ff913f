"""HTTP endpoints of messages: send one (``POST /messages``), list and read them, and a contact's
conversation timeline (``GET /contacts/{id}/messages``). Registered through CONTROLLERS."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from backend.audience.tables import Contact
from backend.core.database import is_unique_violation, transaction
from backend.core.errors import Conflict, NotFound
from backend.core.pagination import CursorParam, LimitParam, Page, fetch_page
from backend.messages import idempotency, queries, service
from backend.messages.schemas import Direction, FailureReason, Kind, MessageCreate, MessageOut, Status
from backend.messages.tables import Message
from backend.workspaces.auth import Caller, allow
from backend.workspaces.roles import Role

ENDPOINT = "POST /api/v1/messages"


class MessageController(Controller):
    path = "/messages"
    tags = ["messages"]
    guards = [allow(read=Role.viewer, write=Role.marketer)]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Send one message: validated, checked against the consent gate, stored, then queued",
        description="Answers 201 with the stored message. A marketing message the consent gate blocks is "
        "stored as `failed` with `failure_reason: opted_out` (still 201: the request was fine, the "
        "contact opted out). With an `Idempotency-Key` header (≤255 characters, kept 24 h per "
        "workspace) a repeated request gets the first answer again with `Idempotent-Replayed: true`; "
        "the same key with another body answers 422.",
    )
    async def send_message(
        self,
        principal: Caller,
        data: JSONBody[MessageCreate],
        request: Request,
        state: State,
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(name="Idempotency-Key", description="Makes retries safe (Stripe-style)"),
        ] = None,
    ) -> Response[Any]:
        workspace_id = principal.workspace_id
        key = idempotency.read_key(idempotency_key)
        request_hash = idempotency.fingerprint(ENDPOINT, data)
        if key is not None and (record := await idempotency.stored(workspace_id, key)) is not None:
            return _replayed(*idempotency.replay(record, request_hash))
        sender, _, arguments = await service.prepare_api_send(workspace_id, data)
        try:
            async with transaction():
                if key is not None and (record := await idempotency.stored(workspace_id, key)) is not None:
                    return _replayed(*idempotency.replay(record, request_hash))
                row = await service.create_outbound(workspace_id, sender, origin="api", **arguments)
                body = service.message_out(row)
                if key is not None:
                    await idempotency.remember(workspace_id, key, request_hash, row["id"], 201, body)
        except Exception as exc:
            if key is None or not is_unique_violation(exc):
                raise
            # A concurrent request with this key committed first: answer as it did.
            record = await idempotency.stored(workspace_id, key)
            if record is None:
                raise Conflict("Idempotency-Key: a request with this key is still in progress") from None
            return _replayed(*idempotency.replay(record, request_hash))
        if row["status"] == service.QUEUED:
            await service.enqueue_sends(state.queue, [row["id"]])
        return Response(content=body, status_code=HTTP_201_CREATED)

    @get("/", summary="The workspace's messages, newest first")
    async def list_messages(
        self,
        principal: Caller,
        campaign_id: Annotated[int | None, QueryParameter(description="Messages of this campaign")] = None,
        status: Annotated[Status | None, QueryParameter(description="Current status")] = None,
        failure_reason: Annotated[FailureReason | None, QueryParameter(description="Why it failed")] = None,
        contact_id: Annotated[int | None, QueryParameter(description="To or from this contact")] = None,
        sender_id: Annotated[int | None, QueryParameter(description="Through this sender")] = None,
        direction: Annotated[Direction | None, QueryParameter(description="outbound or inbound")] = None,
        kind: Annotated[Kind | None, QueryParameter(description="marketing, transactional, ...")] = None,
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> Page[MessageOut]:
        query = queries.messages_query(
            principal.workspace_id,
            campaign_id=campaign_id,
            status=status,
            failure_reason=failure_reason,
            contact_id=contact_id,
            sender_id=sender_id,
            direction=direction,
            kind=kind,
        )
        rows, next_cursor = await queries.newest_first(query, cursor, limit)
        return Page(items=[_out(row) for row in rows], next_cursor=next_cursor)

    @get("/{message_id:int}", summary="One message and its delivery status")
    async def get_message(self, principal: Caller, message_id: FromPath[int]) -> MessageOut:
        row = await queries.messages_query(principal.workspace_id).where(Message.id == message_id).first()
        if row is None:
            raise NotFound("message", message_id)
        return _out(row)


class TimelineController(Controller):
    path = "/contacts/{contact_id:int}/messages"
    tags = ["messages"]
    guards = [allow(read=Role.viewer, write=Role.marketer)]

    @get(
        "/",
        summary="The conversation with a contact, both directions, oldest first (like a chat)",
        description="Cursor pagination forwards in time: `next_cursor` gives the following (newer) page.",
    )
    async def timeline(
        self, principal: Caller, contact_id: FromPath[int], cursor: CursorParam = None, limit: LimitParam = 50
    ) -> Page[MessageOut]:
        if not await Contact.exists().where(
            (Contact.id == contact_id) & (Contact.workspace == principal.workspace_id)
        ):
            raise NotFound("contact", contact_id)
        query = queries.messages_query(principal.workspace_id, contact_id=contact_id)
        rows, next_cursor = await fetch_page(query, Message.id, cursor, limit)
        return Page(items=[_out(row) for row in rows], next_cursor=next_cursor)


def _out(row: dict[str, Any]) -> MessageOut:
    return service.message_struct(row)


def _replayed(status_code: int, body: Any) -> Response[Any]:
    return Response(content=body, status_code=status_code, headers={idempotency.REPLAYED_HEADER: "true"})


CONTROLLERS: list = [MessageController, TimelineController]
