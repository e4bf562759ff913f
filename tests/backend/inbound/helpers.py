"""Shared steps of the inbound tests: senders pointed at the fakes, posting webhooks, running the worker."""

from __future__ import annotations

from typing import Any

from tests.backend.senders.helpers import body

REPLIES = {
    "confirmation_message": "You are unsubscribed. Reply START to opt back in.",
    "opt_in_confirmation_message": "Welcome back!",
    "help_reply": "Acme help: call 800 000 000.",
}
CONTACT = "+351912000001"
"""The contact's E.164 number used across the tests (a valid Portuguese mobile)."""


async def make_sender(client, tenant, preset: str, fake=None, **changes: Any) -> dict[str, Any]:
    """A sender of ``preset`` whose API base is the fake provider, with keyword replies configured."""
    values: dict[str, Any] = {**REPLIES, **changes}
    if fake is not None and preset != "sandbox":
        values["config"] = fake.config(preset, **values.pop("config", {}))
    response = await client.post("/api/v1/senders", json=body(preset, **values), headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()


async def post_webhook(client, sender_id: int, webhook, *, path: str | None = None) -> Any:
    body_bytes, headers = webhook
    return await client.post(path or f"/webhooks/{sender_id}", content=body_bytes, headers=headers)


def webhook_url(sender_id: int) -> str:
    """The URL the ASGI test client reaches the webhook at (what an SMS provider signs)."""
    return f"http://testserver.local/webhooks/{sender_id}"


async def run_worker(redis_url: str, **ctx: Any) -> None:
    """Process every queued job in this event loop (arq burst mode), retries without delay."""
    from backend.inbound.tasks import RETRY_DELAYS_KEY
    from backend.worker import build_worker

    worker = build_worker(redis_url, burst=True, ctx={"db_pool_size": 5, RETRY_DELAYS_KEY: [0], **ctx})
    try:
        await worker.main()
    finally:
        await worker.close()


async def events(sender_id: int | None = None) -> list[dict[str, Any]]:
    from backend.inbound.tables import InboundEvent

    query = InboundEvent.select().order_by(InboundEvent.id).output(load_json=True)
    if sender_id is not None:
        query = query.where(InboundEvent.sender == sender_id)
    return await query


async def messages(**where: Any) -> list[dict[str, Any]]:
    from backend.messages.tables import Message

    query = Message.select().order_by(Message.id).output(load_json=True)
    for column, value in where.items():
        query = query.where(getattr(Message, column) == value)
    return await query


async def opt_outs(address: str = CONTACT) -> list[dict[str, Any]]:
    from backend.consent.tables import OptOutEntry

    return await (
        OptOutEntry.select()
        .where((OptOutEntry.address == address) & OptOutEntry.revoked_at.is_null())
        .order_by(OptOutEntry.id)
    )


async def contacts() -> list[dict[str, Any]]:
    from backend.audience.tables import Contact

    return await Contact.select().order_by(Contact.id)


class RecordingRuntime:
    """A conversation runtime that remembers what it was handed (installed with set_runtime)."""

    def __init__(self) -> None:
        self.replies: list[Any] = []

    async def on_inbound(self, reply: Any) -> None:
        self.replies.append(reply)
