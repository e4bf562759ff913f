"""The arq job queue on Redis: one pool per process, used both to enqueue jobs and as the Redis client."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from arq.jobs import Job

QUEUE_NAME = "arq:queue"
HEALTH_CHECK_KEY = QUEUE_NAME + ":health-check"
"""The prefix of the workers' heartbeat keys: one key per worker process (:func:`health_check_key`)."""
HEARTBEAT_INTERVAL_S = 5
"""How often a worker process writes its heartbeat (arq's ``health_check_interval``)."""


def health_check_key() -> str:
    """This process's heartbeat key. arq deletes its key when a worker stops cleanly, so processes that
    shared one would each erase the others' heartbeat until their next beat (up to 5 s of "no worker")."""
    return f"{HEALTH_CHECK_KEY}:{socket.gethostname()}:{os.getpid()}"


def redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 3
    return settings


async def connect_queue(url: str) -> ArqRedis:
    return await create_pool(redis_settings(url), default_queue_name=QUEUE_NAME)


AHEAD_BY = timedelta(hours=12)


async def enqueue_ahead(queue: ArqRedis, function: str, *args: Any, _job_id: str) -> Job | None:
    """Enqueue a job that must not wait behind the queue's backlog (an inbound STOP during a campaign).

    arq has no priorities: workers take due jobs in the order of their score, the time they became due,
    so a reply enqueued during a large send waited until every send job queued before it had been taken
    (measured with bench/campaign.py on SQLite: 7.8 s from STOP to block). Scored 12 hours in the past,
    this job comes before anything queued in the last 12 hours (a rate-limited million-message campaign
    queues its sends for hours), and jobs enqueued this way keep their own order among themselves (a
    STOP and the START after it). arq keeps a job for a day past its score, so such a job lapses after
    12 hours unworked: the callers' sweepers enqueue it again. arq's log line of a job's time in the queue
    (at INFO, shown when debugging) counts the 12 hours.
    """
    ahead = datetime.now(UTC) - AHEAD_BY
    return await queue.enqueue_job(function, *args, _job_id=_job_id, _defer_until=ahead)


HEARTBEATS_KEY = HEALTH_CHECK_KEY + "s"
"""A sorted set of the worker processes' heartbeat keys, scored by when each last registered."""


async def register_heartbeat(queue: ArqRedis, key: str, now: float) -> None:
    """Note a worker process's heartbeat key (on each beat), so ``/health`` reads the live ones without
    scanning Redis. Entries older than a minute are dropped here: a process killed without a clean stop."""
    async with queue.pipeline(transaction=False) as pipe:
        pipe.zadd(HEARTBEATS_KEY, {key: now})
        pipe.zremrangebyscore(HEARTBEATS_KEY, "-inf", now - 60)
        await pipe.execute()


async def live_heartbeats(queue: ArqRedis, within_s: float) -> list[bytes]:
    """The heartbeats of the worker processes that registered within ``within_s`` and still have one
    (arq deletes its key on a clean stop and lets it expire a second after a missed beat)."""
    now = datetime.now(UTC).timestamp()
    keys = await queue.zrangebyscore(HEARTBEATS_KEY, now - within_s, "+inf")
    if not keys:
        return []
    return [beat for beat in await queue.mget(keys) if beat]
