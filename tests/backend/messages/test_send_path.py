"""The send path's per-process state and its statements, seen from real send jobs in a real arq worker
(real Redis, the test database on either engine, the fake WhatsApp server): nothing mocked.

- Two send jobs in one worker share one :class:`~backend.messages.tasks.SendPath`: one chunk limit (seen
  in the database as the number of messages ``sending`` at once), one SQLite write lock and connection
  or PostgreSQL session, one sender cache.
- Two workers (``--processes 2``) share a backlog of send jobs instead of one taking all of it.
- The sender cache: an edited sender is used from the next send on, a deleted one fails its messages.
- The claim and write-back statements give the same rows on SQLite (bound values) and PostgreSQL
  (arrays through asyncpg).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.backend.messages.helpers import make_sender, message_row, queued_messages, send
from tests.fakes.providers import reply

PER_JOB = 450
"""Nine chunks per job: alone, each job would fill every one of the process's chunk slots."""


def _on_sqlite() -> bool:
    from piccolo.engine.sqlite import SQLiteEngine

    from backend.core.database import current_engine

    return isinstance(current_engine(), SQLiteEngine)


async def _wa_sender(client, tenant, fake, **extra) -> dict:
    return await make_sender(client, tenant, "whatsapp_cloud", config=fake.config("whatsapp_cloud"), **extra)


def _slow_answers(count: int, delay: float) -> list[Any]:
    """WhatsApp's success body, each after ``delay`` seconds: chunks stay in flight long enough to count."""
    return [
        reply(
            json={
                "messaging_product": "whatsapp",
                "contacts": [{"input": "+1", "wa_id": "1"}],
                "messages": [{"id": f"wamid.slow{i}"}],
            },
            delay=delay,
        )
        for i in range(count)
    ]


async def test_two_send_jobs_of_one_worker_share_its_chunk_limit_lock_session_and_senders(
    client, tenant, redis_url, fake_providers
):
    """arq copies the context per job: what bounds and serialises the send path must be the process's.

    Two jobs of nine chunks each run at once. Per-job chunk slots would let 16 chunks (800 messages) be
    ``sending`` together; the process's slots let 8. Per-job SQLite sessions would each open a
    connection (and, sharing none, leave the process's unused); per-job write locks on the shared
    connection would let two chunks' transactions collide and fail their jobs.
    """
    from arq import func
    from arq.jobs import Job

    from backend.core.queue import connect_queue
    from backend.messages.dispatch import CHUNK_SIZE, CHUNKS_IN_FLIGHT
    from backend.messages.tables import Message
    from backend.messages.tasks import SEND_JOB_TIMEOUT_S, SEND_PATH_KEY, SendPath, send_messages
    from backend.worker import FUNCTIONS, build_worker

    sender = await _wa_sender(
        client, tenant, fake_providers, rate_limit_per_second=1000
    )  # the most a sender may have
    ids = await queued_messages(tenant.id, sender["id"], 2 * PER_JOB)
    fake_providers.script("whatsapp", *_slow_answers(len(ids), delay=0.2))
    queue = await connect_queue(redis_url)
    for n, part in enumerate((ids[:PER_JOB], ids[PER_JOB:]), start=1):
        await queue.enqueue_job("send_messages", part, _job_id=f"shared-path-{n}")

    seen: list[SendPath] = []

    async def recorded_send(ctx: dict[str, Any], message_ids: list[int]) -> dict[str, int]:
        """The real send job; only notes which SendPath its context held."""
        seen.append(ctx[SEND_PATH_KEY])
        return await send_messages(ctx, message_ids)

    worker = build_worker(
        redis_url,
        burst=True,
        functions=[*FUNCTIONS, func(recorded_send, name="send_messages", timeout=SEND_JOB_TIMEOUT_S)],
    )
    sending_at_once = 0

    async def watch() -> None:
        nonlocal sending_at_once
        while True:
            sending = await Message.count().where(
                (Message.workspace == tenant.id) & (Message.status == "sending")
            )
            sending_at_once = max(sending_at_once, sending)
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    try:
        await worker.main()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await worker.close()
    results = [await Job(f"shared-path-{n}", queue).result_info() for n in (1, 2)]
    await queue.aclose()

    assert all(result is not None and result.success for result in results), results
    assert [result.result for result in results] == [{"sent": PER_JOB}, {"sent": PER_JOB}]
    first, second = results
    assert first.start_time < second.finish_time and second.start_time < first.finish_time  # overlapped
    sent_to = [request.body["to"] for request in fake_providers.sent("whatsapp")]
    assert len(sent_to) == len(set(sent_to)) == len(ids)  # each message once

    path: SendPath = worker.ctx[SEND_PATH_KEY]
    assert len(seen) == 2 and seen[0] is seen[1] is path
    assert CHUNK_SIZE < sending_at_once <= CHUNKS_IN_FLIGHT * CHUNK_SIZE
    assert path.senders.loads == 1  # one query for the sender, for both jobs
    session: Any = path.session
    assert session is not None
    # Every chunk's claim and write-back ran on the process's session (18 chunks, 2 statements or more).
    assert session.statements >= 2 * len(ids) // CHUNK_SIZE
    if _on_sqlite():
        assert isinstance(path.write_lock, asyncio.Lock)
        assert session.connects == 1 and session.connection is None  # one connection, closed with the worker
    else:
        assert path.write_lock is None


