"""Starting a batch of new runs when one contact's first step may fail (a trigger's batch, issue 14).

:func:`backend.runs.engine.start_new` creates and steps a whole batch in one transaction, so one contact
whose first step raises (stored data no flow can start with) used to roll back everyone's runs, and the
job that started them failed again on every retry: nobody of that batch ever got the campaign.
:func:`start_new_isolating` finds such contacts the way :func:`backend.runs.engine.drive` finds failing
runs: it starts the batch under a savepoint, and when that fails on anything but a transient error
(:func:`backend.runs.poison.is_transient`) it rolls back to the savepoint and starts each half on its
own, down to single contacts. Savepoints, not separate transactions, so the caller's transaction still
commits the whole batch with its own bookkeeping (a trigger's batch ``done``) or nothing: a batch that
runs twice starts no one twice, and a contact who may enter again is never given two entries by a retry.

A contact that fails alone gets its run all the same, not started (``state`` NULL, ``active``), with the
failure counted on it by :func:`backend.runs.poison.record`: the campaign counts it as entered, its
next trigger does not enroll it again, the runs sweeper tries its start again like any run whose step
failed (a contact fixed meanwhile starts then), and after :data:`backend.runs.poison.MAX_FAILURES`
attempts it ends ``failed`` with ``step_error``, shown with its ``last_error`` by the runs API and in
the campaign's stats and report.
"""

from __future__ import annotations

import logging
from datetime import datetime

from backend.core.database import current_engine
from backend.runs import engine, hooks, poison
from backend.runs.engine import AfterCommit, NewRun
from backend.runs.tables import Run

log = logging.getLogger(__name__)


async def start_new_isolating(runs: list[NewRun], *, now: datetime) -> AfterCommit:
    """:func:`engine.start_new` for ``runs`` in the caller's transaction, setting aside the contacts
    whose first step fails (each gets a run that carries the failure). A transient database or network
    error is raised: the caller's transaction and job are retried, and no contact is charged for it."""
    after = AfterCommit()
    failed: list[tuple[NewRun, str]] = []
    await _start_part(runs, now, after, failed)
    if failed:
        after.merge(await _record_failed_starts(failed, now))
    return after


async def _start_part(
    runs: list[NewRun], now: datetime, after: AfterCommit, failed: list[tuple[NewRun, str]]
) -> None:
    """Start ``runs`` under savepoints; :func:`poison.isolate` finds the contacts whose start fails."""
    if not runs:
        return
    transaction = current_engine().current_transaction.get()
    if transaction is None:  # pragma: no cover - a programming error, not a run's
        raise RuntimeError("start_new_isolating runs inside the caller's transaction")

    async def attempt(part: list[NewRun]) -> None:
        savepoint = await transaction.savepoint()
        try:
            started = await engine.start_new(part, now=now)
        except Exception as exc:
            if not poison.is_transient(exc):  # a transient error fails the whole transaction anyway
                await savepoint.rollback_to()
                await savepoint.release()
            raise
        await savepoint.release()
        after.merge(started)

    def failed_start(new: NewRun, error: str) -> None:
        failed.append((new, error))
        log.debug("contact %s: first step failed: %s", new.contact["id"], error)

    await poison.isolate(runs, attempt, failed_start)


async def _record_failed_starts(failed: list[tuple[NewRun, str]], now: datetime) -> AfterCommit:
    """Insert a not-started run for each contact whose start failed (none where the same campaign,
    contact and entry has a run already), count it as entered, then count the failure on it."""
    after = AfterCommit()
    counts = hooks.Counts()
    errors: dict[int, str] = {}
    for new, error in failed:
        inserted = await Run.insert(_unstarted(new, now)).on_conflict(action="DO NOTHING").returning(Run.id)
        if not inserted:
            continue  # it has its run already: nothing of it is written twice
        errors[inserted[0]["id"]] = error
        counts.both(new.campaign_id, None, "entered")
        counts.add(new.campaign_id, "", "runs:active")
    await hooks.bridge().record(counts)
    after.campaigns |= counts.campaigns()
    after.summary["started"] += len(errors)
    for key, value in (await poison.record(errors, now=now)).items():
        after.summary[key] += value
    return after


def _unstarted(new: NewRun, now: datetime) -> Run:
    """The run of ``new`` as enrolled and not started yet: ``active`` with no state, which the runs
    engine starts (a ``Start`` event) whenever it is driven."""
    return Run(
        workspace=new.workspace_id,
        flow=new.flow_id,
        flow_version=new.version_id,
        campaign_id=new.campaign_id,
        contact=new.contact["id"],
        sender=new.sender_id,
        trigger=new.trigger,
        entry=new.entry,
        status="active",
        started_at=now,
        updated_at=now,
    )
