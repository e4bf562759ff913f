"""Workspace administration over the API: settings, users, API keys, consent webhooks and the audit log.

Plain functions over :data:`ui.backend.api`, one per endpoint, so the settings pages import what they
use. Lists return the API's page (``items`` and ``next_cursor``); ``None`` parameters are left out of the
query by the transport.
"""

from __future__ import annotations

from typing import Any, TypedDict

from ui.backend import api


class Settings(TypedDict):
    """``GET /api/v1/settings``."""

    marketing_unsubscription_days: int
    allow_private_urls: bool
    default_phone_region: str
    """ISO 3166 code (``PT``) used to read phone numbers written without +country code; empty: none."""
    timezone: str
    optout_form_url: str
    """Read-only: the public web opt-out form of this workspace."""


class Member(TypedDict):
    """A user of the workspace (``/api/v1/users``)."""

    id: int
    email: str
    name: str
    role: str
    created_at: str


class ApiKey(TypedDict):
    id: int
    name: str
    role: str
    prefix: str
    """``fgk_<lookup>``: the start of the key, enough to recognise it in a config file."""
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None
    created_by: int | None


class NewApiKey(ApiKey):
    key: str
    """The whole key, in this answer only."""


class Webhook(TypedDict):
    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str
    created_at: str


class NewWebhook(Webhook):
    secret: str
    """``whsec_…``, in this answer only."""


class Delivery(TypedDict):
    id: int
    endpoint_id: int
    message_id: str
    event_type: str
    payload: dict[str, Any]
    status: str
    """``pending``, ``succeeded`` or ``failed``."""
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str
    created_at: str
    delivered_at: str | None


class AuditEvent(TypedDict):
    id: int
    at: str
    actor: str
    actor_user_id: int | None
    action: str
    target_type: str
    target_id: str
    data: dict[str, Any]


class Page(TypedDict):
    items: list[Any]
    next_cursor: str | None


# --- settings ------------------------------------------------------------------------------------------


async def get_settings(token: str) -> Settings:
    return await api.request("GET", "/api/v1/settings", token=token)


async def update_settings(token: str, changes: dict[str, Any]) -> Settings:
    """Only the fields in ``changes`` change; a 400 names each field the API refused."""
    return await api.request("PATCH", "/api/v1/settings", token=token, json=changes)


# --- users ---------------------------------------------------------------------------------------------


async def list_users(token: str, *, cursor: str | None = None, limit: int = 50) -> Page:
    return await api.request("GET", "/api/v1/users", token=token, params={"cursor": cursor, "limit": limit})


async def create_user(token: str, *, email: str, name: str, role: str, password: str) -> Member:
    body = {"email": email, "name": name, "role": role, "password": password}
    return await api.request("POST", "/api/v1/users", token=token, json=body)


async def update_user(token: str, user_id: int, changes: dict[str, Any]) -> Member:
    """``name``, ``role`` or ``password``; demoting the last admin is a 409 with the API's sentence."""
    return await api.request("PATCH", f"/api/v1/users/{user_id}", token=token, json=changes)


async def delete_user(token: str, user_id: int) -> None:
    await api.request("DELETE", f"/api/v1/users/{user_id}", token=token)


# --- API keys ------------------------------------------------------------------------------------------


async def list_api_keys(token: str, *, cursor: str | None = None, limit: int = 50) -> Page:
    return await api.request(
        "GET", "/api/v1/api-keys", token=token, params={"cursor": cursor, "limit": limit}
    )


async def create_api_key(token: str, *, name: str, role: str, expires_at: str | None = None) -> NewApiKey:
    body: dict[str, Any] = {"name": name, "role": role}
    if expires_at is not None:
        body["expires_at"] = expires_at
    return await api.request("POST", "/api/v1/api-keys", token=token, json=body)


async def revoke_api_key(token: str, key_id: int) -> ApiKey:
    return await api.request("DELETE", f"/api/v1/api-keys/{key_id}", token=token)


# --- consent webhooks ----------------------------------------------------------------------------------


async def list_webhooks(token: str, *, cursor: str | None = None, limit: int = 50) -> Page:
    return await api.request(
        "GET", "/api/v1/webhooks", token=token, params={"cursor": cursor, "limit": limit}
    )


async def get_webhook(token: str, webhook_id: int) -> Webhook:
    return await api.request("GET", f"/api/v1/webhooks/{webhook_id}", token=token)


async def create_webhook(token: str, *, url: str, events: list[str], description: str = "") -> NewWebhook:
    body = {"url": url, "events": events, "description": description}
    return await api.request("POST", "/api/v1/webhooks", token=token, json=body)


async def delete_webhook(token: str, webhook_id: int) -> None:
    await api.request("DELETE", f"/api/v1/webhooks/{webhook_id}", token=token)


async def enable_webhook(token: str, webhook_id: int) -> Webhook:
    return await api.request("POST", f"/api/v1/webhooks/{webhook_id}/enable", token=token)


async def send_test_event(token: str, webhook_id: int) -> Delivery:
    """Queue a signed ``webhook.test`` event for the endpoint; the answer is its (pending) delivery."""
    return await api.request("POST", f"/api/v1/webhooks/{webhook_id}/test", token=token)


async def list_deliveries(
    token: str, webhook_id: int, *, status: str | None = None, cursor: str | None = None, limit: int = 50
) -> Page:
    """The endpoint's delivery log, newest first."""
    params = {"status": status, "order": "newest", "cursor": cursor, "limit": limit}
    return await api.request("GET", f"/api/v1/webhooks/{webhook_id}/deliveries", token=token, params=params)


# --- audit log -----------------------------------------------------------------------------------------


async def audit_log(
    token: str,
    *,
    action: str | None = None,
    since: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Who changed what, newest first; ``action`` is exact (``api_key.revoked``), ``since`` ISO 8601."""
    params = {"action": action, "since": since, "order": "newest", "cursor": cursor, "limit": limit}
    return await api.request("GET", "/api/v1/audit-log", token=token, params=params)
