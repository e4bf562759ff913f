"""Worker jobs of the outbound pipeline (registered in backend/worker.py through FUNCTIONS/CRON_JOBS).

``send_messages`` sends a batch of stored messages (see :mod:`backend.messages.dispatch`); the api and
other domains enqueue it through :func:`backend.messages.service.enqueue_sends`. ``reconcile_messages``
runs every minute (arq skips unique crons more frequent than that) and repairs what Redis lost.

arq hands every job a fresh *copy* of the worker's context, so what all send jobs of a process must share
(the chunk slots, SQLite's write lock and connection or the PostgreSQL session, the rate limiter, the
sender rows) is made once by :func:`startup` and kept in the worker's own context as one
:class:`SendPath`; a job never creates it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from arq import cron, func
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from backend.core.database import current_engine
from backend.messages.dispatch import BACKOFF_BASE_S, CHUNK_SIZE, CHUNKS_IN_FLIGHT, Dispatcher, SenderCache
from backend.messages.pg_session import PostgresSession
from backend.messages.ratelimit import RateLimiter
from backend.messages.reconcile import reconcile
from backend.messages.service import SEND_JOB_PREFIX
from backend.messages.sqlite_session import SqliteSession

log = logging.getLogger(__name__)

_SEND_JOB_PREFIX = SEND_JOB_PREFIX.encode()

PROVIDERS_KEY = "providers"
SEND_PATH_KEY = "send_path"
BACKOFF_KEY = "send_backoff_base_s"
"""Optional ctx entry: the retry backoff's base in seconds, replacing the default minute (tests)."""
CHUNKS_HELD = 4 * CHUNKS_IN_FLIGHT
"""Chunks in hand (in its running send jobs, not yet done) at which a process leaves further send jobs to
the other processes (:func:`holds_back`): four rounds of its chunk slots, about 1,600 messages, enough to
keep the slots busy through the worker's next poll (0.2 s) at the pipeline's full speed."""
CHUNKS_HELD_KEY = "send_chunks_held"
"""Optional ctx entry replacing :data:`CHUNKS_HELD` (tests: a backlog of a few chunks)."""
SEND_JOB_TIMEOUT_S = 120
"""Short-ish (FIELD-NOTES: after a SIGKILL arq re-runs a job only once this + 10 s has passed; the
reconciler re-enqueues its queued messages after a minute anyway). A job's 500 messages wait their turn
for the process's chunk slots behind the jobs started before it, so it must cover a full worker's queue."""


@dataclass
class SendPath:
    """What every send job of one worker process shares."""

    slots: asyncio.Semaphore
    """At most :data:`CHUNKS_IN_FLIGHT` chunks claimed at once in this process, across all its jobs:
    a large backlog is claimed a few chunks at a time, well inside each claim's lease."""
    limiter: RateLimiter
    senders: SenderCache = field(default_factory=SenderCache)
    """Sender rows, reloaded only when a claim sees that one changed (no query per job)."""
    write_lock: asyncio.Lock | None = None
    """SQLite only: the process's send statements queue here, not in SQLite's busy-wait."""
    session: SqliteSession | PostgresSession | None = None
    """Where the claim, gate and write-back statements run: on SQLite one connection; on PostgreSQL
    the pool, straight through asyncpg (no Piccolo query compilation per statement)."""
    chunks_held: int = 0
    """Chunks of this process's running send jobs not yet done (waiting for a slot or in one)."""
    starting: set[str] = field(default_factory=set)
    """Send jobs taken whose function has not started yet (each counts as one chunk in hand)."""
    chunks_held_limit: int = CHUNKS_HELD

    def saturated(self) -> bool:
        """Enough send work is in hand: another send job taken now would only wait here for a slot."""
        return self.chunks_held + len(self.starting) >= self.chunks_held_limit


async def startup(ctx: dict[str, Any], stack: contextlib.AsyncExitStack) -> None:
    """Make the process's :class:`SendPath` (called once by the worker's start-up, in its event loop)."""
    engine = current_engine()
    path = SendPath(
        slots=asyncio.Semaphore(CHUNKS_IN_FLIGHT),
        limiter=RateLimiter(ctx["redis"]),
        chunks_held_limit=int(ctx.get(CHUNKS_HELD_KEY, CHUNKS_HELD)),
    )
    if isinstance(engine, SQLiteEngine):
        path.write_lock, path.session = asyncio.Lock(), SqliteSession(engine)
        stack.push_async_callback(path.session.aclose)
    elif isinstance(engine, PostgresEngine):
        path.session = PostgresSession(engine)
    ctx[SEND_PATH_KEY] = path


async def send_messages(ctx: dict[str, Any], message_ids: list[int]) -> dict[str, int]:
    """Send the still-queued, due messages among ``message_ids``; the others are skipped (idempotent)."""
    path: SendPath = ctx[SEND_PATH_KEY]
    path.starting.discard(ctx.get("job_id", ""))
    chunks = -(-len(set(message_ids)) // CHUNK_SIZE)
    path.chunks_held += chunks
    done = 0

    def chunk_done() -> None:
        nonlocal done
        done += 1
        path.chunks_held -= 1

    try:
        return await _send(ctx, path, message_ids, chunk_done)
    finally:
        path.chunks_held -= chunks - done  # chunks that never ran (the job failed or was cancelled first)


def holds_back(ctx: dict[str, Any], job_id: bytes) -> bool:
    """Asked by the worker before it takes a job (:class:`backend.worker.FlowgateWorker`): a send job
    stays queued, for another process, while this one has enough send work in hand. Other jobs (an
    inbound STOP, a run's step, a webhook) are never held back by sends."""
    path: SendPath | None = ctx.get(SEND_PATH_KEY)
    return path is not None and path.saturated() and job_id.startswith(_SEND_JOB_PREFIX)


def taken(ctx: dict[str, Any], job_id: bytes, task: asyncio.Task[Any]) -> None:
    """Told by the worker the moment it takes a job: a send job counts before its function runs, so
    the jobs taken in the same poll see it (:meth:`SendPath.saturated`)."""
    path: SendPath | None = ctx.get(SEND_PATH_KEY)
    if path is None or not job_id.startswith(_SEND_JOB_PREFIX):
        return
    key = job_id.decode()
    path.starting.add(key)
    task.add_done_callback(lambda _: path.starting.discard(key))  # it never reached its function


async def _send(
    ctx: dict[str, Any], path: SendPath, message_ids: list[int], chunk_done: Callable[[], None]
) -> dict[str, int]:
    dispatcher = Dispatcher(
        chunk_done=chunk_done,
        slots=path.slots,
        write_lock=path.write_lock,
        session=path.session,
        senders=path.senders,
        providers=ctx[PROVIDERS_KEY],
        queue=ctx["redis"],
        limiter=path.limiter,
        backoff_base_s=float(ctx.get(BACKOFF_KEY, BACKOFF_BASE_S)),
    )
    return await dispatcher.run(message_ids)


async def reconcile_messages(ctx: dict[str, Any]) -> dict[str, int]:
    result = await reconcile(ctx["redis"])
    if any(result.values()):
        log.info("messages reconciled: %s", result)
    return result


FUNCTIONS: list = [func(send_messages, timeout=SEND_JOB_TIMEOUT_S), reconcile_messages]
CRON_JOBS: list = [cron(reconcile_messages, second={40}, unique=True, timeout=50)]
