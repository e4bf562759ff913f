"""Turning an HTTP upload into a queued import: the file goes into the database in pieces of at most
1 MiB together with the import row, in one transaction, and only then is the job enqueued.

Litestar spools a multipart file to a temporary file beyond 1 MiB, so the api never holds an upload
whole either. Any endpoint that imports a CSV (contacts, opt-outs) calls :func:`store_upload`.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response
from litestar.datastructures import UploadFile
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from backend.audit import service as audit
from backend.core.database import transaction
from backend.core.errors import FieldProblem, FlowgateError, InvalidInput, handle_flowgate_error
from backend.core.text import NUL, nul_message, nul_path
from backend.imports import leases
from backend.imports.kinds import get_kind
from backend.imports.tables import Import, ImportChunk
from backend.workspaces.auth import Principal

log = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
"""Larger files answer 413: at ~60 bytes a contact that is well over a million rows."""
RUN_JOB = "run_import"
ON_ERROR_MODES = ("skip", "reject")


class PayloadTooLarge(FlowgateError):
    status_code = 413
    code = "payload_too_large"

    def __init__(self, field: str, limit: int) -> None:
        message = f"is larger than the {limit // (1024 * 1024)} MiB limit; split the file"
        super().__init__(f"{field}: {message}", [FieldProblem(field, message, "body")])


def _too_large(request: Request, _: RequestEntityTooLarge) -> Response:
    return handle_flowgate_error(request, PayloadTooLarge("file", MAX_UPLOAD_BYTES))


UPLOAD_ROUTE_OPTIONS: dict[str, Any] = {
    # Litestar's default body limit is 10 MB; room for the multipart envelope around the file.
    "request_max_body_size": MAX_UPLOAD_BYTES + 1024 * 1024,
    # A body past that limit is cut off by Litestar before the handler runs: name the field anyway.
    "exception_handlers": {RequestEntityTooLarge: _too_large},
}
"""Keyword arguments for the ``@post`` of an upload endpoint whose file field is ``file``."""


def first_job_id(import_id: int) -> str:
    return f"import:{import_id}"


async def store_upload(
    principal: Principal,
    kind: str,
    upload: UploadFile,
    *,
    options: dict[str, Any] | None = None,
    on_error: str = "skip",
    queue: Any = None,
    field: str = "file",
) -> dict[str, Any]:
    """Store ``upload`` as a queued import of ``kind`` and enqueue its job; returns the import row.

    ``options`` are the kind's own (e.g. ``group_id``; validate them before calling, so a bad one is a
    400 and not a failed import); ``on_error`` is ``skip`` (bad rows are reported and skipped) or
    ``reject`` (any bad row rejects the whole file). Raises :class:`InvalidInput` naming ``field`` for an
    empty file and :class:`PayloadTooLarge` (413) past :data:`MAX_UPLOAD_BYTES`. If Redis cannot take
    the job the import is still stored; the sweeper enqueues it within minutes.
    """
    if get_kind(kind) is None:
        raise RuntimeError(f"no import kind {kind!r} is registered")
    if on_error not in ON_ERROR_MODES:
        raise InvalidInput("on_error", f"must be one of {', '.join(ON_ERROR_MODES)}, not {on_error!r}")
    # Form fields are not Input structs: the same NUL rule (backend/core/text.py), before anything is stored.
    if NUL in (upload.filename or ""):
        raise InvalidInput(field, "the file name contains a NUL character (\\u0000); rename the file")
    if (where := nul_path(options or {})) is not None:
        raise InvalidInput(where, nul_message(where))
    now = datetime.now(UTC)
    await upload.seek(0)
    async with transaction():
        row = (
            await Import.insert(
                Import(
                    workspace=principal.workspace_id,
                    kind=kind,
                    status="queued",
                    filename=(upload.filename or "")[:255],
                    options={**(options or {}), "on_error": on_error},
                    created_by=principal.label[:200],
                    created_at=now,
                )
            ).returning(Import.id)
        )[0]
        import_id = row["id"]
        size = await _store_chunks(import_id, upload, field)
        await Import.update({Import.size_bytes: size}).where(Import.id == import_id)
        await leases.create(import_id, first_job_id(import_id), now)
        await audit.record(
            principal,
            "import.created",
            target_type="import",
            target_id=import_id,
            data={"kind": kind, "filename": upload.filename or "", "size_bytes": size},
        )
    await enqueue(queue, import_id, first_job_id(import_id))
    stored = await Import.select().where(Import.id == import_id).output(load_json=True).first()
    return stored


async def _store_chunks(import_id: int, upload: UploadFile, field: str) -> int:
    size = 0
    seq = 0
    while piece := await upload.read(CHUNK_BYTES):
        size += len(piece)
        if size > MAX_UPLOAD_BYTES:
            raise PayloadTooLarge(field, MAX_UPLOAD_BYTES)
        await ImportChunk.insert(ImportChunk(upload=import_id, seq=seq, data=piece))
        seq += 1
    if size == 0:
        raise InvalidInput(field, "is empty; upload a CSV file with a header row")
    return size


async def enqueue(queue: Any, import_id: int, job_id: str) -> bool:
    """Hand the import to the worker; False (logged) when Redis is unreachable: the sweeper retries."""
    if queue is None:
        return False
    try:
        await queue.enqueue_job(RUN_JOB, import_id, _job_id=job_id)
    except Exception:
        log.warning("could not enqueue import %s; the sweeper will", import_id, exc_info=True)
        return False
    with contextlib.suppress(Exception):
        await leases.record_enqueue(import_id, job_id, datetime.now(UTC))
    return True
