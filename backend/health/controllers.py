from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from litestar import Response, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from backend.core import database
from backend.core.queue import HEARTBEAT_INTERVAL_S, live_heartbeats
from backend.core.schemas import Output

CHECK_TIMEOUT_S = 2.0


class Check(Output):
    ok: bool
    latency_ms: float | None = None
    error: str | None = None


class WorkerCheck(Output):
    alive: bool
    detail: str | None = None
    """The heartbeat of one live worker process (arq's job counts), or why none is alive."""
    processes: int = 0
    """Worker processes with a live heartbeat, on every host sharing this Redis."""


class HealthOut(Output):
    status: str
    """``ok`` when the database and Redis both answer, else ``unavailable``."""
    database: Check
    redis: Check
    worker: WorkerCheck
    """Informational: a worker writes a heartbeat every few seconds; the api works without one."""


async def _timed(check: Awaitable[object]) -> Check:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT_S)
    except Exception as exc:
        return Check(ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
    return Check(ok=True, latency_ms=round((time.perf_counter() - started) * 1000, 2))


@get(
    "/health",
    exclude_from_auth=True,
    tags=["health"],
    summary="Database, Redis and worker reachability",
    responses={
        HTTP_503_SERVICE_UNAVAILABLE: ResponseSpec(
            data_container=HealthOut, description="The database or Redis does not answer"
        )
    },
)
async def health(state: State) -> Response[HealthOut]:
    queue = state.queue
    db_check, redis_check = await asyncio.gather(_timed(database.ping()), _timed(queue.ping()))
    worker = WorkerCheck(alive=False, detail="no worker heartbeat in Redis")
    if redis_check.ok:
        beats = await live_heartbeats(queue, within_s=HEARTBEAT_INTERVAL_S * 2 + 1)
        if beats:
            worker = WorkerCheck(alive=True, detail=beats[0].decode(errors="replace"), processes=len(beats))
    healthy = db_check.ok and redis_check.ok
    body = HealthOut(
        status="ok" if healthy else "unavailable", database=db_check, redis=redis_check, worker=worker
    )
    return Response(body, status_code=HTTP_200_OK if healthy else HTTP_503_SERVICE_UNAVAILABLE)
