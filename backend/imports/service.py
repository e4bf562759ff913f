"""Reading imports for the API. Every query is scoped to the caller's workspace."""

from __future__ import annotations

from typing import Any

from backend.core.errors import NotFound
from backend.imports import leases
from backend.imports.tables import Import

SUMMARY_COLUMNS = [column for column in Import.all_columns() if column._meta.name != "errors"]


def imports_query(workspace_id: int, *, with_errors: bool = False):
    columns = Import.all_columns() if with_errors else SUMMARY_COLUMNS
    return Import.select(*columns).where(Import.workspace == workspace_id).output(load_json=True)


async def get_import(workspace_id: int, import_id: int) -> dict[str, Any]:
    row = await imports_query(workspace_id, with_errors=True).where(Import.id == import_id).first()
    if row is None:
        raise NotFound("import", import_id)
    return row


def progress_of(row: dict[str, Any], phase: str | None) -> float:
    if row["status"] == "completed":
        return 1.0
    total = row["total_rows"]
    if row["status"] != "running" or not total or phase in (None, "", "scanning"):
        return 0.0
    share = min(row["processed_rows"] / total, 1.0)
    if row["options"].get("on_error") == "reject":
        return 0.5 if phase == "applying" else round(share / 2, 4)
    return round(share, 4)


async def with_phases(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    running = [row["id"] for row in rows if row["status"] == "running"]
    phases = await leases.phases(running)
    return [import_out(row, phases.get(row["id"])) for row in rows]


def import_out(row: dict[str, Any], phase: str | None) -> dict[str, Any]:
    phase = (phase or None) if row["status"] == "running" else None
    out = {
        "id": row["id"],
        "kind": row["kind"],
        "status": row["status"],
        "phase": phase,
        "progress": progress_of(row, phase),
        "filename": row["filename"],
        "size_bytes": row["size_bytes"],
        "on_error": row["options"].get("on_error", "skip"),
        "options": {key: value for key, value in row["options"].items() if key != "on_error"},
        "total_rows": row["total_rows"],
        "processed_rows": row["processed_rows"],
        "created": row["created_count"],
        "updated": row["updated_count"],
        "skipped": row["skipped_count"],
        "error_count": row["error_count"],
        "failure": row["failure"],
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
    }
    if "errors" in row:
        out["errors"] = row["errors"] or []
    return out
