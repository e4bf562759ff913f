"""Shared set-up for the messages tests: senders pointed at the fakes, sends, an in-process worker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.backend.senders.helpers import BODIES

CONTACT = "+351911111111"
OTHER = "+351922222222"


async def make_sender(client, tenant, provider: str = "sandbox", config: dict | None = None, **extra) -> dict:
    body = {**BODIES[provider], **extra}
    if config is not None:
        body["config"] = config
    response = await client.post("/api/v1/senders", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()


async def send(client, tenant, sender_id: int, role: str = "marketer", headers: dict | None = None, **fields):
    body: dict[str, Any] = {"sender_id": sender_id, "to": CONTACT, "kind": "transactional", "text": "Hi"}
    body.update(fields)
    return await client.post(
        "/api/v1/messages", json=body, headers={**tenant.headers(role), **(headers or {})}
    )


async def run_worker(redis_url: str, **overrides) -> None:
    """Every enqueued job, in this process (burst mode): the worker's own start-up gives it providers."""
    from backend.worker import build_worker

    worker = build_worker(redis_url, burst=True, **overrides)
    try:
        await worker.main()
    finally:
        await worker.close()


async def message_row(message_id: int) -> dict:
    from backend.messages.tables import Message

    return await Message.select().where(Message.id == message_id).output(load_json=True).first()


async def queued_messages(
    workspace_id: int, sender_id: int, count: int, first: int = 0, campaign_id: int | None = None
) -> list[int]:
    """``count`` queued marketing messages, inserted as a campaign's fan-out does (no job enqueued)."""
    from backend.messages.tables import Message

    now = datetime.now(UTC)
    rows = [
        Message(
            workspace=workspace_id,
            sender=sender_id,
            direction="outbound",
            channel="whatsapp",
            address=f"+3519{first + i:08d}",
            kind="marketing",
            origin="campaign",
            campaign_id=campaign_id,
            text=f"Weekend sale {first + i}",
            status="queued",
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for i in range(count)
    ]
    ids: list[int] = []
    for start in range(0, count, 300):
        ids += [row["id"] for row in await Message.insert(*rows[start : start + 300]).returning(Message.id)]
    return ids
