"""Workspace, user and credential logic. Every function that touches workspace data takes the caller's
workspace id and filters by it, so another workspace's rows are simply not found."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.exceptions import NotAuthorizedException, TooManyRequestsException
from msgspec import UNSET
from redis.asyncio import Redis

from backend.audience.addresses import normalise_email
from backend.audit import service as audit
from backend.core.database import transaction
from backend.core.errors import Conflict, InvalidInput, NotFound
from backend.core.security import (
    API_KEY_PREFIX,
    SESSION_PREFIX,
    burn_password_check,
    hash_password,
    hash_token,
    new_token,
    parse_token,
    token_matches,
    verify_password,
)
from backend.workspaces.auth import Principal
from backend.workspaces.roles import CredentialKind, Role
from backend.workspaces.schemas import SettingsPatch, UserPatch
from backend.workspaces.tables import Credential, User, Workspace

SESSION_LIFETIME = timedelta(days=7)


def _label_for_key(name: str, lookup: str) -> str:
    return f"API key '{name}' ({API_KEY_PREFIX}_{lookup})"


# --- workspaces -------------------------------------------------------------------------------------


async def create_workspace(
    name: str, admin_email: str, admin_password: str, *, admin_name: str = ""
) -> tuple[dict[str, Any], str]:
    """A workspace, its first admin and an admin API key (returned once, in clear)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("name", "must be 1 to 100 characters")
    if len(admin_password) < 8:
        raise InvalidInput("admin_password", "must be at least 8 characters")
    email = normalise_email(admin_email, field="admin_email")
    async with transaction():
        if await User.exists().where(User.email == email):
            raise Conflict(f"admin_email: a user with email {email} already exists")
        workspace = (await Workspace.insert(Workspace(name=name)).returning(*Workspace.all_columns()))[0]
        user = (
            await User.insert(
                User(
                    workspace=workspace["id"],
                    email=email,
                    name=admin_name,
                    password_hash=hash_password(admin_password),
                    role=Role.admin.value,
                )
            ).returning(User.id)
        )[0]
        token, lookup = new_token(API_KEY_PREFIX)
        credential = (
            await Credential.insert(
                Credential(
                    workspace=workspace["id"],
                    kind=CredentialKind.api_key.value,
                    name="Initial admin key",
                    role=Role.admin.value,
                    user=user["id"],
                    lookup=lookup,
                    token_hash=hash_token(token),
                )
            ).returning(Credential.id)
        )[0]
        await audit.record_system(
            workspace["id"],
            "workspace.created",
            target_type="workspace",
            target_id=workspace["id"],
            data={"admin_email": email, "api_key_id": credential["id"]},
            actor_label="flowgate workspace create",
        )
    return workspace, token


async def get_workspace(workspace_id: int) -> dict[str, Any]:
    row = await Workspace.select().where(Workspace.id == workspace_id).first()
    if row is None:
        raise NotFound("workspace", workspace_id)
    return row


async def count_workspaces() -> int:
    return await Workspace.count()


# --- authentication ---------------------------------------------------------------------------------


async def authenticate(token: str, now: datetime) -> tuple[Principal, datetime | None] | None:
    """The principal a bearer token stands for, with the credential's last-used time; None if invalid."""
    parsed = parse_token(token)
    if parsed is None:
        return None
    _, lookup = parsed
    row = (
        await Credential.select(
            Credential.id,
            Credential.workspace,
            Credential.kind,
            Credential.name,
            Credential.role,
            Credential.user,
            Credential.token_hash,
            Credential.expires_at,
            Credential.revoked_at,
            Credential.last_used_at,
            Credential.user.email.as_alias("user_email"),
            Credential.user.role.as_alias("user_role"),
        )
        .where(Credential.lookup == lookup)
        .first()
    )
    if row is None or not token_matches(token, row["token_hash"]):
        return None
    if row["revoked_at"] is not None or (row["expires_at"] is not None and row["expires_at"] <= now):
        return None
    kind = CredentialKind(row["kind"])
    if kind is CredentialKind.session:
        # A session acts with the user's current role, so demoting a user takes effect at once.
        role = Role(row["user_role"])
        label = row["user_email"]
    else:
        role = Role(row["role"])
        label = _label_for_key(row["name"], lookup)
    principal = Principal(
        workspace_id=row["workspace"],
        credential_id=row["id"],
        kind=kind,
        role=role,
        user_id=row["user"],
        label=label,
    )
    return principal, row["last_used_at"]


async def record_credential_use(credential_id: int, at: datetime) -> None:
    await Credential.update({Credential.last_used_at: at}).where(
        (Credential.id == credential_id)
        & ((Credential.last_used_at.is_null()) | (Credential.last_used_at < at))
    )


MAX_FAILED_LOGINS = 10
FAILED_LOGIN_WINDOW_S = 15 * 60


def _failures_key(email: str) -> str:
    return f"flowgate:login-failures:{hashlib.sha256(email.encode()).hexdigest()}"


