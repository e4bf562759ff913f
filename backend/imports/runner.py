"""The generic import runner: one run of the ``run_import`` job for any registered :class:`ImportKind`.

Passes over the stored file (it is re-read from the database each time, never held):

1. **scan**: decode and parse the whole file, check the header and count the rows. A file that is not
   UTF-8 CSV, or whose header is wrong, fails here with nothing applied.
2. ``on_error=skip``: **apply** batch by batch, one transaction per batch. Each batch's writes, its
   progress checkpoint (``processed_rows``, counts, errors) and the lease renewal commit together.
   ``on_error=reject``: **validate** every row first (no writes); any error fails the import; then
   **apply** the whole file in one transaction, with the final status in the same transaction.

At-least-once delivery, designed in:

* A run first claims the import's lease (:mod:`backend.imports.leases`); a second copy of the job finds
  it held (or the import finished) and returns at once. Every batch re-proves the lease inside its
  transaction, so a stalled run that was taken over cannot commit again.
* ``skip`` resumes: a re-run after a crash re-scans, skips the rows up to the committed checkpoint and
  continues; the batch that was in flight was rolled back, so nothing is applied or counted twice.
* ``reject`` resumes its validation pass from the last checkpoint (it writes nothing but progress and
  errors) and then applies the whole file in one transaction started in a fresh time slice; a crash in
  that transaction leaves nothing applied and the next run applies again.
* Long files are processed in time slices shorter than arq's job timeout: a slice commits its last
  batch, releases the lease and enqueues the continuation (``import:{id}:from:{row}``).
* Unexpected errors release the lease and retry later; after :data:`MAX_FAILED_RUNS` the import fails.
  A lost job or a dead worker leaves a quiet lease that the sweeper (:func:`sweep`) re-enqueues.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from arq.jobs import Job, JobStatus

from backend.core.database import is_unique_violation, transaction
from backend.core.text import NUL
from backend.imports import leases, uploads
from backend.imports.csvstream import FileProblem, UnclosedQuote, records, stored_chunks
from backend.imports.kinds import Applied, HeaderProblem, ImportJob, ImportKind, Row, RowError, get_kind
from backend.imports.leases import LeaseLost
from backend.imports.tables import Import, ImportChunk

log = logging.getLogger(__name__)

SLICE_SECONDS = 40.0
"""Work per job before handing over to a continuation; below the worker's 60 s job timeout."""
HEARTBEAT_SECONDS = 1.0
MAX_ERRORS_KEPT = 1000
MAX_FAILED_RUNS = 3
UNIQUE_RETRIES = 3
REJECT_MAX_ROWS = 100_000
"""``on_error=reject`` applies the whole file in one transaction, which must end within one job (60 s
timeout) and, on SQLite, holds the single write lock meanwhile: ~30 s for 100,000 contacts here."""


class RetryLater(Exception):
    """The run failed unexpectedly and released the import; run the job again after ``defer`` seconds."""

    def __init__(self, defer: float) -> None:
        super().__init__(f"retry in {defer:.0f}s")
        self.defer = defer


