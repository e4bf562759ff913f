"""Runs whose step fails on every attempt: counted, then ended ``failed`` instead of re-driven for ever.

A batch of runs is stepped in one transaction, so one run that raises (a stored event or state that does
not decode, a flow action on data that can never work) used to roll back all of its batch-mates, and the
sweeper re-drove the same batch every few minutes for ever. :func:`backend.runs.engine.drive` now splits
a failing batch until the runs that fail are alone, commits the others, and hands the failures here.

Only failures a retry cannot be expected to fix are counted. A database that is busy or out of reach
(:func:`is_transient`) says nothing about the run: the error goes up to the job, which is retried, and
no run is charged for it. A counted failure keeps the error text on the run (``last_error``) and leaves
the run where it was, for the sweeper to drive again; after :data:`MAX_FAILURES` the run ends ``failed``
with ``ended_reason`` :data:`ENDED_REASON`, its timers and pending events are dropped, and the campaign's
counters move it from its status to ``failed`` like any run that ended. ``GET
/api/v1/contacts/{id}/runs`` shows it with ``failures`` and ``last_error``; the campaign's stats count it
among ``failed_runs`` and its report names the reason.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from backend.core.database import locked, transaction
from backend.runs import hooks
from backend.runs.tables import Run, RunEvent, RunTimer

log = logging.getLogger(__name__)

MAX_FAILURES = 5
"""Failed attempts before a run ends ``failed``: about 20 minutes of sweeps (one drive every 5 minutes),
well past a deploy or a restart, far short of "for ever"."""
ENDED_REASON = "step_error"
ERROR_LENGTH = 2000
"""Characters of the error text kept in ``runs.last_error`` (as inbound events keep theirs)."""
MOVING = ("active", "waiting")

_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")
"""PostgreSQL error classes that are about the moment, not the data: connection exception, transaction
rollback (serialization failure, deadlock), insufficient resources, operator intervention (shutdown,
statement cancelled), system error (I/O)."""
_TRANSIENT_SQLSTATES = ("55P03",)
"""lock_not_available."""


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is about the database or network at this moment rather than
    about the runs: such a failure is retried and never counted against a run."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _transient_here(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _transient_here(exc: BaseException) -> bool:
    import asyncpg
    import redis.exceptions

    if isinstance(exc, sqlite3.OperationalError):
        return True  # locked, busy, disk I/O, cannot open: SQLite's operational errors are the moment's
    if isinstance(exc, ValueError):
        return False  # asyncpg's client-side DataError: a value the query cannot take is about the data
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.exceptions.PostgresConnectionError):
        return True  # the connection was closed or lost under the query
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and (
        sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES or sqlstate in _TRANSIENT_SQLSTATES
    ):
        return True
    return isinstance(
        exc,
        ConnectionError | TimeoutError | redis.exceptions.ConnectionError | redis.exceptions.TimeoutError,
    )


Item = TypeVar("Item")


async def isolate(
    items: list[Item],
    attempt: Callable[[list[Item]], Awaitable[None]],
    failed: Callable[[Item, str], None],
) -> None:
    """``attempt(items)``; when it fails on anything but a transient error, attempt each half on its own,
    down to single items, so the items that fail are found (``failed(item, error text)``) and the others
    go through. ``attempt`` must leave nothing behind when it raises (its own transaction or savepoint).
    One bad item among 500 costs about three times the work; a transient error is raised at once.
    Used for runs that are stepped (:func:`backend.runs.engine.drive`) and started
    (:func:`backend.runs.enroll.start_new_isolating`)."""
    try:
        await attempt(items)
    except Exception as exc:
        if is_transient(exc):
            raise
        if len(items) == 1:
            failed(items[0], describe(exc))
            return
        middle = len(items) // 2
        await isolate(items[:middle], attempt, failed)
        await isolate(items[middle:], attempt, failed)


def describe(exc: BaseException) -> str:
    """The error as kept on the run and logged: its type and message, cut to :data:`ERROR_LENGTH`."""
    return f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]


async def record(errors: dict[int, str], *, now: datetime) -> dict[str, int]:
    """Count one failed attempt for each run in ``errors`` (run id → error text) and end those that used
    up :data:`MAX_FAILURES`, in one transaction; ``{"step_failed": n, "failed": ended}``.

    A run that finished or went away in the meantime is left alone. Campaigns are share-locked before
    the runs, the order every writer of runs keeps.
    """
    if not errors:
        return {}
    ids = sorted(errors)
    counts = hooks.Counts()
    ended: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    async with transaction():
        heads = await Run.select(Run.campaign_id).where(Run.id.is_in(ids) & Run.status.is_in(list(MOVING)))
        campaign_ids = {row["campaign_id"] for row in heads if row["campaign_id"] is not None}
        if campaign_ids:
            await hooks.bridge().policies(campaign_ids)
        rows = await locked(
            Run.select(Run.id, Run.campaign_id, Run.status, Run.current_node, Run.waiting_kind, Run.failures)
            .where(Run.id.is_in(ids) & Run.status.is_in(list(MOVING)))
            .order_by(Run.id)
        )
        for row in rows:
            row["failures"] += 1
            row["error"] = errors[row["id"]]
            if row["failures"] >= MAX_FAILURES:
                await _end(row, now, counts)
                ended.append(row)
            else:
                await Run.update({Run.failures: row["failures"], Run.last_error: row["error"]}).where(
                    Run.id == row["id"]
                )
                kept.append(row)
        await hooks.bridge().record(counts)
    hooks.bridge().changed(counts.campaigns())
    for row in kept:
        log.info(
            "run %s: step failed (attempt %d of %d), the sweeper drives it again: %s",
            row["id"],
            row["failures"],
            MAX_FAILURES,
            row["error"],
        )
    for row in ended:
        log.error("run %s failed for good after %d attempts: %s", row["id"], row["failures"], row["error"])
    return {"step_failed": len(rows), "failed": len(ended)}


async def _end(row: dict[str, Any], now: datetime, counts: hooks.Counts) -> None:
    """End one run ``failed`` (caller's transaction): no wait, no timer, no pending event is left that
    would wake it, and its campaign's counters move it to ``failed``."""
    await Run.update(
        {
            Run.status: "failed",
            Run.ended_reason: ENDED_REASON,
            Run.ended_at: now,
            Run.updated_at: now,
            Run.waiting_kind: None,
            Run.waiting_ref: None,
            Run.pending_http: None,
            Run.failures: row["failures"],
            Run.last_error: row["error"],
        }
    ).where(Run.id == row["id"])
    await RunTimer.delete().where(RunTimer.run == row["id"])
    await RunEvent.update({RunEvent.status: "ignored", RunEvent.applied_at: now}).where(
        (RunEvent.run == row["id"]) & (RunEvent.status == "pending")
    )
    campaign_id = row["campaign_id"]
    counts.add(campaign_id, "", f"runs:{row['status']}", -1)
    counts.add(campaign_id, "", "runs:failed")
    if row["status"] == "waiting" and row["current_node"]:
        counts.add(campaign_id, row["current_node"], "waiting", -1)
