"""HTTP endpoints of outbound webhooks: register, list, delete and re-enable endpoints, send one a test
event, and read each endpoint's delivery log. Admins only: endpoints receive every consent event,
addresses included."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from backend.core.pagination import CursorParam, LimitParam, Order, Page, fetch_page
from backend.webhooks import endpoints, service
from backend.webhooks.schemas import (
    DeliveryOut,
    DeliveryStatus,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
)
from backend.webhooks.tables import WebhookDelivery, WebhookEndpoint
from backend.workspaces.auth import Caller, allow
from backend.workspaces.roles import Role


def _webhook(row: dict) -> WebhookOut:
    return msgspec.convert(row, WebhookOut, strict=False)


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]
    guards = [allow(read=Role.admin, write=Role.admin)]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Register a URL for consent events; the response is the only time its secret is shown",
        description="The URL is refused (400, field `url`) when it resolves to a loopback, private or "
        "link-local address, unless the workspace setting `allow_private_urls` is on. The same check "
        "runs again before every delivery.",
    )
    async def create_webhook(self, principal: Caller, data: JSONBody[WebhookCreate]) -> WebhookCreated:
        row = await endpoints.create_endpoint(principal, data.url, list(data.events), data.description)
        return msgspec.convert(row, WebhookCreated, strict=False)

    @get("/", summary="The workspace's webhook endpoints (never their secrets)")
    async def list_webhooks(
        self, principal: Caller, cursor: CursorParam = None, limit: LimitParam = 50
    ) -> Page[WebhookOut]:
        rows, next_cursor = await fetch_page(
            endpoints.endpoints_query(principal.workspace_id), WebhookEndpoint.id, cursor, limit
        )
        return Page(items=[_webhook(row) for row in rows], next_cursor=next_cursor)

    @get("/{webhook_id:int}", summary="One webhook endpoint")
    async def get_webhook(self, principal: Caller, webhook_id: FromPath[int]) -> WebhookOut:
        return _webhook(await endpoints.get_endpoint(principal, webhook_id))

    @delete(
        "/{webhook_id:int}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete an endpoint and its delivery log; pending deliveries are dropped",
    )
    async def delete_webhook(self, principal: Caller, webhook_id: FromPath[int]) -> None:
        await endpoints.delete_endpoint(principal, webhook_id)

    @post(
        "/{webhook_id:int}/enable",
        status_code=HTTP_200_OK,
        summary="Re-enable an endpoint that was disabled because it answered 410 Gone",
    )
    async def enable_webhook(self, principal: Caller, webhook_id: FromPath[int]) -> WebhookOut:
        return _webhook(await endpoints.enable_endpoint(principal, webhook_id))

    @post(
        "/{webhook_id:int}/test",
        status_code=HTTP_202_ACCEPTED,
        summary="Send the endpoint a signed test event (type webhook.test); the answer is its delivery",
        description="The test event goes through the same delivery path as consent events: signed with "
        "the endpoint's secret, retried with backoff, and recorded in the delivery log, whatever events "
        "the endpoint subscribed to. 409 when the endpoint is disabled.",
    )
    async def test_webhook(self, principal: Caller, webhook_id: FromPath[int], state: State) -> DeliveryOut:
        row = await endpoints.send_test(principal, webhook_id)
        await service.dispatch(getattr(state, "queue", None), [row["id"]])
        return msgspec.convert(endpoints.delivery_out(row), DeliveryOut, strict=False)

    @get(
        "/{webhook_id:int}/deliveries",
        summary="The endpoint's delivery log, oldest first (or newest first with order=newest): status, "
        "attempts, last answer or error",
    )
    async def list_deliveries(
        self,
        principal: Caller,
        webhook_id: FromPath[int],
        status: Annotated[
            DeliveryStatus | None, QueryParameter(description="Only deliveries in this state")
        ] = None,
        order: Annotated[
            Order,
            QueryParameter(description="`oldest` first (default) or `newest` first; the cursor follows it"),
        ] = "oldest",
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> Page[DeliveryOut]:
        await endpoints.get_endpoint(principal, webhook_id)
        rows, next_cursor = await fetch_page(
            endpoints.deliveries_query(principal.workspace_id, webhook_id, status),
            WebhookDelivery.id,
            cursor,
            limit,
            order,
        )
        return Page(
            items=[msgspec.convert(endpoints.delivery_out(row), DeliveryOut, strict=False) for row in rows],
            next_cursor=next_cursor,
        )


CONTROLLERS: list = [WebhookController]
