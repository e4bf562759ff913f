"""Worker jobs of runs (registered in backend/worker.py through FUNCTIONS and CRON_JOBS).

``drive_runs`` steps a batch of runs (:func:`backend.runs.engine.drive`); ``call_http`` makes a flow's
HTTP request off the batches' critical path and feeds the answer back; a ticker moves due timers into
the runs' inboxes every second; ``sweep_runs`` (every minute) re-enqueues what a lost job left behind.
:func:`startup` installs the conversation runtime and the send-failure observer for the process.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
from arq import Retry, cron, func

from backend.core import outbound, ticker
from backend.inbound.runtime import NoRuntime, get_runtime, set_runtime
from backend.messages import observers
from backend.runs import engine, inbox, poison, service
from backend.runs.flows import encode_event
from backend.runs.reply_clock import ReplyClock
from backend.runs.runtime import FlowRuntime
from backend.runs.tables import Run
from backend.workspaces.tables import Workspace
from flows.run import CallHttp, HttpResult, SendResult

log = logging.getLogger(__name__)

HTTP_CLIENT_KEY = "runs_http"
TICKERS_KEY = "tickers"
"""Worker ctx flag: run the tickers (off for ``--burst`` workers and tests that drive the clock)."""
TIMER_TICK_S = 1.0
DRIVE_JOB_TIMEOUT_S = 120
TRANSIENT_RETRY_S = 5.0
"""A drive job that met a busy or unreachable database runs again after this, times its try number."""
FAILURE_DRIVE_DELAY_S = 2.0
"""A run fed a send failure from inside the send path's transaction is driven this much later, once
that transaction has surely committed (the sweeper covers a slower one)."""


async def startup(ctx: dict[str, Any], stack: contextlib.AsyncExitStack) -> None:
    queue = ctx["redis"]
    client = httpx.AsyncClient(headers={"User-Agent": "Flowgate-Flows/1"}, follow_redirects=False)
    stack.push_async_callback(client.aclose)
    ctx[HTTP_CLIENT_KEY] = client
    if isinstance(get_runtime(), NoRuntime):  # a runtime installed on purpose (a test's) stays
        set_runtime(FlowRuntime(queue))
        stack.callback(set_runtime, None)
    for observer in (SendFailures(queue), ReplyClock()):
        observers.add(observer)
        stack.callback(observers.remove, observer)
    if ctx.get(TICKERS_KEY, True):

        async def fire_timers() -> bool:
            run_ids = await inbox.fire_due_timers()
            await service.enqueue_drive(queue, run_ids, f"t{int(datetime.now(UTC).timestamp())}")
            return len(run_ids) >= inbox.TIMER_BATCH

        ticker.start(stack, "run timers", TIMER_TICK_S, fire_timers)


async def drive_runs(ctx: dict[str, Any], run_ids: list[int]) -> dict[str, int]:
    """Step a batch of runs. A run that fails is counted and set aside by the engine; a busy or lost
    database fails the whole job instead, which arq runs again a little later (up to its ``max_tries``,
    then the sweeper's next pass finds the runs): no run is charged for the database's moment."""
    try:
        return await engine.drive(run_ids, queue=ctx["redis"])
    except Exception as exc:
        if not poison.is_transient(exc):
            raise
        tries = int(ctx.get("job_try") or 1)
        log.warning("driving %d runs failed for now (try %d): %s", len(run_ids), tries, poison.describe(exc))
        raise Retry(defer=TRANSIENT_RETRY_S * tries) from exc


async def call_http(ctx: dict[str, Any], run_id: int, request: dict[str, Any]) -> str:
    """Make a run's HTTP request through the outbound guard and feed the answer (or its absence) back.

    At least once, like every job: a request whose answer was lost with its worker is made again.
    Every way the call can end is an answer the run takes (``failure`` unless a response came): a job
    that raised instead would leave the run waiting, and the sweeper would issue the same request again
    every few minutes for ever. So a stored request that does not decode, or one the HTTP client cannot
    even attempt (an unexpected error, not a network one), is answered with its error too.
    """
    request_id = request.get("request_id") if isinstance(request, dict) else None
    run = await Run.select(Run.workspace, Run.status, Run.pending_http).where(Run.id == run_id).first()
    if run is None or run["status"] != "waiting" or not run["pending_http"]:
        return "skipped"
    if (
        not isinstance(request_id, str)
        or msgspec.json.decode(run["pending_http"]).get("request_id") != request_id
    ):
        return "skipped"
    try:
        action = msgspec.convert(request, CallHttp)
    except msgspec.ValidationError as exc:
        result = HttpResult(request_id=request_id, error=f"not a valid HTTP request: {exc}")
    else:
        result = await _call(ctx, run, action)
    await inbox.deliver([(run_id, f"http:{request_id}", result)])
    await engine.drive([run_id], queue=ctx["redis"])
    return "answered" if result.status_code is not None else "failed"


async def _call(ctx: dict[str, Any], run: dict[str, Any], action: CallHttp) -> HttpResult:
    workspace = (
        await Workspace.select(Workspace.allow_private_urls).where(Workspace.id == run["workspace"]).first()
    )
    try:
        response = await outbound.request(
            ctx[HTTP_CLIENT_KEY],
            action.method,
            action.url,
            headers=action.headers,
            body=action.body or None,
            timeout_s=action.timeout_seconds,
            allow_private=bool(workspace and workspace["allow_private_urls"]),
        )
    except outbound.RefusedURL as exc:
        return HttpResult(request_id=action.request_id, error=f"refused: {exc}")
    except httpx.HTTPError as exc:
        return HttpResult(request_id=action.request_id, error=str(exc) or type(exc).__name__)
    except Exception as exc:  # httpx.InvalidURL and kin are no HTTPError: still the call's answer
        log.warning("HTTP request %s could not be made", action.request_id, exc_info=True)
        return HttpResult(request_id=action.request_id, error=f"{type(exc).__name__}: {exc}")
    return HttpResult(request_id=action.request_id, status_code=response.status_code, body=response.body)


async def sweep_runs(ctx: dict[str, Any]) -> dict[str, int]:
    return await service.sweep(ctx["redis"])


class SendFailures:
    """Feeds a failed flow message back to its run when the run waits on that message's buttons, so it
    moves on instead of waiting out the timeout (seed 002: a failed step moves the contact on)."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    async def statuses_changed(self, changes: list[observers.StatusChange], raw: observers.Raw) -> None:
        woken: list[int] = []
        for change in changes:
            if "failed" not in change.reached or not change.run_id or not change.message_ref:
                continue
            if not change.run_id.isdigit():
                continue
            event = SendResult(
                message_ref=change.message_ref, status="failed", reason=change.failure_reason or ""
            )
            inserted = await raw(
                'INSERT INTO "run_events" (run, campaign_id, key, kind, event, status, created_at) '
                "SELECT r.id, r.campaign_id, {}, 'send_result', {}, 'pending', {} FROM \"runs\" r "
                "WHERE r.id = {} AND r.status = 'waiting' AND r.waiting_ref = {} "
                "ON CONFLICT DO NOTHING RETURNING run",
                f"send:{change.message_ref}:failed",
                encode_event(event),
                change.at,
                int(change.run_id),
                change.message_ref,
            )
            woken += [row["run"] for row in inserted]
        if woken and self.queue is not None:
            with contextlib.suppress(Exception):  # the sweeper drives them otherwise
                await self.queue.enqueue_job(
                    engine.DRIVE_JOB,
                    sorted(set(woken)),
                    _job_id=f"runs:failed:{min(woken)}-{max(woken)}:{len(woken)}",
                    _defer_by=FAILURE_DRIVE_DELAY_S,
                )


FUNCTIONS: list = [
    func(drive_runs, timeout=DRIVE_JOB_TIMEOUT_S),
    func(call_http, timeout=90, max_tries=3),
    sweep_runs,
]
CRON_JOBS: list = [cron(sweep_runs, second={20}, unique=True, timeout=50)]
