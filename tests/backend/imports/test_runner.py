"""At-least-once delivery of import jobs: a job delivered twice, a run that crashes mid-file, a worker
that dies holding the import, a job lost by Redis, and files longer than one job's time slice never
lose a row nor apply or count one twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.audience.contact_import import ContactsImport
from backend.audience.tables import Contact
from backend.imports import leases, runner
from backend.imports.tables import Import
from tests.backend.imports.helpers import csv_bytes, fetch, run_worker, upload

HEADER = ["phone", "email", "name"]


def _file(count: int) -> bytes:
    return csv_bytes([HEADER] + [[f"+1415555{n:04d}", f"r{n}@example.com", f"R {n}"] for n in range(count)])


@pytest.fixture
async def queue(redis_url):
    from backend.core.queue import connect_queue

    pool = await connect_queue(redis_url)
    yield pool
    await pool.aclose()


async def _uploaded(client, tenant, count=3000, **form) -> int:
    response = await upload(client, tenant, _file(count), **form)
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def _contact_count(tenant) -> int:
    return await Contact.count().where(Contact.workspace == tenant.id)


def _failing_apply(monkeypatch, *, on_call: int, times: int = 1):
    """Make the contacts kind's apply raise on its ``on_call``-th call (``times`` times in a row)."""
    original = ContactsImport.apply
    calls = {"count": 0}

    async def apply(self, job, records):
        calls["count"] += 1
        if on_call <= calls["count"] < on_call + times:
            raise RuntimeError("worker lost its database connection")
        return await original(self, job, records)

    monkeypatch.setattr(ContactsImport, "apply", apply)
    return calls


async def test_progress_is_committed_batch_by_batch_and_slices_continue(client, tenant, queue, redis_url):
    import_id = await _uploaded(client, tenant)

    assert await runner.run_import(import_id, queue=queue, slice_seconds=0) == "continued"
    midway = await fetch(client, tenant, import_id)
    assert midway["status"] == "running" and midway["phase"] == "applying"
    assert (midway["total_rows"], midway["processed_rows"], midway["created"]) == (3000, 500, 500)
    assert midway["progress"] == pytest.approx(500 / 3000, abs=1e-3)
    assert await _contact_count(tenant) == 500

    # The continuation and the original job are both queued now; whichever claims first finishes.
    await run_worker(redis_url)
    done = await fetch(client, tenant, import_id)
    assert done["status"] == "completed", done
    assert (done["processed_rows"], done["created"], done["updated"], done["skipped"]) == (3000, 3000, 0, 0)
    assert await _contact_count(tenant) == 3000


async def test_a_crash_mid_file_resumes_from_the_last_committed_batch(client, tenant, queue, monkeypatch):
    import_id = await _uploaded(client, tenant)
    _failing_apply(monkeypatch, on_call=3)

    with pytest.raises(runner.RetryLater):
        await runner.run_import(import_id, queue=queue)
    crashed = await fetch(client, tenant, import_id)
    assert crashed["status"] == "running" and crashed["processed_rows"] == 1000
    assert await _contact_count(tenant) == 1000

    assert await runner.run_import(import_id, queue=queue) == "completed"
    done = await fetch(client, tenant, import_id)
    assert (done["processed_rows"], done["created"], done["updated"]) == (3000, 3000, 0)
    assert await _contact_count(tenant) == 3000


async def test_a_crash_in_reject_mode_restarts_with_nothing_applied(client, tenant, queue, monkeypatch):
    import_id = await _uploaded(client, tenant, on_error="reject")
    _failing_apply(monkeypatch, on_call=4)

    with pytest.raises(runner.RetryLater):
        await runner.run_import(import_id, queue=queue)
    assert await _contact_count(tenant) == 0

    assert await runner.run_import(import_id, queue=queue) == "completed"
    done = await fetch(client, tenant, import_id)
    assert (done["processed_rows"], done["created"], done["error_count"]) == (3000, 3000, 0)
    assert await _contact_count(tenant) == 3000


async def test_repeated_failures_end_in_a_failed_import(client, tenant, queue, monkeypatch):
    import_id = await _uploaded(client, tenant, count=10)
    _failing_apply(monkeypatch, on_call=1, times=100)
    for _ in range(runner.MAX_FAILED_RUNS - 1):
        with pytest.raises(runner.RetryLater):
            await runner.run_import(import_id, queue=queue)
    assert await runner.run_import(import_id, queue=queue) == "failed"
    done = await fetch(client, tenant, import_id)
    assert done["status"] == "failed"
    assert "3 failed attempts" in done["failure"] and "database connection" in done["failure"]


async def test_a_second_delivery_does_nothing(client, tenant, queue, redis_url):
    import_id = await _uploaded(client, tenant, count=700)
    await run_worker(redis_url)
    first = await fetch(client, tenant, import_id)
    assert first["status"] == "completed" and first["created"] == 700

    await queue.enqueue_job("run_import", import_id, _job_id=f"import:{import_id}:again")
    await run_worker(redis_url)
    assert await runner.run_import(import_id, queue=queue) == "skipped"
    assert await fetch(client, tenant, import_id) == first
    assert await _contact_count(tenant) == 700


