"""The opt-out pages' calls: the unsubscription list, the consent history, marketing categories and the
opt-out CSV import and export (``backend/consent`` and ``backend/imports`` on the API side).

Plain functions over :data:`ui.backend.api`, so errors arrive as the same :class:`~ui.backend.ApiError`
(with ``field_errors`` keyed by the field the API names) and :class:`~ui.backend.BackendUnreachable` as
everywhere else. The one call the shared client has no method for, a multipart upload, borrows its
``httpx`` client (see :func:`upload_optouts`).
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

from ui.backend import api


class OptOutInfo(TypedDict):
    """One entry of the unsubscription list: ``OptOutOut`` in ``backend/consent/schemas.py``."""

    id: int
    channel: str
    address: str
    category_id: int | None
    category_name: str | None
    sender_id: int | None
    sender_name: str | None
    scope: str
    """``workspace`` or ``sender``."""
    valid_until: str | None
    permanent: bool
    active: bool
    """Not revoked and not expired, right now."""
    remarks: str
    source: str
    self_service: bool
    """The person opted out themselves: only an admin with a reason may reverse it."""
    created_by: str
    created_at: str
    updated_at: str
    revoked_at: str | None
    revoked_by: str
    revoke_reason: str


class OptOutPage(TypedDict):
    items: list[OptOutInfo]
    next_cursor: str | None


class CheckInfo(TypedDict):
    opted_out: bool
    address: str
    """The address as an opt-out would store it (E.164, lower-case email)."""
    entries: list[OptOutInfo]
    """The active entries that block marketing to it."""


class ConsentEventInfo(TypedDict):
    id: int
    at: str
    channel: str
    address: str
    kind: str
    """``opt_out``, ``extended`` or ``opt_in``."""
    source: str
    category_id: int | None
    category_name: str
    sender_id: int | None
    sender_name: str
    entry_id: int | None
    valid_until: str | None
    actor: str
    reason: str
    evidence: dict[str, Any]


class CategoryInfo(TypedDict):
    id: int
    name: str
    description: str
    unsubscribe_days: int
    created_at: str


class RowErrorInfo(TypedDict):
    row: int
    column: str | None
    message: str


class ImportInfo(TypedDict):
    """``GET /api/v1/imports/{id}``: see ``backend/imports/schemas.py`` (ImportOut)."""

    id: int
    kind: str
    status: str
    """``queued``, ``running``, ``completed`` or ``failed``."""
    phase: str | None
    progress: float
    filename: str
    total_rows: int
    processed_rows: int
    created: int
    updated: int
    skipped: int
    error_count: int
    failure: str
    errors: list[RowErrorInfo]


MOST_EVENTS = 2_000
"""The most history events one page shows; an address with more is a bot, and the rest stay in the API."""


# --- the unsubscription list ----------------------------------------------------------------------------


async def list_optouts(
    token: str, filters: dict[str, Any], *, cursor: str | None = None, limit: int = 50
) -> OptOutPage:
    """One page of entries, oldest first; ``filters`` are the API's query parameters (None: not used)."""
    params = {**filters, "cursor": cursor, "limit": limit}
    return await api.request("GET", "/api/v1/optouts", token=token, params=params)


async def check_address(token: str, channel: str, address: str) -> CheckInfo:
    """How the API reads ``address`` and whether marketing to it is blocked now (any sender, any category).

    A bad address answers 400 with ``field_errors["address"]``: the form's validation as people type.
    """
    params = {"channel": channel, "address": address}
    return await api.request("GET", "/api/v1/optouts/check", token=token, params=params)


async def create_optout(token: str, body: dict[str, Any]) -> OptOutInfo:
    """Add an entry, or extend the active one for the same address, category and scope (durations add up)."""
    return await api.request("POST", "/api/v1/optouts", token=token, json=body)


async def revoke_optout(token: str, entry_id: int, reason: str) -> OptOutInfo:
    """Opt the address back in by revoking this entry; ``reason`` is kept in the history."""
    return await api.request("DELETE", f"/api/v1/optouts/{entry_id}", token=token, params={"reason": reason})


async def export_optouts(token: str, filters: dict[str, Any]) -> bytes:
    """The list as CSV, with the same filters as the page shows."""
    return await api.download(token, "/api/v1/optouts/export", params=filters)


async def address_history(token: str, channel: str, address: str) -> list[ConsentEventInfo]:
    """Every consent event of one address, oldest first (up to :data:`MOST_EVENTS`)."""
    events: list[ConsentEventInfo] = []
    cursor: str | None = None
    while len(events) < MOST_EVENTS:
        params = {"channel": channel, "address": address, "cursor": cursor, "limit": 500}
        page = await api.request("GET", "/api/v1/consent-events", token=token, params=params)
        events.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return events


# --- marketing categories --------------------------------------------------------------------------------


async def list_categories(token: str) -> list[CategoryInfo]:
    return await api.all_items(token, "/api/v1/marketing-categories")


async def create_category(token: str, body: dict[str, Any]) -> CategoryInfo:
    return await api.request("POST", "/api/v1/marketing-categories", token=token, json=body)


async def update_category(token: str, category_id: int, changes: dict[str, Any]) -> CategoryInfo:
    return await api.request(
        "PATCH", f"/api/v1/marketing-categories/{category_id}", token=token, json=changes
    )


async def delete_category(token: str, category_id: int) -> None:
    """Its active opt-outs become all-marketing opt-outs on the API side: none is lost."""
    await api.request("DELETE", f"/api/v1/marketing-categories/{category_id}", token=token)


# --- import ------------------------------------------------------------------------------------------------


async def upload_optouts(
    token: str,
    filename: str,
    data: bytes,
    *,
    sender_mapping: dict[str, int | str],
    on_error: str = "skip",
) -> ImportInfo:
    """Start an import (the API answers 202 at once; a worker applies the rows). Follow it with
    :func:`get_import`.

    ``sender_mapping`` maps a ``sender`` cell of the file to a sender id or ``"workspace"``.
    """
    form = {"on_error": on_error, "sender_mapping": json.dumps(sender_mapping)}
    return await api.upload(token, "/api/v1/optouts/import", filename=filename, data=data, form=form)


async def get_import(token: str, import_id: int) -> ImportInfo:
    """Status, progress (0 to 1), counts and the first 1,000 row errors of an import."""
    return await api.request("GET", f"/api/v1/imports/{import_id}", token=token)
