"""HTTP endpoints of the inbound pipeline: providers' webhooks and the sandbox's simulated replies.

``/webhooks/{sender_id}`` is public (providers carry no API key; their signature is the credential) and
registered in backend/app.py beside the other public routes (:data:`PUBLIC_ROUTES`). It does as little
as it safely can before answering, because providers time out and re-deliver: verify the signature over
the raw body (fail closed: nothing is stored for a request that does not verify), parse, store every
event in one transaction, answer. A verified body that does not parse is stored as one ``rejected``
event and acknowledged too (:mod:`backend.inbound.unreadable`): a re-delivery cannot help. Consent,
contacts and statuses are the worker's job (:mod:`backend.inbound.processing`). Every failure that is
about the sender (unknown id, a sender whose provider takes no webhooks) is the same 404, so the
endpoint tells a prober nothing.

``POST /api/v1/senders/{id}/sandbox/inbound`` (marketer and admin) is the sandbox sender's webhook.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, post, route
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED

from backend.inbound import sandbox
from backend.inbound.events_api import InboundEventController
from backend.inbound.schemas import SandboxInbound, SandboxInboundOut
from backend.inbound.store import enqueue_processing, store_events
from backend.inbound.unreadable import reason_for, store_unreadable
from backend.providers.base import MalformedWebhook, Provider, WebhookReply, WebhookRequest
from backend.senders.tables import Sender
from backend.workspaces.auth import Caller, allow
from backend.workspaces.roles import Role

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 1024 * 1024
"""Providers' notifications are a few KiB (WhatsApp batches stay far below this); more is not one."""


async def _sender(sender_id: int) -> dict[str, Any]:
    row = await Sender.select().where(Sender.id == sender_id).output(load_json=True).first()
    if row is None:
        raise NotFoundException("not found")
    return row


def _provider(request: Request, sender: dict[str, Any]) -> Provider:
    try:
        return request.app.state.providers.for_sender(sender)
    except Exception:
        log.warning("webhook for sender %s: no provider could be built for it", sender["id"])
        raise NotFoundException("not found") from None


async def _webhook_request(request: Request) -> WebhookRequest:
    return WebhookRequest(
        method=request.method,
        url=str(request.url),
        headers={name.lower(): value for name, value in request.headers.items()},
        query={name: value for name, value in request.query_params.items()},
        body=await request.body(),
        received_at=datetime.now(UTC),
    )


def _answer(reply: WebhookReply) -> Response:
    return Response(content=reply.body, status_code=reply.status_code, media_type=reply.media_type)


@route(
    "/webhooks/{sender_id:int}",
    http_method=["GET", "POST"],
    exclude_from_auth=True,
    request_max_body_size=MAX_WEBHOOK_BYTES,
    tags=["webhooks (providers)"],
    summary="Provider callbacks: the subscription handshake (GET) and signed events (POST)",
)
async def provider_webhook(request: Request, sender_id: FromPath[int]) -> Response:
    sender = await _sender(sender_id)
    provider = _provider(request, sender)
    incoming = await _webhook_request(request)
    if request.method == "GET":
        reply = provider.handshake(incoming)
        if reply is None:
            raise NotFoundException("not found")
        return _answer(reply)
    if not provider.verify(incoming):
        log.warning(
            "webhook for sender %s (%s) rejected: signature missing or wrong (%d bytes)",
            sender_id,
            sender["provider"],
            len(incoming.body),
        )
        raise NotAuthorizedException("the webhook signature did not verify")
    try:
        events = provider.parse(incoming)
    except Exception as exc:
        # Signed, so the provider's; unreadable, so a re-delivery cannot help: kept rejected, acknowledged.
        if not isinstance(exc, MalformedWebhook):
            log.error(
                "webhook for sender %s: the %s parser raised", sender_id, sender["provider"], exc_info=True
            )
        await store_unreadable(sender, incoming, reason_for(sender["provider"], exc))
        return _answer(provider.acknowledge())
    new = await store_events(sender, events, received_at=incoming.received_at)
    await enqueue_processing(request.app.state.queue, new)
    return _answer(provider.acknowledge())


class SandboxInboundController(Controller):
    path = "/senders/{sender_id:int}/sandbox"
    tags = ["senders"]
    guards = [allow(read=Role.viewer, write=Role.marketer)]

    @post(
        "/inbound",
        status_code=HTTP_202_ACCEPTED,
        summary="Reply to a sandbox sender as the contact would (text or a button tap); processed like a webhook",
    )
    async def sandbox_inbound(
        self, principal: Caller, request: Request, sender_id: FromPath[int], data: JSONBody[SandboxInbound]
    ) -> SandboxInboundOut:
        return await sandbox.receive(principal.workspace_id, sender_id, data, request.app.state.queue)


CONTROLLERS = [SandboxInboundController, InboundEventController]
PUBLIC_ROUTES: list = [provider_webhook]
