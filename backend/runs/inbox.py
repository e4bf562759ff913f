"""Putting events in runs' inboxes, and moving due timers there.

Every outside event a run may care about — a reply, a tap, a timer, a failed send, an HTTP answer — is
stored as a :class:`~backend.runs.tables.RunEvent` before anything acts on it, under a key unique per run,
so a webhook delivered twice or a job that runs twice stores it once; :func:`backend.runs.engine.drive`
then applies the inbox in order. While a run's campaign is paused its events simply wait there.
"""

from __future__ import annotations

from datetime import UTC, datetime

from backend.core.bulk import in_list
from backend.core.database import is_sqlite, transaction
from backend.runs.flows import encode_event
from backend.runs.tables import Run, RunEvent
from flows.run import ButtonTap, Event, HttpResult, Reply, SendResult, TimerFired

TIMER_BATCH = 2000
"""Due timers moved per statement; the poller runs again at once while it finds a full batch."""
_KINDS: dict[type, str] = {
    Reply: "reply",
    ButtonTap: "button",
    TimerFired: "timer",
    SendResult: "send_result",
    HttpResult: "http_result",
}


async def deliver(items: list[tuple[int, str, Event]], *, now: datetime | None = None) -> list[int]:
    """Store ``(run id, key, event)`` items (a key already stored for its run is skipped); returns the
    ids of the runs that got something new. Joins the caller's transaction when one is open."""
    if not items:
        return []
    moment = now or datetime.now(UTC)
    run_ids = sorted({run_id for run_id, _, _ in items})
    campaigns = {
        row["id"]: row["campaign_id"]
        for row in await Run.select(Run.id, Run.campaign_id).where(Run.id.is_in(run_ids))
    }
    rows = [
        RunEvent(
            run=run_id,
            campaign_id=campaigns[run_id],
            key=key[:160],
            kind=_KINDS[type(event)],
            event=encode_event(event),
            status="pending",
            created_at=moment,
        )
        for run_id, key, event in items
        if run_id in campaigns
    ]
    if not rows:
        return []
    inserted = await RunEvent.insert(*rows).on_conflict(action="DO NOTHING").returning(RunEvent.run)
    return sorted({row["run"] for row in inserted})


async def fire_due_timers(now: datetime | None = None, limit: int = TIMER_BATCH) -> list[int]:
    """Move up to ``limit`` due timers into their runs' inboxes, in one transaction; the runs' ids.

    Moving is deleting the timer and storing a ``TimerFired`` event: two pollers (two workers) never move
    the same timer, and a lost job loses nothing (the event waits in the inbox for the sweeper).
    """
    moment = now or datetime.now(UTC)
    # A read first: the poller runs every second, and on SQLite a write transaction takes the database's
    # one write lock even when nothing is due.
    if not await RunEvent.raw('SELECT 1 FROM "run_timers" WHERE fire_at <= {} LIMIT 1', moment):
        return []
    # PostgreSQL: the due timers this poller moves are locked, and those another holds are skipped, so two
    # workers' pollers (and a run's batch resetting its timer) take disjoint rows instead of deleting the
    # same ones in different orders (a deadlock, then a retry). SQLite writes one transaction at a time.
    skip = "" if is_sqlite() else " FOR UPDATE SKIP LOCKED"
    async with transaction():
        due = await RunEvent.raw(
            f'SELECT id FROM "run_timers" WHERE fire_at <= {{}} ORDER BY fire_at LIMIT {{}}{skip}',
            moment,
            limit,
        )
        if not due:
            return []
        ids = [row["id"] for row in due]
        moved = await RunEvent.raw(
            f'DELETE FROM "run_timers" WHERE id IN ({in_list(len(ids))}) RETURNING run, timer_id',
            *ids,
        )
        await deliver(
            [(row["run"], f"timer:{row['timer_id']}", TimerFired(timer_id=row["timer_id"])) for row in moved],
            now=moment,
        )
    return sorted({row["run"] for row in moved})
