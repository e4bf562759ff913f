"""Short-lived, single-use tickets for WebSocket handshakes from browsers.

A browser cannot set an ``Authorization`` header on a WebSocket, and an API key or session token in the
URL would end up in access logs. So an authenticated ``POST`` issues a ticket for one resource (e.g.
``campaign:42``), valid for :data:`TTL_S` seconds and redeemable once, carrying the caller's identity.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict

import msgspec
from redis.asyncio import Redis

from backend.workspaces.auth import Principal
from backend.workspaces.roles import CredentialKind, Role

TTL_S = 60
PREFIX = "flowgate:ws-ticket:"


async def issue(redis: Redis, principal: Principal, resource: str) -> str:
    ticket = "fgt_" + secrets.token_urlsafe(24)
    record = {
        **asdict(principal),
        "kind": principal.kind.value,
        "role": principal.role.value,
        "resource": resource,
    }
    await redis.set(PREFIX + ticket, msgspec.json.encode(record), ex=TTL_S)
    return ticket


async def redeem(redis: Redis, ticket: str) -> tuple[Principal, str] | None:
    """The principal and resource a ticket was issued for; None when unknown, used or expired."""
    if len(ticket) > 100:
        return None
    raw = await redis.getdel(PREFIX + ticket)
    if raw is None:
        return None
    record = msgspec.json.decode(raw)
    resource = record.pop("resource")
    principal = Principal(
        workspace_id=record["workspace_id"],
        credential_id=record["credential_id"],
        kind=CredentialKind(record["kind"]),
        role=Role(record["role"]),
        user_id=record["user_id"],
        label=record["label"],
    )
    return principal, resource
