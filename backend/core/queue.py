"""The arq job queue on Redis: one pool per process, used both to enqueue jobs and as the Redis client."""

from __future__ import annotations

import os
import socket

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings

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
