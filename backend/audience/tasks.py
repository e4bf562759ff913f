"""Worker jobs of this domain (registered in backend/worker.py through FUNCTIONS and CRON_JOBS).

The contacts CSV import runs in the generic ``run_import`` job of backend/imports; importing the kind
here registers it in every worker process.
"""

from __future__ import annotations

from backend.audience import contact_import  # noqa: F401 - registers the ``contacts`` import kind

FUNCTIONS: list = []
CRON_JOBS: list = []
