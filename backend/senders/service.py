"""Senders: create, read, change and delete them within the caller's workspace, never loosening consent.

A sender-scoped opt-out belongs to a number, not to a database row: when the row goes (DELETE) or
stops being that number (PATCH of ``address``), its opt-outs become workspace-wide in the same
transaction, so removing and re-adding a number cannot reach a person who said STOP to it. (The
``opt_out_entries.sender`` foreign key cascades; left alone, a delete would erase those opt-outs.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from msgspec import UNSET

from backend.audit import service as audit
from backend.config import get_settings
from backend.consent.tables import OptOutEntry
from backend.core.database import is_unique_violation, locked, refused_while_referenced, transaction
from backend.core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from backend.providers.registry import webhook_url
from backend.senders import provider_config
from backend.senders.schemas import SenderCreate, SenderPatch
from backend.senders.tables import (
    DEFAULT_HELP_KEYWORDS,
    DEFAULT_OPT_IN_KEYWORDS,
    DEFAULT_OPT_OUT_KEYWORDS,
    Sender,
)
from backend.senders.validation import (
    DEFAULT_RATE_LIMITS,
    check_keywords,
    check_provider,
    normalise_sender_address,
)
from backend.workspaces.auth import Principal
from backend.workspaces.tables import Workspace

KEYWORD_FIELDS = ("opt_out_keywords", "opt_in_keywords", "help_keywords")
_DEFAULT_KEYWORDS = {
    "opt_out_keywords": DEFAULT_OPT_OUT_KEYWORDS,
    "opt_in_keywords": DEFAULT_OPT_IN_KEYWORDS,
    "help_keywords": DEFAULT_HELP_KEYWORDS,
}
# Fields whose old and new values the audit log may show (config is reported by key names only).
_AUDITED_VALUES = (
    "name",
    "provider",
    "address",
    *KEYWORD_FIELDS,
    "help_reply",
    "opt_out_scope",
    "confirmation_message",
    "opt_in_confirmation_message",
    "rate_limit_per_second",
)


def senders_query(workspace_id: int, *columns: Any):
    return Sender.select(*columns).where(Sender.workspace == workspace_id).output(load_json=True)


async def load_sender(workspace_id: int, sender_id: int) -> dict[str, Any] | None:
    """The whole row, secrets included, for the gateway and the consent services (never for a response)."""
    return await senders_query(workspace_id).where(Sender.id == sender_id).first()


async def get_sender(principal: Principal, sender_id: int) -> dict[str, Any]:
    row = await load_sender(principal.workspace_id, sender_id)
    if row is None:
        raise NotFound("sender", sender_id)
    return row


def sender_out(row: dict[str, Any]) -> dict[str, Any]:
    """What the API shows of a sender: everything except secret values."""
    config = row["config"] or {}
    return {
        "id": row["id"],
        "name": row["name"],
        "channel": row["channel"],
        "provider": row["provider"],
        "address": row["address"],
        "config": provider_config.public_view(row["provider"], config),
        "secrets_set": provider_config.secrets_set(row["provider"], config),
        "opt_out_keywords": row["opt_out_keywords"],
        "opt_in_keywords": row["opt_in_keywords"],
        "help_keywords": row["help_keywords"],
        "help_reply": row["help_reply"],
        "opt_out_scope": row["opt_out_scope"],
        "confirmation_message": row["confirmation_message"],
        "opt_in_confirmation_message": row["opt_in_confirmation_message"],
        "rate_limit_per_second": row["rate_limit_per_second"],
        "webhook_url": provider_webhook_url(row["id"], row["provider"], config),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


WEBHOOK_PROVIDERS = frozenset({"whatsapp_cloud", "sms_http", "viber"})
"""Providers that call ``/webhooks/{sender_id}``; SMTP receives nothing and the sandbox is answered through
its authenticated ``/sandbox/inbound`` endpoint."""


def provider_webhook_url(sender_id: int, provider: str, config: dict[str, Any]) -> str | None:
    """The URL an admin gives the provider for inbound messages and statuses, or None when it calls none.

    Built from the deployment's public base URL (``FLOWGATE_PUBLIC_URL``, else ``FLOWGATE_API_URL``), as
    the gateway builds it, so the sender page shows exactly what the signatures are checked against. An
    SMS sender's configured ``public_webhook_url`` wins: that is the URL the provider was told and signs.
    """
    if provider not in WEBHOOK_PROVIDERS:
        return None
    if provider == "sms_http" and config.get("public_webhook_url"):
        return str(config["public_webhook_url"])
    return webhook_url(get_settings().base_public_url, sender_id)


async def _phone_region(workspace_id: int) -> str:
    row = await Workspace.select(Workspace.default_phone_region).where(Workspace.id == workspace_id).first()
    return row["default_phone_region"] if row else ""


def _address_taken(channel: str, address: str) -> Conflict:
    message = f"a {channel} sender with address {address} already exists in this workspace"
    return Conflict(f"address: {message}", [FieldProblem("address", message, "body")])


async def _ensure_address_free(
    workspace_id: int, channel: str, address: str, except_id: int | None = None
) -> None:
    query = Sender.exists().where(
        (Sender.workspace == workspace_id) & (Sender.channel == channel) & (Sender.address == address)
    )
    if except_id is not None:
        query = query.where(Sender.id != except_id)
    if await query:
        raise _address_taken(channel, address)


async def create_sender(principal: Principal, data: SenderCreate) -> dict[str, Any]:
    check_provider(data.channel, data.provider)
    address = normalise_sender_address(
        data.channel, data.address, await _phone_region(principal.workspace_id)
    )
    config = provider_config.validate(data.provider, data.config)
    lists = {field: getattr(data, field) for field in KEYWORD_FIELDS}
    # A clash with a default word is the fault of the list the request filled in.
    given = {field for field, words in lists.items() if words != _DEFAULT_KEYWORDS[field]}
    keywords = check_keywords(lists, changed=given)
    name = data.name.strip()
    if not name:
        raise InvalidInput("name", "must not be blank")
    async with transaction():
        await _ensure_address_free(principal.workspace_id, data.channel, address)
        try:
            row = (
                await Sender.insert(
                    Sender(
                        workspace=principal.workspace_id,
                        name=name,
                        channel=data.channel,
                        provider=data.provider,
                        address=address,
                        config=config,
                        opt_out_keywords=keywords["opt_out_keywords"],
                        opt_in_keywords=keywords["opt_in_keywords"],
                        help_keywords=keywords["help_keywords"],
                        help_reply=data.help_reply,
                        opt_out_scope=data.opt_out_scope,
                        confirmation_message=data.confirmation_message,
                        opt_in_confirmation_message=data.opt_in_confirmation_message,
                        rate_limit_per_second=data.rate_limit_per_second or DEFAULT_RATE_LIMITS[data.channel],
                    )
                ).returning(Sender.id)
            )[0]
        except Exception as exc:
            if is_unique_violation(exc):  # a concurrent create won the race for the address
                raise _address_taken(data.channel, address) from None
            raise
        await audit.record(
            principal,
            "sender.created",
            target_type="sender",
            target_id=row["id"],
            data={
                "name": name,
                "channel": data.channel,
                "provider": data.provider,
                "address": address,
                "secrets_set": provider_config.secrets_set(data.provider, config),
            },
        )
    return await get_sender(principal, row["id"])


def _patched_config(row: dict[str, Any], provider: str, patch: SenderPatch) -> dict[str, Any] | None:
    """The settings to store after ``patch``, or None when they stay as they are."""
    if provider != row["provider"]:
        # Another provider's settings (and secrets) mean nothing to this one: start from scratch.
        return provider_config.validate(provider, patch.config if patch.config is not UNSET else {})
    if patch.config is UNSET:
        return None
    return provider_config.merge(provider, row["config"] or {}, patch.config)


async def update_sender(principal: Principal, sender_id: int, patch: SenderPatch) -> dict[str, Any]:
    region = await _phone_region(principal.workspace_id)
    async with transaction():
        row = await locked(senders_query(principal.workspace_id).where(Sender.id == sender_id)).first()
        if row is None:
            raise NotFound("sender", sender_id)
        changes = _changes(row, patch, region)
        config = _patched_config(row, changes.get("provider", row["provider"]), patch)
        if "address" in changes:
            await _ensure_address_free(
                principal.workspace_id, row["channel"], changes["address"], except_id=sender_id
            )
        values: dict[Any, Any] = {Sender._meta.get_column_by_name(k): v for k, v in changes.items()}
        config_keys: list[str] = []
        if config is not None and config != row["config"]:
            values[Sender.config] = config
            old = row["config"] or {}
            config_keys = sorted(key for key in old.keys() | config.keys() if old.get(key) != config.get(key))
        if not values:
            return row
        now = datetime.now(UTC)
        values[Sender.updated_at] = now
        widened = 0
        if "address" in changes:
            widened = await widen_opt_outs(principal.workspace_id, sender_id, now)
        try:
            await Sender.update(values).where(Sender.id == sender_id)
        except Exception as exc:
            if is_unique_violation(exc):
                raise _address_taken(row["channel"], changes["address"]) from None
            raise
        data: dict[str, Any] = {
            "changes": {key: {"from": row[key], "to": value} for key, value in changes.items()}
        }
        if config_keys:
            data["config_keys"] = config_keys
        if "address" in changes:
            data["opt_outs_widened"] = widened
        await audit.record(principal, "sender.updated", target_type="sender", target_id=sender_id, data=data)
    return await get_sender(principal, sender_id)


def _changes(row: dict[str, Any], patch: SenderPatch, region: str) -> dict[str, Any]:
    """The patched fields whose value differs from the row, checked; config is handled apart."""
    if patch.channel is not UNSET and patch.channel != row["channel"]:
        raise InvalidInput(
            "channel", f"a {row['channel']} sender cannot move to {patch.channel}; create a new sender"
        )
    wanted: dict[str, Any] = {}
    for field in _AUDITED_VALUES:
        value = getattr(patch, field)
        if value is not UNSET:
            wanted[field] = value
    if "name" in wanted:
        wanted["name"] = wanted["name"].strip()
        if not wanted["name"]:
            raise InvalidInput("name", "must not be blank")
    if "provider" in wanted:
        check_provider(row["channel"], wanted["provider"])
    if "address" in wanted:
        wanted["address"] = normalise_sender_address(row["channel"], wanted["address"], region)
    patched_lists = {field for field in KEYWORD_FIELDS if field in wanted}
    if patched_lists:
        merged = {field: wanted.get(field, row[field]) for field in KEYWORD_FIELDS}
        cleaned = check_keywords(merged, changed=patched_lists)
        wanted.update({field: cleaned[field] for field in patched_lists})
    return {field: value for field, value in wanted.items() if value != row[field]}


async def widen_opt_outs(workspace_id: int, sender_id: int, now: datetime) -> int:
    """Make the sender's scoped opt-outs workspace-wide (call inside the caller's transaction).

    ``updated_at`` moves so integrators syncing with ``updated_since`` see the new scope.
    """
    widened = (
        await OptOutEntry.update({OptOutEntry.sender: None, OptOutEntry.updated_at: now})
        .where((OptOutEntry.workspace == workspace_id) & (OptOutEntry.sender == sender_id))
        .returning(OptOutEntry.id)
    )
    return len(widened)


async def delete_sender(principal: Principal, sender_id: int) -> int:
    """Delete a sender after widening its opt-outs; returns how many were widened. Refused (409) while a
    campaign sends through it."""
    async with (
        refused_while_referenced(
            f"sender {sender_id} is used by a campaign: delete the campaign or give it another sender first"
        ),
        transaction(),
    ):
        row = await locked(senders_query(principal.workspace_id).where(Sender.id == sender_id)).first()
        if row is None:
            raise NotFound("sender", sender_id)
        widened = await widen_opt_outs(principal.workspace_id, sender_id, datetime.now(UTC))
        await Sender.delete().where(Sender.id == sender_id)
        await audit.record(
            principal,
            "sender.deleted",
            target_type="sender",
            target_id=sender_id,
            data={
                "name": row["name"],
                "channel": row["channel"],
                "address": row["address"],
                "opt_outs_widened": widened,
            },
        )
    return widened
