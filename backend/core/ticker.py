"""Work a worker does every few seconds, beside its jobs: due timers, due campaigns.

arq's cron cannot run a unique job more often than once a minute (FIELD-NOTES, arq#459), and a timer or
a campaign start should not wait that long. Each ticker is a task of the worker process, started by a
domain's ``startup`` and cancelled with the worker. Every worker runs them: what they do is claimed in
the database (one worker wins each timer or trigger), so more workers mean no double work, only spare
pollers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


def start(
    stack: contextlib.AsyncExitStack, name: str, interval_s: float, tick: Callable[[], Awaitable[bool]]
) -> asyncio.Task:
    """Run ``tick`` every ``interval_s`` seconds until the worker stops; again at once while it returns
    True (it found a full batch). A failing tick is logged and tried again at the next interval."""

    async def loop() -> None:
        while True:
            try:
                more = await tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ticker %s failed; trying again in %.0f s", name, interval_s)
                more = False
            if not more:
                await asyncio.sleep(interval_s)

    task = asyncio.create_task(loop(), name=f"ticker:{name}")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
    return task