async def test_a_live_run_keeps_others_out_and_a_dead_one_is_taken_over(client, tenant, queue):
    import_id = await _uploaded(client, tenant, count=1200)
    dead = await leases.claim(import_id, datetime.now(UTC))  # a worker that claimed it, then died
    assert dead is not None

    assert await runner.run_import(import_id, queue=queue) == "skipped"
    assert await _contact_count(tenant) == 0

    stale = datetime.now(UTC) - leases.STALE_AFTER - timedelta(seconds=1)
    await leases.ImportLease.update({leases.ImportLease.heartbeat_at: stale}).where(
        leases.ImportLease.upload == import_id
    )
    assert await runner.run_import(import_id, queue=queue) == "completed"
    assert await _contact_count(tenant) == 1200
    # Had the first worker only stalled, its next batch could not commit: its lease is gone.
    with pytest.raises(leases.LeaseLost):
        await leases.renew(import_id, dead.token, datetime.now(UTC))


async def test_the_sweeper_re_enqueues_an_import_whose_job_was_lost(client, tenant, queue, redis, redis_url):
    import_id = await _uploaded(client, tenant, count=20)
    later = datetime.now(UTC) + leases.STALE_AFTER + timedelta(seconds=5)

    assert await runner.sweep(queue) == []  # just enqueued: not quiet yet
    assert await runner.sweep(queue, now=later) == []  # quiet, but its job still waits in the queue

    await redis.flushdb()  # Redis restarted without persistence: the job is gone
    assert await runner.sweep(queue, now=later) == [import_id]
    lease = await leases.ImportLease.select().where(leases.ImportLease.upload == import_id).first()
    assert lease["job_id"].startswith(f"import:{import_id}:sweep:")

    await run_worker(redis_url)
    done = await fetch(client, tenant, import_id)
    assert done["status"] == "completed" and done["created"] == 20


async def test_the_sweeper_revives_a_run_whose_worker_died(client, tenant, queue, redis, redis_url):
    import_id = await _uploaded(client, tenant, count=20)
    await leases.claim(import_id, datetime.now(UTC))
    await redis.flushdb()
    stale = datetime.now(UTC) - leases.STALE_AFTER - timedelta(seconds=1)
    await leases.ImportLease.update(
        {leases.ImportLease.heartbeat_at: stale, leases.ImportLease.enqueued_at: stale}
    ).where(leases.ImportLease.upload == import_id)
    await Import.update({Import.created_at: stale}).where(Import.id == import_id)

    assert await runner.sweep(queue) == [import_id]
    await run_worker(redis_url)
    assert (await fetch(client, tenant, import_id))["status"] == "completed"


async def test_errors_beyond_the_first_thousand_are_counted_not_kept(client, tenant, redis_url):
    rows = [HEADER] + [["bad", "", ""] for _ in range(1200)] + [["+14155550001", "", "ok"]]
    response = await upload(client, tenant, csv_bytes(rows))
    await run_worker(redis_url)
    done = await fetch(client, tenant, response.json()["id"])
    assert done["error_count"] == 1200 and len(done["errors"]) == 1000
    assert done["errors"][0]["row"] == 1 and done["errors"][-1]["row"] == 1000
    assert done["created"] == 1 and done["skipped"] == 1200


def test_the_jobs_are_registered_with_the_worker():
    from backend.worker import CRON_JOBS, job_names

    assert {"run_import", "sweep_imports"} <= job_names()
    assert "cron:sweep_imports" in {job.name for job in CRON_JOBS}


async def test_reject_mode_validates_across_slices_then_applies_in_one_transaction(client, tenant, queue):
    import_id = await _uploaded(client, tenant, count=1200, on_error="reject")
    seen = []
    while (outcome := await runner.run_import(import_id, queue=queue, slice_seconds=0)) == "continued":
        state = await fetch(client, tenant, import_id)
        seen.append((state["phase"], state["processed_rows"], state["created"]))
        assert await _contact_count(tenant) == 0  # nothing is written before the final transaction
    assert outcome == "completed"
    assert seen == [("validating", 500, 0), ("validating", 1000, 0), ("applying", 0, 0)]
    done = await fetch(client, tenant, import_id)
    assert (done["processed_rows"], done["created"], done["skipped"]) == (1200, 1200, 0)
    assert await _contact_count(tenant) == 1200


async def test_reject_mode_refuses_files_too_long_for_one_transaction(client, tenant, queue, monkeypatch):
    monkeypatch.setattr(runner, "REJECT_MAX_ROWS", 100)
    import_id = await _uploaded(client, tenant, count=150, on_error="reject")
    assert await runner.run_import(import_id, queue=queue) == "failed"
    done = await fetch(client, tenant, import_id)
    assert "at most 100 rows" in done["failure"] and "on_error=skip" in done["failure"]
    assert await _contact_count(tenant) == 0


async def test_a_batch_whose_run_lost_the_lease_is_rolled_back(client, tenant, queue, monkeypatch):
    import_id = await _uploaded(client, tenant, count=1200)
    original = ContactsImport.apply

    async def apply(self, job, records):
        applied = await original(self, job, records)
        # While this batch was being written, the run stalled past STALE_AFTER and another took over.
        await leases.ImportLease.update({leases.ImportLease.token: "another-run"}).where(
            leases.ImportLease.upload == import_id
        )
        return applied

    monkeypatch.setattr(ContactsImport, "apply", apply)
    assert await runner.run_import(import_id, queue=queue) == "skipped"
    assert await _contact_count(tenant) == 0
    assert (await fetch(client, tenant, import_id))["processed_rows"] == 0
