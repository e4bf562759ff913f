"""Worker jobs of outbound webhooks (registered in backend/worker.py through FUNCTIONS and CRON_JOBS).

``deliver_webhook`` makes one attempt of one delivery (see :mod:`backend.webhooks.delivery`); the api
enqueues it through :func:`backend.webhooks.service.dispatch`, and it re-enqueues itself, deferred, for
retries. ``sweep_webhook_deliveries`` runs every minute and enqueues what is overdue, so a job lost in
Redis delays a delivery by a minute or two but never loses it.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Any

import httpx
from arq import cron

from backend.webhooks import delivery

log = logging.getLogger(__name__)

HTTP_CLIENT_KEY = "webhook_http"
RETRY_DELAYS_KEY = "webhook_retry_delays"
"""Optional worker ctx entry: seconds between attempts, replacing :data:`delivery.RETRY_DELAYS` (tests)."""


async def startup(ctx: dict[str, Any], stack: contextlib.AsyncExitStack) -> None:
    """One client per worker process, made at start-up (arq copies ``ctx`` per job, so a client a job
    made would be that job's alone): connections to a receiver are reused across deliveries."""
    client = httpx.AsyncClient(
        headers={"User-Agent": "Flowgate-Webhooks/1"},
        follow_redirects=False,
        timeout=delivery.SEND_TIMEOUT_S,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )
    stack.push_async_callback(client.aclose)
    ctx[HTTP_CLIENT_KEY] = client


def _delays(ctx: dict[str, Any]) -> tuple[timedelta, ...]:
    configured = ctx.get(RETRY_DELAYS_KEY)
    if configured is None:
        return delivery.RETRY_DELAYS
    return tuple(timedelta(seconds=float(seconds)) for seconds in configured)


async def deliver_webhook(ctx: dict[str, Any], delivery_id: int, attempts_made: int | None = None) -> str:
    """One attempt of one delivery; a no-op when it is already done, not due, or claimed elsewhere.

    ``attempts_made``: the attempts already made when this job was enqueued (retries and the sweeper
    pass it; the api's first job, from :func:`backend.webhooks.service.dispatch`, does not).
    """
    outcome = await delivery.deliver(
        delivery_id,
        client=ctx[HTTP_CLIENT_KEY],
        queue=ctx.get("redis"),
        delays=_delays(ctx),
        attempts_made=attempts_made,
    )
    return outcome.status


async def sweep_webhook_deliveries(ctx: dict[str, Any]) -> int:
    enqueued = await delivery.sweep(ctx["redis"])
    if enqueued:
        log.info("re-enqueued %d overdue webhook deliveries", enqueued)
    return enqueued


FUNCTIONS: list = [deliver_webhook, sweep_webhook_deliveries]
CRON_JOBS: list = [cron(sweep_webhook_deliveries, second={20}, unique=True, timeout=50)]