async def login(email: str, password: str, now: datetime, redis: Redis) -> tuple[str, datetime, dict, dict]:
    """A session token for a user's email and password. Wrong email and wrong password look the same.

    Failed attempts are counted per account (OWASP's advice): a login through the ui arrives from the
    ui's address, so a per-address limit alone would let one guesser lock everyone out, or nobody.
    """
    email = email.strip().lower()
    failures_key = _failures_key(email)
    if int(await redis.get(failures_key) or 0) >= MAX_FAILED_LOGINS:
        wait = max(await redis.ttl(failures_key), 1)
        raise TooManyRequestsException(
            f"Too many failed sign-ins for this account; try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
    user = await User.select().where(User.email == email).first()
    if user is None:
        burn_password_check(password)
    if user is None or not verify_password(user["password_hash"], password):
        async with redis.pipeline(transaction=True) as pipe:
            # The window starts at the first failure (SET NX), and INCR keeps the key's expiry.
            pipe.set(failures_key, 0, ex=FAILED_LOGIN_WINDOW_S, nx=True)
            pipe.incr(failures_key)
            await pipe.execute()
        raise NotAuthorizedException("Wrong email or password")
    await redis.delete(failures_key)
    token, lookup = new_token(SESSION_PREFIX)
    expires_at = now + SESSION_LIFETIME
    await Credential.insert(
        Credential(
            workspace=user["workspace"],
            kind=CredentialKind.session.value,
            name="login",
            role=user["role"],
            user=user["id"],
            lookup=lookup,
            token_hash=hash_token(token),
            expires_at=expires_at,
            last_used_at=now,
        )
    )
    workspace = await get_workspace(user["workspace"])
    return token, expires_at, user, workspace


async def logout(principal: Principal, now: datetime) -> None:
    await Credential.update({Credential.revoked_at: now}).where(
        (Credential.id == principal.credential_id) & Credential.revoked_at.is_null()
    )


async def purge_expired_sessions(now: datetime) -> int:
    """Delete login sessions that expired or were logged out over a day ago; API keys stay for the record."""
    cutoff = now - timedelta(days=1)
    deleted = (
        await Credential.delete()
        .where(
            (Credential.kind == CredentialKind.session.value)
            & ((Credential.expires_at < cutoff) | (Credential.revoked_at < cutoff))
        )
        .returning(Credential.id)
    )
    return len(deleted)


# --- API keys ---------------------------------------------------------------------------------------


def api_key_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "role": row["role"],
        "prefix": f"{API_KEY_PREFIX}_{row['lookup']}",
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "revoked_at": row["revoked_at"],
        "last_used_at": row["last_used_at"],
        "created_by": row["user"],
    }


def api_keys_query(workspace_id: int):
    return Credential.select().where(
        (Credential.workspace == workspace_id) & (Credential.kind == CredentialKind.api_key.value)
    )


async def create_api_key(
    principal: Principal, name: str, role: Role, expires_at: datetime | None, now: datetime
) -> tuple[str, dict[str, Any]]:
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidInput("expires_at", "must include a time zone, e.g. 2027-01-01T00:00:00Z")
        if expires_at <= now:
            raise InvalidInput("expires_at", "must be in the future")
    token, lookup = new_token(API_KEY_PREFIX)
    async with transaction():
        row = (
            await Credential.insert(
                Credential(
                    workspace=principal.workspace_id,
                    kind=CredentialKind.api_key.value,
                    name=name.strip(),
                    role=role.value,
                    user=principal.user_id,
                    lookup=lookup,
                    token_hash=hash_token(token),
                    expires_at=expires_at,
                )
            ).returning(*Credential.all_columns())
        )[0]
        await audit.record(
            principal,
            "api_key.created",
            target_type="api_key",
            target_id=row["id"],
            data={"name": row["name"], "role": role.value},
        )
    return token, row


async def get_api_key(principal: Principal, key_id: int) -> dict[str, Any]:
    row = await api_keys_query(principal.workspace_id).where(Credential.id == key_id).first()
    if row is None:
        raise NotFound("API key", key_id)
    return row


async def revoke_api_key(principal: Principal, key_id: int, now: datetime) -> dict[str, Any]:
    async with transaction():
        row = await get_api_key(principal, key_id)
        if row["revoked_at"] is None:
            await Credential.update({Credential.revoked_at: now}).where(Credential.id == key_id)
            row["revoked_at"] = now
            await audit.record(
                principal,
                "api_key.revoked",
                target_type="api_key",
                target_id=key_id,
                data={"name": row["name"]},
            )
    return row


# --- users ------------------------------------------------------------------------------------------

USER_COLUMNS = (User.id, User.email, User.name, User.role, User.created_at)


def users_query(workspace_id: int):
    return User.select(*USER_COLUMNS).where(User.workspace == workspace_id)


