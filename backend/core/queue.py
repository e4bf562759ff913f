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


AHEAD_AT_MOST = timedelta(hours=1)


async def enqueue_ahead(queue: ArqRedis, function: str, *args: Any, _job_id: str) -> Job | None:
    """Enqueue a job that must not wait behind the queue's backlog (an inbound STOP during a campaign).

    arq has no priorities: workers take due jobs in the order of their score, the time they became due,
    so a reply enqueued during a large send waited until every send job queued before it had been taken
    (measured with bench/campaign.py on SQLite: 7.8 s from STOP to block). Scored just before the oldest
    job in the queue, this one is the first a worker takes at its next poll. At most an hour back: arq
    keeps a job for a day past its score. arq logs the time a job spent in the queue from its score, so
    such a job's log line counts the backlog it jumped.
    """
    now = datetime.now(UTC)
    oldest = await queue.zrange(QUEUE_NAME, 0, 0, withscores=True)
    due = now
    if oldest:
        due = min(now, datetime.fromtimestamp(oldest[0][1] / 1000 - 0.001, UTC))
    return await queue.enqueue_job(
        function, *args, _job_id=_job_id, _defer_until=max(due, now - AHEAD_AT_MOST)
    )
