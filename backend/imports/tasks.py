"""Worker jobs of this domain (registered in backend/worker.py through FUNCTIONS and CRON_JOBS)."""

from __future__ import annotations

from typing import Any

from arq import Retry, cron

from backend.imports import runner


async def run_import(ctx: dict[str, Any], import_id: int) -> str:
    """Run (or continue) one import; safe to deliver twice, see :mod:`backend.imports.runner`."""
    try:
        return await runner.run_import(import_id, queue=ctx["redis"])
    except runner.RetryLater as later:
        raise Retry(defer=later.defer) from later


async def sweep_imports(ctx: dict[str, Any]) -> list[int]:
    """Every minute: re-enqueue imports whose job was lost or whose worker died."""
    return await runner.sweep(ctx["redis"])


FUNCTIONS = [run_import, sweep_imports]
CRON_JOBS = [cron(sweep_imports, second={30}, unique=True)]
