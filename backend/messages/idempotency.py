"""``Idempotency-Key`` on ``POST /api/v1/messages``, with Stripe's semantics.

A key is the workspace's for 24 hours. The first request that completes stores its answer in the same
transaction as its message, so "stored" and "answered" cannot disagree; a retry with the same key and the
same body gets that answer again (``Idempotent-Replayed: true``) and no second message; the same key with
another body is a client bug and answers 422. Two concurrent requests with one key meet at the unique
index on ``(workspace, key)``: the loser's transaction (its message included) rolls back and it replays
the winner's answer. Requests refused with a 4xx store nothing, as at Stripe: fixing the body and
retrying with the same key works.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from backend.core.errors import Conflict, FieldProblem, InvalidInput, Unprocessable
from backend.messages.tables import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEEP_FOR = timedelta(hours=24)


def read_key(value: str | None) -> str | None:
    """The header's key, or None when absent; a blank or over-long key is refused naming the header."""
    if value is None:
        return None
    if not value.strip():
        raise InvalidInput(HEADER, "must not be blank", source="header")
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidInput(
            HEADER, f"at most {MAX_KEY_LENGTH} characters ({len(value)} given)", source="header"
        )
    return value


def fingerprint(endpoint: str, body: Any) -> str:
    """SHA-256 of the endpoint and the decoded body as canonical JSON (sorted keys): the same request
    written with other whitespace or key order is the same request."""
    canonical = msgspec.json.encode({"endpoint": endpoint, "body": body}, order="sorted")
    return hashlib.sha256(canonical).hexdigest()


async def stored(workspace_id: int, key: str, now: datetime | None = None) -> dict[str, Any] | None:
    """The live record of ``key`` (expired ones count as absent until the purge deletes them)."""
    cutoff = (now or datetime.now(UTC)) - KEEP_FOR
    return (
        await IdempotencyKey.select()
        .where(
            (IdempotencyKey.workspace == workspace_id)
            & (IdempotencyKey.key == key)
            & (IdempotencyKey.created_at > cutoff)
        )
        .output(load_json=True)
        .first()
    )


def replay(record: dict[str, Any], request_hash: str) -> tuple[int, Any]:
    """The stored answer for a repeated request, or 422 when the key came with another body."""
    if record["request_hash"] != request_hash:
        raise Unprocessable(
            f"{HEADER}: this key was used with a different request body; use a new key for a new message",
            [FieldProblem(HEADER, "reused with a different request body", "header")],
        )
    if not record["response"]:
        raise Conflict(f"{HEADER}: a request with this key is still in progress; retry shortly")
    return record["status_code"], record["response"]


async def remember(
    workspace_id: int, key: str, request_hash: str, message_id: int, status_code: int, response: Any
) -> None:
    """Store the answer; call inside the message's transaction. Raises a unique violation when a
    concurrent request with the same key got there first (the caller then replays its answer)."""
    await IdempotencyKey.delete().where(
        (IdempotencyKey.workspace == workspace_id)
        & (IdempotencyKey.key == key)
        & (IdempotencyKey.created_at <= datetime.now(UTC) - KEEP_FOR)
    )
    await IdempotencyKey.insert(
        IdempotencyKey(
            workspace=workspace_id,
            key=key,
            request_hash=request_hash,
            message=message_id,
            status_code=status_code,
            response=response,
            created_at=datetime.now(UTC),
        )
    )


async def purge(now: datetime | None = None) -> int:
    """Delete keys older than 24 hours (the reconciler's cron); their keys may then be used again."""
    cutoff = (now or datetime.now(UTC)) - KEEP_FOR
    deleted = (
        await IdempotencyKey.delete().where(IdempotencyKey.created_at <= cutoff).returning(IdempotencyKey.id)
    )
    return len(deleted)
