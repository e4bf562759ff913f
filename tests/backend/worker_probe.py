"""Run two jobs in one real worker and report the identity of a context entry each of them saw.

arq hands every job a copy of the worker's context; what a process must share is only shared when the
worker's start-up made it. This probe proves it from inside real jobs, the way a send or webhook job sees
its context, instead of inspecting the worker from outside.
"""

from __future__ import annotations

from typing import Any


async def shared_objects(redis_url: str, key: str) -> tuple[int, int, bool]:
    """``(id seen by job 1, id seen by job 2, closed after shutdown)`` for ``ctx[key]``."""
    from arq import func

    from backend.core.queue import connect_queue
    from backend.worker import FUNCTIONS, build_worker

    seen: list[Any] = []

    async def probe(ctx: dict[str, Any]) -> None:
        seen.append(ctx[key])

    queue = await connect_queue(redis_url)
    await queue.enqueue_job("probe", _job_id="probe-1")
    await queue.enqueue_job("probe", _job_id="probe-2")
    await queue.aclose()
    worker = build_worker(redis_url, burst=True, functions=[*FUNCTIONS, func(probe, name="probe")])
    try:
        await worker.main()
    finally:
        await worker.close()
    assert len(seen) == 2, "both probe jobs should have run"
    target = seen[0]
    closed = bool(
        getattr(target, "is_closed", False)
        or (getattr(target, "session", None) is not None and target.session.connection is None)
    )
    return id(seen[0]), id(seen[1]), closed
