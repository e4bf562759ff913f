"""The API calls of the audience screens: contacts, groups, contact imports and exports, and what a
contact page shows of other domains (opt-outs, consent history, runs, messages).

Plain functions over :data:`ui.backend.api`; each returns the API's decoded JSON and raises
:class:`~ui.backend.ApiError` or :class:`~ui.backend.BackendUnreachable` like every call of the UI.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

from ui.backend import NamedRef, api


class Page(TypedDict):
    items: list[dict[str, Any]]
    next_cursor: str | None


class GroupInfo(TypedDict):
    id: int
    name: str
    description: str
    bypass_opt_out_filter: bool
    member_count: int
    created_at: str


# --- contacts ------------------------------------------------------------------------------------------


async def list_contacts(
    token: str,
    *,
    q: str | None = None,
    group_id: int | None = None,
    tag: str | None = None,
    include: list[str] | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    params = {"q": q, "group_id": group_id, "tag": tag, "include": include, "cursor": cursor, "limit": limit}
    return await api.request("GET", "/api/v1/contacts", token=token, params=params)


async def get_contact(token: str, contact_id: int, *, include: list[str] | None = None) -> dict[str, Any]:
    return await api.request(
        "GET", f"/api/v1/contacts/{contact_id}", token=token, params={"include": include}
    )


async def create_contact(token: str, body: dict[str, Any]) -> dict[str, Any]:
    return await api.request("POST", "/api/v1/contacts", token=token, json=body)


async def update_contact(token: str, contact_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    return await api.request("PATCH", f"/api/v1/contacts/{contact_id}", token=token, json=changes)


async def delete_contact(token: str, contact_id: int) -> None:
    await api.request("DELETE", f"/api/v1/contacts/{contact_id}", token=token)


async def export_contacts(
    token: str, *, q: str | None = None, tag: str | None = None, group_id: int | None = None
) -> bytes:
    """The CSV of the contacts the list's filters select (it imports back as it is)."""
    params = {"q": q, "tag": tag, "group_id": group_id}
    return await api.download(token, "/api/v1/contacts/export", params=params)


# --- groups --------------------------------------------------------------------------------------------


async def list_groups(
    token: str, *, name: str | None = None, cursor: str | None = None, limit: int = 50
) -> Page:
    params = {"name": name, "cursor": cursor, "limit": limit}
    return await api.request("GET", "/api/v1/groups", token=token, params=params)


async def get_group(token: str, group_id: int) -> GroupInfo:
    return await api.request("GET", f"/api/v1/groups/{group_id}", token=token)


async def create_group(token: str, body: dict[str, Any]) -> GroupInfo:
    return await api.request("POST", "/api/v1/groups", token=token, json=body)


async def update_group(token: str, group_id: int, changes: dict[str, Any]) -> GroupInfo:
    return await api.request("PATCH", f"/api/v1/groups/{group_id}", token=token, json=changes)


async def delete_group(token: str, group_id: int) -> None:
    await api.request("DELETE", f"/api/v1/groups/{group_id}", token=token)


async def group_members(
    token: str,
    group_id: int,
    *,
    include: list[str] | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    params = {"include": include, "cursor": cursor, "limit": limit}
    return await api.request("GET", f"/api/v1/groups/{group_id}/members", token=token, params=params)


async def add_members(token: str, group_id: int, contact_ids: list[int]) -> dict[str, Any]:
    return await api.request(
        "POST", f"/api/v1/groups/{group_id}/members", token=token, json={"contact_ids": contact_ids}
    )


async def remove_members(token: str, group_id: int, contact_ids: list[int]) -> dict[str, Any]:
    return await api.request(
        "DELETE", f"/api/v1/groups/{group_id}/members", token=token, json={"contact_ids": contact_ids}
    )


async def group_audience(
    token: str,
    group_id: int,
    channel: str,
    *,
    sender_id: int | None = None,
    category_id: int | None = None,
) -> dict[str, Any]:
    """``{members, eligible, excluded: {opted_out, no_address}, opt_out_filter_applied}`` on a channel."""
    params = {"channel": channel, "sender_id": sender_id, "category_id": category_id}
    return await api.request("GET", f"/api/v1/groups/{group_id}/audience", token=token, params=params)


# --- imports -------------------------------------------------------------------------------------------


async def upload_contacts(
    token: str,
    filename: str,
    data: bytes,
    *,
    columns: dict[str, str | None],
    group_id: int | None = None,
    on_error: str = "skip",
) -> dict[str, Any]:
    """``POST /contacts/import`` as ``multipart/form-data``: the file, its column mapping and options."""
    form = {"columns": json.dumps(columns), "on_error": on_error}
    if group_id is not None:
        form["group_id"] = str(group_id)
    return await api.upload(token, "/api/v1/contacts/import", filename=filename, data=data, form=form)


async def get_import(token: str, import_id: int) -> dict[str, Any]:
    return await api.request("GET", f"/api/v1/imports/{import_id}", token=token)


async def list_imports(token: str, *, cursor: str | None = None, limit: int = 50) -> Page:
    params = {"kind": "contacts", "cursor": cursor, "limit": limit}
    return await api.request("GET", "/api/v1/imports", token=token, params=params)


# --- what a contact page shows of other domains -------------------------------------------------------


async def consent_events(token: str, address: str, *, cursor: str | None = None, limit: int = 100) -> Page:
    """The consent history of one address (a phone's events cover whatsapp, sms and viber)."""
    params = {"address": address, "cursor": cursor, "limit": limit}
    return await api.request("GET", "/api/v1/consent-events", token=token, params=params)


async def contact_runs(token: str, contact_id: int, *, cursor: str | None = None, limit: int = 20) -> Page:
    params = {"cursor": cursor, "limit": limit}
    return await api.request("GET", f"/api/v1/contacts/{contact_id}/runs", token=token, params=params)


async def contact_messages(
    token: str, contact_id: int, *, cursor: str | None = None, limit: int = 30
) -> Page:
    """The conversation newest first (``GET /messages?contact_id=``), so a chat opens on its latest
    messages and "earlier" pages go back in time."""
    params = {"contact_id": contact_id, "cursor": cursor, "limit": limit}
    return await api.request("GET", "/api/v1/messages", token=token, params=params)


async def get_message(token: str, message_id: int) -> dict[str, Any]:
    return await api.request("GET", f"/api/v1/messages/{message_id}", token=token)


async def send_message(token: str, body: dict[str, Any]) -> dict[str, Any]:
    return await api.request("POST", "/api/v1/messages", token=token, json=body)


async def check_opt_out(
    token: str, channel: str, address: str, *, sender_id: int | None, category_id: int | None
) -> dict[str, Any]:
    """The consent gate's answer for a marketing message: ``{opted_out, entries}``."""
    params = {"channel": channel, "address": address, "sender_id": sender_id, "category_id": category_id}
    return await api.request("GET", "/api/v1/optouts/check", token=token, params=params)


async def flow_names(token: str) -> dict[int, str]:
    """Every flow's name by id (runs name their flow by id)."""
    names: dict[int, str] = {}
    cursor: str | None = None
    while len(names) < 5_000:
        page = await api.list_flows(token, cursor=cursor, limit=500)
        names.update({flow["id"]: flow["name"] for flow in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            break
    return names


async def all_groups(token: str) -> list[NamedRef]:
    return await api.list_groups(token)