async def test_two_worker_processes_share_a_backlog_of_send_jobs(client, tenant, redis_url, fake_providers):
    """``flowgate worker --processes N``: a process leaves send jobs it cannot start yet to the others.

    arq takes up to 100 jobs at each poll, so without the intake the first worker to poll would take
    all twelve and the second would stand idle. (The bound is lowered from 32 chunks to 3 so that a
    small backlog shows it.) Two workers (one event loop, their own contexts, as two
    processes would have) take turns instead, and every message is still sent once.
    """
    from arq import func
    from arq.jobs import Job

    from backend.core.queue import connect_queue
    from backend.messages import tasks
    from backend.messages.dispatch import CHUNK_SIZE
    from backend.worker import FUNCTIONS, build_worker

    per_job, jobs = CHUNK_SIZE // 5, 12  # a job is one chunk
    held = 3  # a process holds at most three chunks
    sender = await _wa_sender(client, tenant, fake_providers)
    ids = await queued_messages(tenant.id, sender["id"], jobs * per_job)
    # Answers slower than a poll: a process cannot work off its share before the other one looks.
    fake_providers.script("whatsapp", *_slow_answers(len(ids), delay=0.15))
    queue = await connect_queue(redis_url)
    for n in range(jobs):
        await queue.enqueue_job(
            "send_messages", ids[n * per_job : (n + 1) * per_job], _job_id=f"send:backlog-{n}"
        )

    taken: list[list[int]] = [[], []]

    def counted(n: int) -> Any:
        async def send_messages(ctx: dict[str, Any], message_ids: list[int]) -> dict[str, int]:
            taken[n].append(len(message_ids))
            return await tasks.send_messages(ctx, message_ids)

        return func(send_messages, name="send_messages", timeout=tasks.SEND_JOB_TIMEOUT_S)

    workers = [
        build_worker(
            redis_url, burst=True, functions=[*FUNCTIONS, counted(n)], ctx={tasks.CHUNKS_HELD_KEY: held}
        )
        for n in range(2)
    ]
    try:
        await asyncio.gather(*(worker.main() for worker in workers))
    finally:
        for worker in workers:
            await worker.close()
    results = [await Job(f"send:backlog-{n}", queue).result_info() for n in range(jobs)]
    await queue.aclose()

    assert all(result is not None and result.success for result in results), results
    assert sum(result.result["sent"] for result in results) == len(ids)
    sent_to = [request.body["to"] for request in fake_providers.sent("whatsapp")]
    assert len(sent_to) == len(set(sent_to)) == len(ids)
    shares = sorted(len(each) for each in taken)
    assert sum(shares) == jobs and shares[0] >= jobs // 4, shares


