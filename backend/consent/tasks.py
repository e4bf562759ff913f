"""Worker jobs of this domain (registered in backend/worker.py through FUNCTIONS and CRON_JOBS).

The consent domain has no jobs of its own: opt-outs are written where they arrive, and imported ones run
in the generic ``run_import`` job. Importing :mod:`backend.consent.importer` here registers the
``optouts`` import kind in every worker (the api registers it through the controllers).
"""

from __future__ import annotations

from backend.consent import importer  # noqa: F401 - registers the ``optouts`` import kind

FUNCTIONS: list = []
CRON_JOBS: list = []
