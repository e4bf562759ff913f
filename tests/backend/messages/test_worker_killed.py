"""A worker process SIGKILLed mid-send: after a new worker and the reconciler, every message was sent at
most once (the fake's request log) and none is lost (each is sent or unknown, none left queued/sending)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import UTC, datetime, timedelta

from tests.backend.messages.helpers import make_sender
from tests.conftest import _TMP, flowgate_command, subprocess_env
from tests.fakes.providers import reply
from tests.fakes.webhooks import wamid


async def _until(condition, seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)


async def test_no_duplicate_and_nothing_lost_after_a_kill(client, tenant, redis_url, fake_providers):
    from backend.core.queue import connect_queue
    from backend.messages import service
    from backend.messages.dispatch import CHUNK_SIZE, CHUNKS_IN_FLIGHT
    from backend.messages.reconcile import reconcile
    from backend.messages.tables import Message
    from backend.worker import build_worker

    # More than a worker keeps in flight: some are mid-send at the kill, some still queued.
    count = CHUNKS_IN_FLIGHT * CHUNK_SIZE + 50
    sender = await make_sender(
        client, tenant, "whatsapp_cloud", config=fake_providers.config("whatsapp_cloud")
    )
    ok = [
        reply(200, {"messaging_product": "whatsapp", "messages": [{"id": wamid()}]}, delay=1.5)
        for _ in range(count)
    ]
    fake_providers.script("whatsapp", *ok)
    ids = []
    for i in range(count):
        row = await service.create_outbound(
            tenant.id, sender, to=f"+3519120{i:05d}", kind="transactional", text=f"m{i}"
        )
        ids.append(row["id"])
    # The first chunks go out and wait on the slow fake; the worker dies mid-send.
    queue = await connect_queue(redis_url)
    await service.enqueue_sends(queue, ids)

    process = await asyncio.create_subprocess_exec(
        *flowgate_command("worker"),
        env=subprocess_env(FLOWGATE_REDIS_URL=redis_url),
        cwd=_TMP,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await _until(lambda: len(fake_providers.sent("whatsapp")) >= 5)
        assert fake_providers.sent("whatsapp"), "the worker never sent"
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    reached_before_kill = {request.body["to"].lstrip("+") for request in fake_providers.sent("whatsapp")}

    await reconcile(queue, now=datetime.now(UTC) + timedelta(minutes=5))
    await queue.aclose()
    worker = build_worker(redis_url, handle_signals=False)
    task = asyncio.create_task(worker.main())
    try:
        for _ in range(150):
            if not await Message.count().where(Message.status.is_in(["queued", "sending"])):
                break
            await asyncio.sleep(0.2)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()

    rows = await Message.select(Message.address, Message.status).where(Message.id.is_in(ids))
    per_address: dict[str, int] = {}
    for request in fake_providers.sent("whatsapp"):
        per_address[request.body["to"]] = per_address.get(request.body["to"], 0) + 1
    assert max(per_address.values()) == 1  # at most once
    assert {row["status"] for row in rows} <= {"sent", "unknown"}  # nothing lost or stuck
    for row in rows:
        to = row["address"]
        if row["status"] == "sent":
            assert per_address.get(to, per_address.get(to.lstrip("+"))) == 1
    in_flight = {row["address"].lstrip("+") for row in rows if row["status"] == "unknown"}
    assert in_flight >= reached_before_kill  # what the provider had when the worker died: never resent
    assert any(row["status"] == "sent" for row in rows)  # the never-claimed ones went out afterwards