class _Failed(Exception):
    """The file cannot be imported: fail the import with this message (and these row errors)."""

    def __init__(self, message: str, errors: list[RowError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


@dataclass(slots=True)
class _Batch:
    last: int
    """Number of the batch's last row: the checkpoint once the batch is committed."""
    size: int
    rows: list[Row] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    """Rows refused before the kind saw them (more cells than the header names)."""


def _now() -> datetime:
    return datetime.now(UTC)


async def run_import(
    import_id: int, *, queue: Any = None, slice_seconds: float | None = SLICE_SECONDS
) -> str:
    """One run of an import job; returns what happened (``completed``, ``failed``, ``continued``, or
    ``skipped`` when it was finished or held by another live run). Without a ``queue`` there is nobody
    to hand a continuation to, so the run goes on to the end of the file."""
    claim = await leases.claim(import_id, _now())
    if claim is None:
        return "skipped"
    kind = get_kind(claim.upload["kind"])
    run = _Run(import_id, claim, kind, queue, slice_seconds if queue is not None else None)
    try:
        if kind is None:
            raise _Failed(f"this Flowgate worker has no handler for imports of kind {claim.upload['kind']!r}")
        return await run.execute()
    except _Failed as failure:
        await run.fail(failure)
        return "failed"
    except LeaseLost:
        log.warning("import %s: another run took over; this one stops", import_id)
        return "skipped"
    except Exception as exc:
        log.exception("import %s: run %s failed", import_id, claim.runs)
        failures = claim.failures + 1
        if failures >= MAX_FAILED_RUNS:
            await run.fail(
                _Failed(f"stopped after {failures} failed attempts; last error: {type(exc).__name__}: {exc}")
            )
            return "failed"
        await leases.release(import_id, claim.token, failures=failures)
        raise RetryLater(10.0 * failures) from exc


class _Run:
    def __init__(
        self,
        import_id: int,
        claim: leases.Claim,
        kind: ImportKind | None,
        queue: Any,
        slice_seconds: float | None,
    ) -> None:
        upload = claim.upload
        self.id = import_id
        self.claim = claim
        self.token = claim.token
        self.kind = kind
        self.queue = queue
        self.slice_seconds = slice_seconds or 0.0
        self.deadline = None if slice_seconds is None else time.monotonic() + slice_seconds
        self.mode = upload["options"].get("on_error", "skip")
        self.job = ImportJob(
            id=import_id,
            workspace_id=upload["workspace"],
            kind=upload["kind"],
            options=upload["options"],
            created_by=upload["created_by"],
            queue=queue,
        )
        self.total = upload["total_rows"]
        self.processed = upload["processed_rows"]
        self.created = upload["created_count"]
        self.updated = upload["updated_count"]
        self.skipped = upload["skipped_count"]
        self.error_count = upload["error_count"]
        self.errors: list[dict[str, Any]] = list(upload["errors"] or [])
        self.prepared = False
        self.last_beat = time.monotonic()
        self.pending_callbacks: list[Any] = []

    # --- passes -------------------------------------------------------------------------------------

    async def execute(self) -> str:
        phase = self.claim.phase
        if phase not in ("validating", "applying"):  # a fresh start, or a crash while scanning
            if self.mode == "reject":
                self._reset_counts()
            self.total = await self._scan()
            phase = "validating" if self.mode == "reject" else "applying"
            await self._save({Import.total_rows: self.total, **self._counts()}, phase=phase)
        if self.mode == "skip":
            return await self._skip()
        if phase == "validating":
            if not await self._validate():
                return await self._continue_later()
            if self._out_of_time(share=0.5):
                return await self._continue_later()  # the one-transaction apply gets a whole slice
        return await self._reject_apply()

    async def _scan(self) -> int:
        await leases.renew(self.id, self.token, _now(), phase="scanning")
        total = 0
        async for number, _ in self._items():
            total = number
            await self._beat()
        if self.mode == "reject" and total > REJECT_MAX_ROWS:
            raise _Failed(
                f"the file has {total:,} rows; on_error=reject imports at most {REJECT_MAX_ROWS:,} rows "
                "in one transaction. Split the file, or use on_error=skip"
            )
        return total

    async def _skip(self) -> str:
        async for batch in self._batches(after=self.processed):
            await self._apply_batch(batch)
            if self._out_of_time() and batch.last < self.total:
                return await self._continue_later()
        await self._complete()
        return "completed"

    async def _apply_batch(self, batch: _Batch) -> None:
        """One transaction: the kind's writes, the checkpoint and the lease renewal, or none of them."""
        for attempt in range(1, UNIQUE_RETRIES + 1):
            records_, errors = await self.kind.validate(self.job, batch.rows) if batch.rows else ([], [])
            try:
                async with transaction():
                    await leases.renew(self.id, self.token, _now())
                    applied = await self.kind.apply(self.job, records_) if records_ else Applied()
                    self._count(batch, applied, [*batch.errors, *errors, *applied.errors])
                    await self._save(self._counts())
                await _run_callbacks(self.id, applied.after_commit)
                return
            except Exception as exc:
                if is_unique_violation(exc) and attempt < UNIQUE_RETRIES:
                    log.info("import %s: rows %s raced with another writer; retrying", self.id, batch.last)
                    self._restore_counts()
                    continue
                raise

    def _out_of_time(self, share: float = 1.0) -> bool:
        """Past ``share`` of this run's time slice (never, without a queue to continue on)."""
        if self.deadline is None:
            return False
        return time.monotonic() > self.deadline - self.slice_seconds * (1 - share)

    async def _validate(self) -> bool:
        """Reject mode, first pass: validate every row without writing, resuming from the checkpoint.
        Until the end of the pass ``skipped`` counts the rows with errors. False: the slice ended first."""
        async for batch in self._batches(after=self.processed):
            _, errors = await self.kind.validate(self.job, batch.rows) if batch.rows else ([], [])
            batch_errors = [*batch.errors, *errors]
            self.skipped += len({error.row for error in batch_errors})
            self.processed = batch.last
            self._keep_errors(batch_errors)
            if self._out_of_time() and batch.last < self.total:
                await self._save(self._counts(), phase="validating")
                return False
            if time.monotonic() - self.last_beat > HEARTBEAT_SECONDS:
                await self._save(self._counts(), phase="validating")
                self.last_beat = time.monotonic()
        if self.skipped:
            problems = self.skipped
            self.processed = self.skipped = self.total
            raise _Failed(
                f"{problems} row(s) have errors; with on_error=reject nothing was imported. "
                "Fix them and upload the file again"
            )
        self._reset_counts()
        await self._save(self._counts(), phase="applying")
        return True

    async def _reject_apply(self) -> str:
        try:
            await self._apply_all()
        except _Failed:
            self._reset_counts()
            self.processed = self.skipped = self.total
            raise
        await _run_callbacks(self.id, self.pending_callbacks)
        return "completed"

    async def _apply_all(self) -> None:
        """Reject mode: every batch and the final status in one transaction; a row refused at apply
        time (e.g. an address conflict) rolls everything back."""
        self._reset_counts()
        async with transaction() as txn:
            await leases.renew(self.id, self.token, _now())
            async for batch in self._batches(after=0):
                savepoint = await txn.savepoint()
                for attempt in range(1, UNIQUE_RETRIES + 1):
                    records_, errors = (
                        await self.kind.validate(self.job, batch.rows) if batch.rows else ([], [])
                    )
                    try:
                        applied = await self.kind.apply(self.job, records_) if records_ else Applied()
                    except Exception as exc:
                        if is_unique_violation(exc) and attempt < UNIQUE_RETRIES:
                            await savepoint.rollback_to()
                            continue
                        raise
                    break
                await savepoint.release()
                refused = sorted([*batch.errors, *errors, *applied.errors], key=lambda error: error.row)
                if refused:
                    raise _Failed(
                        f"row {refused[0].row} could not be imported: {refused[0].message}; with "
                        "on_error=reject nothing was imported",
                        refused,
                    )
                self._count(batch, applied, [])
                self.pending_callbacks.extend(applied.after_commit)
            await self._finish("completed")

    # --- rows and batches ---------------------------------------------------------------------------

    async def _items(self) -> AsyncIterator[tuple[int, Row | RowError | None]]:
        """``(number, item)`` for every data row: a :class:`Row`, a :class:`RowError` for a malformed
        row, or None for a blank one."""
        rows = records(stored_chunks(self.id))
        try:
            header = await anext(rows, None)
            if header is None:
                raise _Failed("the file is empty; it needs a header row naming the columns")
            columns = self._columns(header)
            if not self.prepared:
                try:
                    await self.kind.prepare(self.job)
                except HeaderProblem as problem:
                    raise _Failed(problem.detail) from None
                self.prepared = True
            number = 0
            async for cells in rows:
                number += 1
                if isinstance(cells, UnclosedQuote):
                    yield number, cells.row_error(number, columns)
                else:
                    yield number, _row(number, cells, columns)
        except FileProblem as problem:
            raise _Failed(str(problem)) from None

    def _columns(self, header: list[str]) -> list[str]:
        while header and not header[-1].strip():
            header = header[:-1]  # a trailing delimiter after the last name
        try:
            names = self.kind.header_names(header, self.job.options)
        except HeaderProblem as problem:
            raise _Failed("header: " + problem.detail) from None
        problems = [
            f"column {position} has no name" for position, name in enumerate(names, start=1) if not name
        ]
        seen: dict[str, int] = {}
        for position, name in enumerate(names, start=1):
            if name and name in seen:
                problems.append(f"column name {name!r} appears twice (columns {seen[name]} and {position})")
            seen.setdefault(name, position)
        if not problems:
            problems = self.kind.header_problems(names, self.job.options)
        if problems:
            raise _Failed("header: " + "; ".join(problems))
        self.job.columns = names
        return names

    async def _batches(self, after: int) -> AsyncIterator[_Batch]:
        """Batches of the kind's size; rows up to ``after`` (already applied) are read but left out."""
        batch: _Batch | None = None
        async for number, item in self._items():
            if number <= after:
                continue
            if batch is None:
                batch = _Batch(last=number, size=0)
            batch.last = number
            batch.size += 1
            if isinstance(item, Row):
                batch.rows.append(item)
            elif isinstance(item, RowError):
                batch.errors.append(item)
            if batch.size >= self.kind.batch_size:
                yield batch
                batch = None
        if batch is not None:
            yield batch

    # --- bookkeeping --------------------------------------------------------------------------------

    def _reset_counts(self) -> None:
        self.processed = self.created = self.updated = self.skipped = self.error_count = 0
        self.errors = []

    def _counts(self) -> dict[Any, Any]:
        return {
            Import.processed_rows: self.processed,
            Import.created_count: self.created,
            Import.updated_count: self.updated,
            Import.skipped_count: self.skipped,
            Import.error_count: self.error_count,
            Import.errors: self.errors,
        }

    def _count(self, batch: _Batch, applied: Applied, errors: list[RowError]) -> None:
        self._saved = (
            self.processed,
            self.created,
            self.updated,
            self.skipped,
            self.error_count,
            len(self.errors),
        )
        self.processed = batch.last
        self.created += applied.created
        self.updated += applied.updated
        self.skipped += max(batch.size - applied.created - applied.updated, 0)
        self._keep_errors(errors)

    def _restore_counts(self) -> None:
        """Undo :meth:`_count` after the batch's transaction rolled back."""
        saved = getattr(self, "_saved", None)
        if saved is None:
            return
        self.processed, self.created, self.updated, self.skipped, self.error_count, kept = saved
        del self.errors[kept:]
        self._saved = None

    def _keep_errors(self, errors: list[RowError]) -> None:
        self.error_count += len(errors)
        room = MAX_ERRORS_KEPT - len(self.errors)
        if room > 0:
            ordered = sorted(errors, key=lambda error: error.row)
            self.errors.extend(error.to_dict() for error in ordered[:room])

    async def _save(self, values: dict[Any, Any], phase: str | None = None) -> None:
        await leases.renew(self.id, self.token, _now(), phase=phase)
        await Import.update(values).where(Import.id == self.id)

    async def _beat(self) -> None:
        if time.monotonic() - self.last_beat > HEARTBEAT_SECONDS:
            await leases.renew(self.id, self.token, _now())
            self.last_beat = time.monotonic()

    async def _finish(self, status: str, failure: str = "") -> None:
        """Final status, counts and the stored file's removal; the caller holds the transaction."""
        await leases.renew(self.id, self.token, _now(), phase="")
        await Import.update(
            {
                **self._counts(),
                Import.status: status,
                Import.failure: failure[:1000],
                Import.finished_at: _now(),
            }
        ).where(Import.id == self.id)
        await ImportChunk.delete().where(ImportChunk.upload == self.id)
        await leases.ImportLease.update({leases.ImportLease.token: None}).where(
            leases.ImportLease.upload == self.id
        )

    async def _complete(self) -> None:
        async with transaction():
            self.processed = self.total
            await self._finish("completed")

    async def fail(self, failure: _Failed) -> None:
        self._keep_errors(failure.errors)
        async with transaction():
            await self._finish("failed", failure.message)

    async def _continue_later(self) -> str:
        job_id = f"import:{self.id}:from:{self.processed}"
        await leases.release(self.id, self.token)
        if not await uploads.enqueue(self.queue, self.id, job_id):
            log.warning("import %s: continuation not enqueued; the sweeper will pick it up", self.id)
        return "continued"


async def _run_callbacks(import_id: int, callbacks: list[Any]) -> None:
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            log.warning("import %s: an after-commit callback failed", import_id, exc_info=True)


def _row(number: int, cells: list[str], columns: list[str]) -> Row | RowError | None:
    if not any(cell.strip() for cell in cells):
        return None
    if len(cells) > len(columns) and any(cell.strip() for cell in cells[len(columns) :]):
        return RowError(number, None, f"has {len(cells)} cells but the header names {len(columns)} columns")
    values = dict(zip(columns, cells, strict=False))
    for column in columns[len(cells) :]:
        values[column] = ""
    # The one CSV-cell rule for NUL (backend/core/text.py), before any kind sees the row: PostgreSQL cannot
    # store one, and refusing the row here keeps the other rows importing instead of failing every batch.
    for column, value in values.items():
        if NUL in value:
            return RowError(number, column, "contains a NUL character (\\u0000), which text may not hold")
    return Row(number, values)


async def sweep(queue: Any, now: datetime | None = None) -> list[int]:
    """Re-enqueue unfinished imports that went quiet and whose job is no longer waiting in Redis
    (lost with a Redis restart, or its worker died); returns their ids."""
    now = now or _now()
    revived = []
    for upload in await leases.quiet_imports(now):
        if upload["job_id"] and await _job_waiting(queue, upload["job_id"]):
            continue
        job_id = f"import:{upload['id']}:sweep:{int(now.timestamp())}"
        if await uploads.enqueue(queue, upload["id"], job_id):
            revived.append(upload["id"])
    if revived:
        log.warning("re-enqueued quiet imports %s", revived)
    return revived


async def _job_waiting(queue: Any, job_id: str) -> bool:
    status = await Job(job_id, queue).status()
    return status in (JobStatus.queued, JobStatus.deferred, JobStatus.in_progress)
