"""Response bodies of the imports API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from backend.core.schemas import Output

ImportStatus = Literal["queued", "running", "completed", "failed"]


class RowErrorOut(Output):
    row: int
    """1 is the first data row after the header."""
    column: str | None
    """The normalised column name, or null when the whole row is at fault."""
    message: str


class ImportSummary(Output):
    id: int
    kind: str
    status: ImportStatus
    phase: str | None
    """While running: ``scanning`` (reading the file), ``validating`` (on_error=reject) or ``applying``."""
    progress: float
    """0 to 1: the share of rows done (with on_error=reject, validating is the first half)."""
    filename: str
    size_bytes: int
    on_error: Literal["skip", "reject"]
    options: dict[str, Any]
    total_rows: int
    """Data rows in the file (blank rows included); known once the file has been scanned."""
    processed_rows: int
    created: int
    updated: int
    skipped: int
    """Rows not applied: rows with errors, and blank rows."""
    error_count: int
    failure: str
    """Why the whole import failed; empty otherwise."""
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ImportOut(ImportSummary):
    errors: list[RowErrorOut]
    """The first 1,000 errors, by row."""