async def test_a_worker_full_of_send_jobs_still_takes_other_jobs(client, tenant, redis_url, fake_providers):
    """Only send jobs wait for the process's send work to drain: a job of another kind queued behind a
    backlog of them (a run's step, a webhook delivery) is taken at once, not after the sends."""
    from arq import func
    from arq.jobs import Job

    from backend.core.queue import connect_queue
    from backend.messages import tasks
    from backend.messages.dispatch import CHUNK_SIZE
    from backend.messages.service import batch_job_id
    from backend.worker import FUNCTIONS, build_worker

    sender = await _wa_sender(client, tenant, fake_providers)
    per_job = CHUNK_SIZE // 5  # a job is one chunk
    ids = await queued_messages(tenant.id, sender["id"], 6 * per_job)
    fake_providers.script("whatsapp", *_slow_answers(len(ids), delay=0.05))
    queue = await connect_queue(redis_url)
    batches = [ids[n * per_job : (n + 1) * per_job] for n in range(6)]
    for batch in batches:
        await queue.enqueue_job("send_messages", batch, _job_id=batch_job_id(batch))
    await queue.enqueue_job("probe", _job_id="probe-behind-the-sends")

    async def probe(ctx: dict[str, Any]) -> None:
        return None

    worker = build_worker(
        redis_url,
        burst=True,
        functions=[*FUNCTIONS, func(probe, name="probe")],
        ctx={tasks.CHUNKS_HELD_KEY: 1},
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    probed = await Job("probe-behind-the-sends", queue).result_info()
    sends = [await Job(batch_job_id(batch), queue).result_info() for batch in batches]
    await queue.aclose()

    assert probed is not None and all(send is not None and send.result == {"sent": per_job} for send in sends)
    started = sorted(send.start_time for send in sends)
    # Taken while the first send jobs held the process (a job counts once its function runs, so the one
    # taken in the same poll as the first slips through), not after the four others.
    assert probed.start_time < started[2]


async def _settled(message_id: int) -> dict[str, Any]:
    """The message once the worker is done with it (within 15 s)."""
    async with asyncio.timeout(15):
        while True:
            row = await message_row(message_id)
            if row["status"] not in ("queued", "sending"):
                return row
            await asyncio.sleep(0.05)


async def test_an_edited_sender_is_used_at_once_and_a_deleted_one_fails_its_messages(
    client, tenant, redis_url, fake_providers
):
    """One long-lived worker (one sender cache) across the edit and the deletion."""
    from backend.core.queue import connect_queue
    from backend.messages.tasks import SEND_PATH_KEY, SendPath
    from backend.runs.tasks import TICKERS_KEY
    from backend.worker import build_worker

    sender = await _wa_sender(client, tenant, fake_providers)
    worker = build_worker(redis_url, handle_signals=False, poll_delay=0.05, ctx={TICKERS_KEY: False})
    running = asyncio.create_task(worker.main())
    try:
        first = (await send(client, tenant, sender["id"], to="+351911000001")).json()
        assert (await _settled(first["id"]))["status"] == "sent"
        second = (await send(client, tenant, sender["id"], to="+351911000002")).json()
        assert (await _settled(second["id"]))["status"] == "sent"
        path: SendPath = worker.ctx[SEND_PATH_KEY]
        assert path.senders.loads == 1  # the second job used the row the first one loaded

        patched = await client.patch(
            f"/api/v1/senders/{sender['id']}",
            json={"config": {"phone_number_id": "555000111"}},
            headers=tenant.headers(),
        )
        assert patched.status_code == 200, patched.text
        third = (await send(client, tenant, sender["id"], to="+351911000003")).json()
        assert (await _settled(third["id"]))["status"] == "sent"
        paths = {request.body["to"].lstrip("+"): request.path for request in fake_providers.sent("whatsapp")}
        assert "/555000111/" not in paths["351911000002"]
        assert "/555000111/" in paths["351911000003"]  # the edit took effect for the very next send
        assert path.senders.loads == 2

        # Queued while the sender still exists (its row warm in the cache), sent after its deletion.
        [fourth] = await queued_messages(tenant.id, sender["id"], 1, first=4)
        deleted = await client.delete(f"/api/v1/senders/{sender['id']}", headers=tenant.headers())
        assert deleted.status_code == 204, deleted.text
        queue = await connect_queue(redis_url)
        await queue.enqueue_job("send_messages", [fourth], _job_id="after-delete")
        await queue.aclose()
        row = await _settled(fourth)
        assert (row["status"], row["failure_reason"]) == ("failed", "sender_unavailable")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await worker.close()
    assert len(fake_providers.sent("whatsapp")) == 3


async def test_claim_and_write_back_on_the_worker_session_give_the_same_rows_on_both_engines(
    client, tenant, redis
):
    """The statements as the worker runs them (SQLite: bound values; PostgreSQL: one array per column,
    straight through asyncpg): each outcome lands as written, and only rows still ``sending`` change."""
    from backend.messages import dispatch
    from backend.messages.tasks import SEND_PATH_KEY, startup

    sender = await make_sender(client, tenant)
    ids = await queued_messages(tenant.id, sender["id"], 5)
    ctx: dict[str, Any] = {"redis": redis}
    async with contextlib.AsyncExitStack() as stack:
        await startup(ctx, stack)
        session = ctx[SEND_PATH_KEY].session
        now = datetime.now(UTC)
        claimed = await dispatch.claim([*ids, ids[0]], now, session=session)
        assert sorted(row["id"] for row in claimed) == ids
        assert all(row["sender_version"] is not None for row in claimed)
        assert await dispatch.claim(ids, now, session=session) == []  # claimed once
        await dispatch.release([ids[4]], session=session)
        later = now + timedelta(minutes=5)
        outcomes = [
            dispatch.Outcome(ids[0], "sent", provider_message_id="wamid.A", attempted=True),
            dispatch.Outcome(
                ids[1], "failed", "rejected", error_code="131026", error_message="no", attempted=True
            ),
            dispatch.Outcome(ids[2], "queued", next_attempt_at=later, error_code="429", attempted=True),
            dispatch.Outcome(ids[3], "unknown", error_message="timeout", attempted=True),
            dispatch.Outcome(ids[4], "sent", provider_message_id="wamid.E", attempted=True),  # released
        ]
        changed = await dispatch.write_back(outcomes, session=session, now=now)
    assert sorted(row["id"] for row in changed) == ids[:4]
    assert {row["id"]: row["status"] for row in changed} == {
        ids[0]: "sent",
        ids[1]: "failed",
        ids[2]: "queued",
        ids[3]: "unknown",
    }
    rows = {i: await message_row(i) for i in ids}
    got = {
        i: (
            row["status"],
            row["failure_reason"],
            row["error_code"],
            row["error_message"],
            row["provider_message_id"],
            row["attempts"],
            row["lease_until"],
            row["sent_at"] is not None,
            row["failed_at"] is not None,
        )
        for i, row in rows.items()
    }
    assert got == {
        ids[0]: ("sent", None, None, None, "wamid.A", 1, None, True, False),
        ids[1]: ("failed", "rejected", "131026", "no", None, 1, None, False, True),
        ids[2]: ("queued", None, "429", None, None, 1, None, False, False),
        ids[3]: ("unknown", None, None, "timeout", None, 1, None, False, False),
        ids[4]: ("queued", None, None, None, None, 0, None, False, False),
    }
    assert rows[ids[2]]["next_attempt_at"] == later
