"""The arq worker: every domain's task functions and cron jobs, and what each job may rely on.

Started the same way everywhere (``flowgate worker``, ``flowgate dev``, the tests): :func:`build_worker`.
Jobs are at-least-once (see FIELD-NOTES): every task must be safe to run twice.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import Any

from arq.worker import Worker

from backend.audience import tasks as audience_tasks
from backend.campaigns import tasks as campaign_tasks
from backend.consent import tasks as consent_tasks
from backend.core.database import database_connection
from backend.core.queue import (
    HEARTBEAT_INTERVAL_S,
    QUEUE_NAME,
    health_check_key,
    redis_settings,
    register_heartbeat,
)
from backend.imports import tasks as import_tasks
from backend.inbound import tasks as inbound_tasks
from backend.messages import tasks as message_tasks
from backend.runs import tasks as run_tasks
from backend.senders import tasks as sender_tasks
from backend.webhooks import tasks as webhook_tasks
from backend.workspaces import tasks as workspace_tasks

_DOMAINS = [
    workspace_tasks,
    audience_tasks,
    import_tasks,
    sender_tasks,
    consent_tasks,
    webhook_tasks,
    message_tasks,
    inbound_tasks,
    run_tasks,
    campaign_tasks,
]
FUNCTIONS = [function for domain in _DOMAINS for function in domain.FUNCTIONS]
CRON_JOBS = [job for domain in _DOMAINS for job in domain.CRON_JOBS]


def job_names() -> set[str]:
    """The names jobs are enqueued by: plain coroutines' own names, or the name an arq ``func()`` wrapper
    (one with its own timeout or retries) was given."""
    return {getattr(function, "name", None) or function.__name__ for function in FUNCTIONS}


async def _startup(ctx: dict[str, Any]) -> None:
    """Make what the whole process shares, once, in the worker's own context.

    arq gives every job a shallow copy of this context (``{**worker.ctx, **job_ctx}``): objects put here
    are shared by every job of the process, but anything a job adds to its copy is gone for the next
    job. So process-wide state (clients, locks, semaphores, caches) is made here or in a domain's
    ``startup(ctx, stack)``, never lazily by a job.
    """
    stack = contextlib.AsyncExitStack()
    ctx["exit_stack"] = stack
    await stack.enter_async_context(database_connection(pool_size=ctx.get("db_pool_size", 10)))
    # One provider registry (and its one HTTP client) per worker process, closed with the worker.
    from backend.config import get_settings
    from backend.inbound.sandbox import AutoAnswers
    from backend.providers.registry import Providers

    # Sandbox senders with auto_reply schedule their simulated customers' answers as this worker's jobs.
    providers = Providers(
        public_url=get_settings().base_public_url, sandbox_answers=AutoAnswers(ctx["redis"])
    )
    stack.push_async_callback(providers.aclose)
    ctx[message_tasks.PROVIDERS_KEY] = providers
    for domain in _DOMAINS:
        startup = getattr(domain, "startup", None)
        if startup is not None:
            await startup(ctx, stack)


async def _shutdown(ctx: dict[str, Any]) -> None:
    stack: contextlib.AsyncExitStack | None = ctx.pop("exit_stack", None)
    if stack is not None:
        await stack.aclose()


class FlowgateWorker(Worker):
    """arq's worker, leaving jobs in the queue for another process while this one is full of that kind of
    work, and registering its heartbeat where ``/health`` finds it.

    arq takes every due job it can, up to ``max_jobs`` (100), at each poll. A send job's messages are
    worked a few chunks at a time (the process's chunk slots), so one process would hold a hundred send
    jobs it cannot start while the other processes of ``flowgate worker --processes N`` stand idle
    (measured with bench/gateway_send.py and 2 processes: 3.3 s of CPU against 0.8 s). Before each job it
    takes, the worker asks every domain's ``holds_back(ctx, job_id)``; a job held back stays queued and
    the worker goes on to the next one, so other kinds of jobs are taken as before. A job it takes is
    told to the domains' ``taken(ctx, job_id, task)`` at once, so a domain counts it before its function
    runs (arq reads the job from Redis first, while this loop takes the next ones). Jobs already taken
    run as before, and arq's own stop (SIGTERM) is untouched.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._intake_checks = [
            check for domain in _DOMAINS if (check := getattr(domain, "holds_back", None)) is not None
        ]
        self._taken_hooks = [
            hook for domain in _DOMAINS if (hook := getattr(domain, "taken", None)) is not None
        ]
        self._registered_at = 0.0

    def _held_back(self, job_id: bytes) -> bool:
        return any(check(self.ctx, job_id) for check in self._intake_checks)

    async def start_jobs(self, job_ids: Iterable[bytes]) -> None:
        for job_id in job_ids:
            if self._held_back(job_id):
                continue
            key = job_id.decode()
            before = self.tasks.get(key)
            await super().start_jobs([job_id])
            task = self.tasks.get(key)
            if task is not None and task is not before:  # taken now, not skipped or already running
                for hook in self._taken_hooks:
                    hook(self.ctx, job_id, task)

    async def record_health(self) -> None:
        await super().record_health()
        now = time.time()
        if now - self._registered_at >= self.health_check_interval:
            self._registered_at = now
            await register_heartbeat(self.pool, self.health_check_key, now)


GRACEFUL_STOP_S = 20
"""On SIGTERM/SIGINT a long-lived worker takes no new job and gives the running ones this long to finish
before arq cancels them. A send cancelled mid-request leaves its message ``unknown`` (never re-sent), so a
deploy or a scale-down should not cut requests in flight; a job's chunks take seconds, not minutes. Below
the supervisor's stop timeout (30 s) and docker-compose's ``stop_grace_period`` for the worker (35 s)."""


def build_worker(redis_url: str, *, burst: bool = False, db_pool_size: int = 10, **overrides: Any) -> Worker:
    options: dict[str, Any] = {
        "functions": FUNCTIONS,
        "cron_jobs": CRON_JOBS,
        "redis_settings": redis_settings(redis_url),
        "queue_name": QUEUE_NAME,
        "health_check_key": health_check_key(),
        "health_check_interval": HEARTBEAT_INTERVAL_S,
        "on_startup": _startup,
        "on_shutdown": _shutdown,
        # Tickers (due timers, the campaign scheduler) run in long-lived workers; a burst worker (and a
        # test driving the clock itself) runs only what is queued.
        "ctx": {"db_pool_size": db_pool_size, run_tasks.TICKERS_KEY: not burst},
        # arq's defaults cap a worker near 200 jobs/s (FIELD-NOTES); 100 jobs at once lift that. Each poll
        # also re-checks every job still in the queue, its own running ones included: at 20 polls a second
        # that was a quarter of a busy worker's CPU (bench/campaign.py), so a long-lived worker polls 5
        # times a second (a job waits 0.1 s on average; jobs carry hundreds of messages). A burst worker
        # (tests, scripts) polls fast: it is there to empty the queue now.
        "max_jobs": 100,
        "poll_delay": 0.05 if burst else 0.2,
        "job_timeout": 60,
        "keep_result": 3600,
        "burst": burst,
        "handle_signals": not burst,
        "job_completion_wait": 0 if burst else GRACEFUL_STOP_S,
    }
    ctx = {**options["ctx"], **overrides.pop("ctx", {})}
    options.update(overrides)
    options["ctx"] = ctx
    return FlowgateWorker(**options)
