"""Worker jobs of campaigns (registered in backend/worker.py through FUNCTIONS and CRON_JOBS).

``run_trigger`` selects one trigger's audience into batches and ``run_lane`` starts them, batch after
batch (:mod:`backend.campaigns.triggers`); ``revive_campaign_work`` (every minute) re-enqueues what a lost job
left behind. The scheduler
(:func:`backend.campaigns.scheduler.tick`) runs every second on a ticker of each worker. :func:`startup`
installs the bridge runs use to ask about campaigns and count for them, for the worker process; the api
process installs it in its lifespan (:func:`install`).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from arq import Retry, cron, func

from backend.campaigns import scheduler, triggers
from backend.campaigns.stats import CampaignBridge, ConsentCounter, MessageCounter
from backend.consent import observers as consent_observers
from backend.core import ticker
from backend.messages import observers
from backend.runs import hooks, poison

log = logging.getLogger(__name__)

TICKERS_KEY = "tickers"
SCHEDULER_TICK_S = 1.0
TRIGGER_JOB_TIMEOUT_S = 600
LANE_JOB_TIMEOUT_S = 3600
"""A lane starts batch after batch: a million-member trigger keeps its four lanes busy for minutes. A lane
killed mid-way is revived by the minute's sweep long before arq would retry it."""
TRANSIENT_RETRY_S = 5.0
"""A lane that met a busy or unreachable database runs again after this, times its try number."""


_installed: list[tuple[CampaignBridge, MessageCounter, ConsentCounter]] = []
"""The process's one bridge and counter, with one entry per installer still running (an api and a
worker in one process, as in the tests, must not count every status change twice)."""


def install(redis: Any, stack: contextlib.AsyncExitStack) -> CampaignBridge:
    """Plug campaigns into runs (policies, counters) and into the gateway's status changes, once per
    process; undone when the last installer's ``stack`` closes."""
    if _installed:
        bridge, counter, opt_outs = _installed[0]
    else:
        bridge = CampaignBridge(redis)
        counter = MessageCounter(bridge)
        opt_outs = ConsentCounter(bridge)
        hooks.install(bridge)
        observers.add(counter)
        consent_observers.add(opt_outs)
    _installed.append((bridge, counter, opt_outs))
    stack.callback(_uninstall)
    return bridge


def _uninstall() -> None:
    _, counter, opt_outs = _installed.pop()
    if not _installed:
        hooks.install(None)
        observers.remove(counter)
        consent_observers.remove(opt_outs)


async def startup(ctx: dict[str, Any], stack: contextlib.AsyncExitStack) -> None:
    queue = ctx["redis"]
    install(queue, stack)
    if ctx.get(TICKERS_KEY, True):

        async def tick() -> bool:
            await scheduler.tick(queue)
            return False

        ticker.start(stack, "campaign scheduler", SCHEDULER_TICK_S, tick)


async def run_trigger(ctx: dict[str, Any], trigger_id: int) -> dict[str, Any]:
    return await triggers.run_trigger(trigger_id, queue=ctx["redis"])


async def run_lane(ctx: dict[str, Any], trigger_id: int, lane: int) -> dict[str, Any]:
    """Start the trigger's pending batches. A member whose first step fails is set aside by the runs
    engine; a busy or lost database fails the batch instead, and arq runs the lane again a little later
    (up to its ``max_tries``, then :func:`revive_campaign_work` finds the batch still pending): no
    member is charged for the database's moment."""
    try:
        return await triggers.run_lane(trigger_id, queue=ctx["redis"])
    except Exception as exc:
        if not poison.is_transient(exc):
            raise
        tries = int(ctx.get("job_try") or 1)
        log.warning("lane of trigger %s failed for now (try %d): %s", trigger_id, tries, poison.describe(exc))
        raise Retry(defer=TRANSIENT_RETRY_S * tries) from exc


async def revive_campaign_work(ctx: dict[str, Any]) -> dict[str, int]:
    return await scheduler.revive(ctx["redis"])


FUNCTIONS: list = [
    func(run_trigger, name=scheduler.TRIGGER_JOB, timeout=TRIGGER_JOB_TIMEOUT_S),
    func(run_lane, name=triggers.LANE_JOB, timeout=LANE_JOB_TIMEOUT_S),
    revive_campaign_work,
]
CRON_JOBS: list = [cron(revive_campaign_work, second={50}, unique=True, timeout=50)]
