"""Worker jobs of this domain (registered in backend/worker.py through FUNCTIONS and CRON_JOBS)."""

from __future__ import annotations

FUNCTIONS: list = []
CRON_JOBS: list = []
