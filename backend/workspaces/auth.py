"""Who is calling: bearer-token authentication, the caller's :class:`Principal`, and role guards.

Every API route below ``/api/v1`` is authenticated by :class:`BearerAuthMiddleware`; handlers receive the
caller as the ``principal`` dependency and scope every query to ``principal.workspace_id``.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from backend.workspaces.roles import CredentialKind, Role

log = logging.getLogger(__name__)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="flowgate"'}
# last_used_at is worth knowing to the minute, not worth a database write per request.
_TOUCH_EVERY_S = 60


@dataclass(frozen=True, slots=True)
class Principal:
    workspace_id: int
    credential_id: int
    kind: CredentialKind
    role: Role
    user_id: int | None
    label: str
    """Who this is, for audit records and messages: "jane@acme.com" or "API key 'CRM sync' (fgk_ab12…)"."""


def _bearer_token(connection: ASGIConnection) -> str:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if header and scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if header:
        raise NotAuthorizedException(
            "Authorization header must be 'Bearer <api key>'", headers=_WWW_AUTHENTICATE
        )
    raise NotAuthorizedException(
        "Missing API key: send the header 'Authorization: Bearer <api key>'", headers=_WWW_AUTHENTICATE
    )


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        from backend.workspaces import service

        if connection.scope["type"] == "websocket" and "authorization" not in connection.headers:
            return await _ticket(connection)
        token = _bearer_token(connection)
        now = datetime.now(UTC)
        found = await service.authenticate(token, now)
        if found is None:
            raise NotAuthorizedException("Invalid, expired or revoked API key", headers=_WWW_AUTHENTICATE)
        principal, last_used_at = found
        if last_used_at is None or (now - last_used_at).total_seconds() > _TOUCH_EVERY_S:
            await _record_use(connection, principal.credential_id, now)
        return AuthenticationResult(user=principal, auth=token)


async def _ticket(connection: ASGIConnection) -> AuthenticationResult:
    """Browsers cannot set headers on a WebSocket handshake: they bring a short-lived, single-use ticket
    from an authenticated POST instead (never an API key: URLs end up in access logs)."""
    from backend.workspaces import tickets

    ticket = connection.query_params.get("ticket")
    if not ticket:
        raise NotAuthorizedException(
            "Missing credentials: send 'Authorization: Bearer <api key>', or ?ticket= from "
            "POST /api/v1/campaigns/{id}/live-tickets",
            headers=_WWW_AUTHENTICATE,
        )
    redeemed = await tickets.redeem(connection.app.state.queue, ticket)
    if redeemed is None:
        raise NotAuthorizedException("Unknown, used or expired ticket", headers=_WWW_AUTHENTICATE)
    principal, resource = redeemed
    return AuthenticationResult(user=principal, auth={"ticket_for": resource})


async def _record_use(connection: ASGIConnection, credential_id: int, now: datetime) -> None:
    """Hand the last-used stamp to the worker; one job per key per minute (the job id de-duplicates)."""
    queue = getattr(connection.app.state, "queue", None)
    if queue is None:
        return
    with contextlib.suppress(Exception):
        await queue.enqueue_job(
            "record_credential_use",
            credential_id,
            now.isoformat(),
            _job_id=f"credential-use:{credential_id}:{int(now.timestamp()) // _TOUCH_EVERY_S}",
        )


def principal_of(connection: ASGIConnection) -> Principal:
    principal = connection.scope.get("user")
    if not isinstance(principal, Principal):
        raise NotAuthorizedException("Not authenticated", headers=_WWW_AUTHENTICATE)
    return principal


def allow(*, read: Role = Role.viewer, write: Role = Role.marketer):
    """A guard: safe methods need ``read``, every other method (and WebSocket writes) needs ``write``."""

    def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        method = connection.scope.get("method", "GET")
        if method == "OPTIONS":
            # The authentication middleware lets OPTIONS through (it only lists the path's methods, which the
            # public OpenAPI document lists too); a guard asking for a principal would turn it into a 401.
            return
        principal = principal_of(connection)
        # A POST that changes nothing (validating a graph) is marked ``opt={"read_only": True}``.
        safe = method in _SAFE_METHODS or handler.opt.get("read_only", False)
        needed = read if safe else write
        if not principal.role.allows(needed):
            raise PermissionDeniedException(
                f"This action needs the {needed.value} role; the caller's role is {principal.role.value}"
            )

    return guard


async def provide_principal(request: ASGIConnection) -> Principal:
    return principal_of(request)


Caller = NamedDependency[Principal]
"""Annotation for the ``principal`` handler parameter: the authenticated caller."""
