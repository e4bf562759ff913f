"""Shared steps of the import tests: upload a CSV over the API, run the worker, read the import."""

from __future__ import annotations

import csv
import io


def csv_bytes(rows: list[list[str]], *, bom: bool = False, newline: str = "\r\n") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerows(rows)
    return ("\ufeff" if bom else "").encode() + buffer.getvalue().encode()


async def upload(client, tenant, data: bytes, *, role="marketer", filename="contacts.csv", **form):
    return await client.post(
        "/api/v1/contacts/import",
        files={"file": (filename, data, "text/csv")},
        data={key: str(value) for key, value in form.items()},
        headers=tenant.headers(role),
    )


async def run_worker(redis_url: str) -> None:
    from backend.worker import build_worker

    worker = build_worker(redis_url, burst=True)
    try:
        await worker.main()
    finally:
        await worker.close()


async def fetch(client, tenant, import_id: int) -> dict:
    response = await client.get(f"/api/v1/imports/{import_id}", headers=tenant.headers("viewer"))
    assert response.status_code == 200, response.text
    return response.json()


async def import_file(client, tenant, redis_url, data: bytes, **form) -> dict:
    """Upload, run the worker until the queue is empty, and return the finished import."""
    response = await upload(client, tenant, data, **form)
    assert response.status_code == 202, response.text
    await run_worker(redis_url)
    return await fetch(client, tenant, response.json()["id"])
