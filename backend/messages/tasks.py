"""Worker jobs of the outbound pipeline (registered in backend/worker.py through FUNCTIONS/CRON_JOBS).

``send_messages`` sends a batch of stored messages (see :mod:`backend.messages.dispatch`); the api and
other domains enqueue it through :func:`backend.messages.service.enqueue_sends`. ``reconcile_messages``
runs every minute (arq skips unique crons more frequent than that) and repairs what Redis lost.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq import cron, func
from piccolo.engine.sqlite import SQLiteEngine

from backend.core.database import current_engine
from backend.messages.dispatch import BACKOFF_BASE_S, CHUNKS_IN_FLIGHT, Dispatcher
from backend.messages.ratelimit import RateLimiter
from backend.messages.reconcile import reconcile
from backend.messages.sqlite_session import SqliteSession

log = logging.getLogger(__name__)

PROVIDERS_KEY = "providers"
LIMITER_KEY = "send_limiter"
SHARED_KEY = "send_shared"
BACKOFF_KEY = "send_backoff_base_s"
"""Optional ctx entry: the retry backoff's base in seconds, replacing the default minute (tests)."""
SEND_JOB_TIMEOUT_S = 120
"""Short-ish (FIELD-NOTES: after a SIGKILL arq re-runs a job only once this + 10 s has passed; the
reconciler re-enqueues its queued messages after a minute anyway). A job's 500 messages wait their turn
for the process's chunk slots behind the jobs started before it, so it must cover a full worker's queue."""


def _process_wide(ctx: dict[str, Any]) -> tuple[asyncio.Semaphore, asyncio.Lock | None, Any]:
    """The worker process's chunk slots and, on SQLite, its write lock and its own connection (made on
    first use, in the worker's loop; the connection is closed with the worker)."""
    shared = ctx.get(SHARED_KEY)
    if shared is None:
        engine = current_engine()
        lock = session = None
        if isinstance(engine, SQLiteEngine):
            lock, session = asyncio.Lock(), SqliteSession(engine)
            stack = ctx.get("exit_stack")
            if stack is not None:
                stack.push_async_callback(session.aclose)
        shared = ctx[SHARED_KEY] = (asyncio.Semaphore(CHUNKS_IN_FLIGHT), lock, session)
    return shared


def _limiter(ctx: dict[str, Any]) -> RateLimiter:
    limiter = ctx.get(LIMITER_KEY)
    if limiter is None:
        limiter = ctx[LIMITER_KEY] = RateLimiter(ctx["redis"])
    return limiter


async def send_messages(ctx: dict[str, Any], message_ids: list[int]) -> dict[str, int]:
    """Send the still-queued, due messages among ``message_ids``; the others are skipped (idempotent)."""
    slots, write_lock, session = _process_wide(ctx)
    dispatcher = Dispatcher(
        slots=slots,
        write_lock=write_lock,
        session=session,
        providers=ctx[PROVIDERS_KEY],
        queue=ctx["redis"],
        limiter=_limiter(ctx),
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
