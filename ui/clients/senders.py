"""The sender pages' calls: senders themselves (``backend/senders``), the sandbox's simulated inbound
message (``backend/inbound``) and the two reads that say what such a message did (the sender's messages
and the address's consent events).

Plain functions over :data:`ui.backend.api`, so failures arrive as :class:`~ui.backend.ApiError` (with
``field_errors`` keyed by the field the API names, e.g. ``config.auto_reply.read``) and
:class:`~ui.backend.BackendUnreachable`, as everywhere else. ``None`` parameters are left out of queries.
"""

from __future__ import annotations

from typing import Any, TypedDict

from ui.backend import api


class SenderInfo(TypedDict):
    """``SenderOut`` in ``backend/senders/schemas.py``: a sender without its secrets."""

    id: int
    name: str
    channel: str
    provider: str
    address: str
    config: dict[str, Any]
    """The provider settings, secrets left out."""
    secrets_set: list[str]
    """Names of the secret settings that hold a value (shown as "set", never the value)."""
    opt_out_keywords: list[str]
    opt_in_keywords: list[str]
    help_keywords: list[str]
    help_reply: str
    opt_out_scope: str
    """``sender`` (a keyword opt-out blocks this sender only) or ``workspace``."""
    confirmation_message: str
    opt_in_confirmation_message: str
    rate_limit_per_second: int
    webhook_url: str | None
    """Where the provider posts inbound messages and statuses; None for SMTP and the sandbox."""
    created_at: str
    updated_at: str


class SenderPage(TypedDict):
    items: list[SenderInfo]
    next_cursor: str | None


class InboundAccepted(TypedDict):
    event_id: int
    duplicate: bool


class MessageInfo(TypedDict, total=False):
    """The fields of ``MessageOut`` the simulate box reads."""

    id: int
    direction: str
    contact_id: int | None
    to: str
    kind: str | None
    origin: str
    text: str | None
    status: str
    failure_reason: str | None
    provider_message_id: str | None
    created_at: str


class ConsentEventInfo(TypedDict, total=False):
    """The fields of a consent event the simulate box reads."""

    id: int
    at: str
    kind: str
    """``opt_out``, ``extended`` or ``opt_in``."""
    channel: str
    address: str
    source: str
    sender_id: int | None
    """None: the event applies to the whole workspace."""
    valid_until: str | None
    evidence: dict[str, Any]
    """For a keyword: ``inbound_message_id``, the message that said it."""


async def list_senders(
    token: str,
    *,
    name: str | None = None,
    channel: str | None = None,
    provider: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> SenderPage:
    params = {"name": name, "channel": channel, "provider": provider, "cursor": cursor, "limit": limit}
    return await api.request("GET", "/api/v1/senders", token=token, params=params)


async def get_sender(token: str, sender_id: int) -> SenderInfo:
    return await api.request("GET", f"/api/v1/senders/{sender_id}", token=token)


async def create_sender(token: str, body: dict[str, Any]) -> SenderInfo:
    return await api.request("POST", "/api/v1/senders", token=token, json=body)


async def update_sender(token: str, sender_id: int, changes: dict[str, Any]) -> SenderInfo:
    """``config`` merges: secrets left out keep their value, a key set to None is cleared."""
    return await api.request("PATCH", f"/api/v1/senders/{sender_id}", token=token, json=changes)


async def delete_sender(token: str, sender_id: int) -> None:
    """A 409 :class:`~ui.backend.ApiError` says which campaign still sends through it."""
    await api.request("DELETE", f"/api/v1/senders/{sender_id}", token=token)


async def simulate_inbound(
    token: str,
    sender_id: int,
    *,
    from_: str,
    text: str | None = None,
    button_id: str | None = None,
    event_id: str | None = None,
) -> InboundAccepted:
    """Reply to a sandbox sender as the contact ``from_`` would; the worker processes it like a webhook.

    ``event_id`` becomes the inbound message's ``provider_message_id``, which is how
    :func:`sender_messages` finds it once processed.
    """
    body: dict[str, Any] = {"from": from_}
    if text is not None:
        body["text"] = text
    if button_id is not None:
        body["button_id"] = button_id
    if event_id is not None:
        body["id"] = event_id
    return await api.request("POST", f"/api/v1/senders/{sender_id}/sandbox/inbound", token=token, json=body)


async def sender_messages(
    token: str,
    sender_id: int,
    *,
    direction: str | None = None,
    contact_id: int | None = None,
    limit: int = 20,
) -> list[MessageInfo]:
    """The sender's newest messages, newest first."""
    params = {"sender_id": sender_id, "direction": direction, "contact_id": contact_id, "limit": limit}
    page = await api.request("GET", "/api/v1/messages", token=token, params=params)
    return page["items"]


async def consent_events(token: str, *, channel: str, address: str, since: str) -> list[ConsentEventInfo]:
    """The address's consent events at or after ``since`` (ISO 8601), oldest first."""
    params = {"channel": channel, "address": address, "since": since, "limit": 50}
    page = await api.request("GET", "/api/v1/consent-events", token=token, params=params)
    return page["items"]