async def get_user(principal: Principal, user_id: int) -> dict[str, Any]:
    row = await users_query(principal.workspace_id).where(User.id == user_id).first()
    if row is None:
        raise NotFound("user", user_id)
    return row


async def create_user(principal: Principal, email: str, password: str, role: Role, name: str) -> dict:
    email = normalise_email(email)
    async with transaction():
        if await User.exists().where(User.email == email):
            raise Conflict(f"email: a user with email {email} already exists")
        row = (
            await User.insert(
                User(
                    workspace=principal.workspace_id,
                    email=email,
                    name=name.strip(),
                    password_hash=hash_password(password),
                    role=role.value,
                )
            ).returning(*USER_COLUMNS)
        )[0]
        await audit.record(
            principal,
            "user.created",
            target_type="user",
            target_id=row["id"],
            data={"email": email, "role": role.value},
        )
    return row


async def _other_admins(workspace_id: int, user_id: int) -> int:
    return await User.count().where(
        (User.workspace == workspace_id) & (User.role == Role.admin.value) & (User.id != user_id)
    )


async def update_user(principal: Principal, user_id: int, patch: UserPatch) -> dict[str, Any]:
    async with transaction():
        row = await get_user(principal, user_id)
        values: dict[Any, Any] = {}
        if patch.name is not UNSET:
            values[User.name] = patch.name.strip()
        if patch.role is not UNSET and patch.role.value != row["role"]:
            if row["role"] == Role.admin.value and not await _other_admins(principal.workspace_id, user_id):
                raise Conflict("role: the workspace's last admin cannot be demoted")
            values[User.role] = patch.role.value
        if patch.password is not UNSET:
            values[User.password_hash] = hash_password(patch.password)
        if values:
            await User.update(values).where(User.id == user_id)
            if User.password_hash in values:
                # A new password ends the user's other sessions.
                await Credential.update({Credential.revoked_at: datetime.now(UTC)}).where(
                    (Credential.user == user_id)
                    & (Credential.kind == CredentialKind.session.value)
                    & Credential.revoked_at.is_null()
                    & (Credential.id != principal.credential_id)
                )
            await audit.record(
                principal,
                "user.updated",
                target_type="user",
                target_id=user_id,
                data={"fields": sorted(column._meta.name for column in values)},
            )
    return await get_user(principal, user_id)


async def delete_user(principal: Principal, user_id: int) -> None:
    async with transaction():
        row = await get_user(principal, user_id)
        if row["role"] == Role.admin.value and not await _other_admins(principal.workspace_id, user_id):
            raise Conflict("the workspace's last admin cannot be deleted")
        # Recorded first: an admin may delete their own user, and a record written after the delete would
        # name a user (and credential) that no longer exist (a foreign key error on PostgreSQL). The delete
        # then clears the record's links and keeps its actor label.
        await audit.record(
            principal,
            "user.deleted",
            target_type="user",
            target_id=user_id,
            data={"email": row["email"]},
        )
        await User.delete().where(User.id == user_id)


# --- settings ---------------------------------------------------------------------------------------


def _phone_region(value: str) -> str:
    import phonenumbers

    region = value.strip().upper()
    if region and region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(
            "default_phone_region", f"{value!r} is not an ISO 3166 country code such as PT or US"
        )
    return region


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("timezone", f"{value!r} is not an IANA time zone such as Europe/Lisbon") from None
    return value


def settings_out(workspace: dict[str, Any]) -> dict[str, Any]:
    from backend.consent.tokens import optout_form_url

    return {
        "marketing_unsubscription_days": workspace["marketing_unsubscription_days"],
        "allow_private_urls": workspace["allow_private_urls"],
        "default_phone_region": workspace["default_phone_region"],
        "timezone": workspace["timezone"],
        "optout_form_url": optout_form_url(workspace["id"]),
    }


async def update_settings(principal: Principal, patch: SettingsPatch) -> dict[str, Any]:
    async with transaction():
        before = settings_out(await get_workspace(principal.workspace_id))
        values: dict[Any, Any] = {}
        if patch.marketing_unsubscription_days is not UNSET:
            values[Workspace.marketing_unsubscription_days] = patch.marketing_unsubscription_days
        if patch.allow_private_urls is not UNSET:
            values[Workspace.allow_private_urls] = patch.allow_private_urls
        if patch.default_phone_region is not UNSET:
            values[Workspace.default_phone_region] = _phone_region(patch.default_phone_region)
        if patch.timezone is not UNSET:
            values[Workspace.timezone] = _timezone(patch.timezone)
        if values:
            await Workspace.update(values).where(Workspace.id == principal.workspace_id)
            after = settings_out(await get_workspace(principal.workspace_id))
            changed = {
                key: {"from": before[key], "to": after[key]} for key in after if before[key] != after[key]
            }
            if changed:
                await audit.record(principal, "settings.updated", data=changed)
    return settings_out(await get_workspace(principal.workspace_id))
