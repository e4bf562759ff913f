"""How fast a contacts CSV imports through the real import path, and how much memory it takes.

Run: ``.venv/bin/python bench/contacts_import.py`` (a temporary SQLite file), or with
``FLOWGATE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres`` (a fresh database is created on
that server and dropped afterwards), or ``FLOWGATE_DATABASE_URL=sqlite:///path.db`` (that file).
``--rows N`` (default 100,000), ``--on-error reject`` for the one-transaction mode.

What runs is what production runs: the CSV is written to a temporary file (never held in memory),
handed to :func:`backend.imports.uploads.store_upload` as a Litestar ``UploadFile`` (stored as 1 MiB
chunks with the import row), then the job function :func:`backend.imports.runner.run_import` runs until
the import finishes, time slices and continuations included (the continuations go to a stand-in queue
and are run in turn, as a worker would). Measured:

a) storing the upload;
b) the first import: every row creates a contact (bulk INSERT per batch of 500);
c) the same file again: every row matches its contact, nothing changed, so nothing is written;

with rows/s, and the process' peak resident memory before and after (the file is ~10 MB for 100k rows;
a run that held it would show).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import scratch_pg

CITIES = ["Lisboa", "Porto", "Braga", "Faro", "Coimbra", "Évora"]
PLANS = ["free", "gold", "silver"]


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_csv(path: Path, rows: int, seed: int = 7) -> int:
    """A realistic contacts file, row by row; returns its size in bytes."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Phone", "Email", "Name", "Timezone", "Tags", "City", "Plan"])
        for number in range(rows):
            writer.writerow(
                [
                    f"+3519{'1236'[number % 4]}{number:07d}",  # valid Portuguese mobiles (91, 92, 93, 96)
                    f"person{number}@example.com" if rng.random() < 0.8 else "",
                    f"Person {number}",
                    "Europe/Lisbon" if rng.random() < 0.5 else "",
                    ";".join(rng.sample(["vip", "news", "b2b", "trial"], rng.randint(0, 2))),
                    rng.choice(CITIES),
                    rng.choice(PLANS),
                ]
            )
    return path.stat().st_size


class _Continuations:
    """Stands in for the arq pool: collects continuation jobs instead of sending them to Redis."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple]] = []

    async def enqueue_job(self, function: str, *args, _job_id: str | None = None):
        self.jobs.append((function, args))
        return _job_id


async def _run_to_end(import_id: int) -> tuple[str, int]:
    from backend.imports import runner

    queue = _Continuations()
    runs = 0
    while True:
        runs += 1
        outcome = await runner.run_import(import_id, queue=queue)
        if outcome != "continued":
            return outcome, runs


async def _store(principal, path: Path, on_error: str) -> dict:
    from litestar.datastructures import UploadFile

    from backend.imports.uploads import store_upload

    upload = UploadFile(content_type="text/csv", filename=path.name)
    with path.open("rb") as handle:
        while piece := handle.read(256 * 1024):
            await upload.write(piece)
    try:
        return await store_upload(principal, "contacts", upload, on_error=on_error)
    finally:
        await upload.close()


async def bench(rows: int, on_error: str, folder: Path) -> None:
    import backend.audience.contact_import  # noqa: F401 - registers the contacts kind
    from backend.core.database import database_connection, migrate
    from backend.imports.tables import Import
    from backend.workspaces import service
    from backend.workspaces.auth import Principal
    from backend.workspaces.roles import CredentialKind, Role
    from backend.workspaces.tables import Credential

    await migrate()
    async with database_connection():
        workspace, _ = await service.create_workspace(
            f"Bench {uuid.uuid4().hex[:6]}", f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench-password"
        )
        key = await Credential.select(Credential.id).where(Credential.workspace == workspace["id"]).first()
        principal = Principal(
            workspace["id"], key["id"], CredentialKind.api_key, Role.marketer, None, "bench"
        )

        path = folder / "contacts.csv"
        size = write_csv(path, rows)
        print(
            f"file: {rows:,} rows, {size / 1024 / 1024:.1f} MiB; peak RSS before: {_peak_rss_mib():.0f} MiB"
        )

        for label in ("create", "same file again"):
            started = time.perf_counter()
            stored = await _store(principal, path, on_error)
            stored_s = time.perf_counter() - started
            started = time.perf_counter()
            outcome, runs = await _run_to_end(stored["id"])
            elapsed = time.perf_counter() - started
            done = await Import.select().where(Import.id == stored["id"]).first()
            print(
                f"{label:>16}: store {stored_s:5.2f} s; import {elapsed:6.2f} s = {rows / elapsed:8,.0f} rows/s "
                f"({outcome}, {runs} slice(s)); created {done['created_count']:,} updated "
                f"{done['updated_count']:,} errors {done['error_count']}; peak RSS {_peak_rss_mib():.0f} MiB"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--on-error", choices=["skip", "reject"], default="skip")
    args = parser.parse_args()

    configured = os.environ.get("FLOWGATE_DATABASE_URL", "").strip()
    folder = Path(tempfile.mkdtemp(prefix="flowgate-bench-"))
    scratch_name: str | None = None
    if configured.startswith(("postgresql://", "postgres://")):
        scratch_name, url = asyncio.run(scratch_pg.create_scratch_database(configured))
    elif configured:
        url = configured
    else:
        url = f"sqlite:///{folder / 'bench.db'}"
    os.environ["FLOWGATE_DATABASE_URL"] = url
    os.environ.setdefault("FLOWGATE_DATA_DIR", str(folder / "data"))
    print(f"database: {url.split('@')[-1]}")
    try:
        asyncio.run(bench(args.rows, args.on_error, folder))
    finally:
        if scratch_name:
            asyncio.run(scratch_pg.drop_scratch_database(configured, scratch_name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
