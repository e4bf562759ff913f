"""Who is running an import right now, and when it last showed signs of life.

arq delivers a job at least once, Redis may lose a queued job, and a worker may die mid-file. The
database keeps the truth: one lease row per import records the job last enqueued for it, the run that
holds it (a random token) and that run's heartbeat. A run claims the lease before doing anything and
renews it inside every batch's transaction, so a run that lost the lease (it stalled, and another run
took over) cannot commit one more batch. The sweeper re-enqueues imports whose lease went quiet.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from piccolo.columns import BigSerial, ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.table import Table

from backend.core.database import locked, transaction
from backend.imports.tables import Import

STALE_AFTER = timedelta(minutes=3)
"""A run that has not renewed its lease for this long is presumed dead (batches take well under a
second; a time slice ends after 40 s), so another run may take the import over."""

FINAL_STATUSES = ("completed", "failed")


class ImportLease(Table, tablename="import_leases"):
    """One per import (created with it). Kept out of ``imports`` so the public record stays clean."""

    id = BigSerial(primary_key=True)
    upload = ForeignKey(Import, on_delete=OnDelete.cascade, null=False, unique=True)
    job_id = Varchar(length=100, default="")
    """The arq job last enqueued for this import (the sweeper checks it is still queued)."""
    enqueued_at = Timestamptz(null=True, default=None)
    token = Varchar(length=32, null=True, default=None)
    """The run holding the import; NULL when none does."""
    heartbeat_at = Timestamptz(null=True, default=None)
    phase = Varchar(length=16, default="")
    """Where a run is: ``scanning``, ``validating`` (reject mode) or ``applying``."""
    runs = Integer(default=0)
    failures = Integer(default=0)
    """Runs that ended in an unexpected error; after a few the import is marked failed."""


class LeaseLost(Exception):
    """Another run took the import over (this one stalled past :data:`STALE_AFTER`)."""


@dataclass(frozen=True, slots=True)
class Claim:
    token: str
    upload: dict[str, Any]
    """The import row as it was when claimed (counts, errors, options: the checkpoint to resume)."""
    phase: str
    runs: int
    failures: int


def _is_alive(lease: dict[str, Any], now: datetime) -> bool:
    heartbeat = lease["heartbeat_at"]
    return bool(lease["token"]) and heartbeat is not None and heartbeat > now - STALE_AFTER


async def create(import_id: int, job_id: str, now: datetime) -> None:
    """The lease of a new import; call in the transaction that creates the import."""
    await ImportLease.insert(ImportLease(upload=import_id, job_id=job_id, enqueued_at=now))


async def claim(import_id: int, now: datetime) -> Claim | None:
    """Take the import for this run; None when it is finished, gone, or another live run holds it."""
    async with transaction():
        upload = await locked(Import.select().where(Import.id == import_id)).output(load_json=True).first()
        if upload is None or upload["status"] in FINAL_STATUSES:
            return None
        lease = await locked(ImportLease.select().where(ImportLease.upload == import_id)).first()
        if lease is None:
            await ImportLease.insert(ImportLease(upload=import_id))
            lease = {"token": None, "heartbeat_at": None, "phase": "", "runs": 0, "failures": 0}
        if _is_alive(lease, now):
            return None
        token = secrets.token_hex(16)
        await ImportLease.update(
            {ImportLease.token: token, ImportLease.heartbeat_at: now, ImportLease.runs: lease["runs"] + 1}
        ).where(ImportLease.upload == import_id)
        values: dict[Any, Any] = {Import.status: "running"}
        if upload["started_at"] is None:
            values[Import.started_at] = now
        await Import.update(values).where(Import.id == import_id)
    return Claim(token, upload, lease["phase"], lease["runs"] + 1, lease["failures"])


async def renew(import_id: int, token: str, now: datetime, phase: str | None = None) -> None:
    """The heartbeat; inside a batch's transaction it also proves the batch's run still holds the lease."""
    values: dict[Any, Any] = {ImportLease.heartbeat_at: now}
    if phase is not None:
        values[ImportLease.phase] = phase
    renewed = (
        await ImportLease.update(values)
        .where((ImportLease.upload == import_id) & (ImportLease.token == token))
        .returning(ImportLease.id)
    )
    if not renewed:
        raise LeaseLost(f"import {import_id} was taken over by another run")


async def release(import_id: int, token: str, *, failures: int | None = None) -> None:
    """Give the import up (end of a time slice, or an error, then with the run's failure count)."""
    values: dict[Any, Any] = {ImportLease.token: None}
    if failures is not None:
        values[ImportLease.failures] = failures
    await ImportLease.update(values).where((ImportLease.upload == import_id) & (ImportLease.token == token))


async def record_enqueue(import_id: int, job_id: str, now: datetime) -> None:
    await ImportLease.update({ImportLease.job_id: job_id, ImportLease.enqueued_at: now}).where(
        ImportLease.upload == import_id
    )


async def quiet_imports(now: datetime) -> list[dict[str, Any]]:
    """Unfinished imports with no sign of life for :data:`STALE_AFTER`: their job may be lost."""
    cutoff = now - STALE_AFTER
    uploads = await Import.select(Import.id, Import.created_at).where(
        Import.status.is_in(["queued", "running"])
    )
    if not uploads:
        return []
    leases = {
        lease["upload"]: lease
        for lease in await ImportLease.select().where(
            ImportLease.upload.is_in([upload["id"] for upload in uploads])
        )
    }
    quiet = []
    for upload in uploads:
        lease = leases.get(upload["id"], {})
        last = max(
            (
                moment
                for moment in (upload["created_at"], lease.get("enqueued_at"), lease.get("heartbeat_at"))
                if moment is not None
            ),
        )
        if last <= cutoff:
            quiet.append({"id": upload["id"], "job_id": lease.get("job_id", "")})
    return quiet


async def phases(import_ids: list[int]) -> dict[int, str]:
    """The current phase of running imports, for the API."""
    if not import_ids:
        return {}
    rows = await ImportLease.select(ImportLease.upload, ImportLease.phase).where(
        ImportLease.upload.is_in(import_ids)
    )
    return {row["upload"]: row["phase"] for row in rows}
