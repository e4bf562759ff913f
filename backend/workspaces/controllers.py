"""HTTP endpoints: login sessions, the caller's identity, API keys, users and workspace settings."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from backend.core.pagination import CursorParam, LimitParam, Page, fetch_page
from backend.workspaces import service
from backend.workspaces.auth import Caller, allow
from backend.workspaces.roles import Role
from backend.workspaces.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    CredentialSummary,
    LoginIn,
    MeOut,
    SessionOut,
    SettingsOut,
    SettingsPatch,
    UserCreate,
    UserOut,
    UserPatch,
    WorkspaceOut,
)
from backend.workspaces.tables import Credential, User

# Per client address, against one address spraying many accounts; each account also locks after ten
# failed attempts (see service.login), which is what stops guessing one password.
login_rate_limit = RateLimitConfig(rate_limit=("minute", 30), store="rate_limit", set_rate_limit_headers=True)


def _now() -> datetime:
    return datetime.now(UTC)


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post(
        "/login",
        exclude_from_auth=True,
        status_code=HTTP_200_OK,
        middleware=[login_rate_limit.middleware],
        summary="Exchange a user's email and password for a session token",
    )
    async def login(self, data: JSONBody[LoginIn], state: State) -> SessionOut:
        token, expires_at, user, workspace = await service.login(
            data.email, data.password, _now(), state.queue
        )
        return SessionOut(
            token=token,
            expires_at=expires_at,
            user=msgspec.convert(user, UserOut, from_attributes=True, strict=False),
            workspace=msgspec.convert(workspace, WorkspaceOut, strict=False),
        )

    @post(
        "/logout",
        status_code=HTTP_204_NO_CONTENT,
        summary="End the calling session or revoke the calling key",
    )
    async def logout(self, principal: Caller) -> None:
        await service.logout(principal, _now())

    @get("/me", summary="The caller: workspace, role, user and credential")
    async def me(self, principal: Caller) -> MeOut:
        workspace = await service.get_workspace(principal.workspace_id)
        user = await service.users_query(principal.workspace_id).where(User.id == principal.user_id).first()
        credential = (
            await Credential.select(Credential.kind, Credential.name, Credential.lookup)
            .where(Credential.id == principal.credential_id)
            .first()
        )
        prefix = "fgs" if credential["kind"] == "session" else "fgk"
        return MeOut(
            workspace=msgspec.convert(workspace, WorkspaceOut, strict=False),
            role=principal.role,
            user=msgspec.convert(user, UserOut, strict=False) if user and principal.user_id else None,
            credential=CredentialSummary(
                kind=credential["kind"], name=credential["name"], prefix=f"{prefix}_{credential['lookup']}"
            ),
        )


class ApiKeyController(Controller):
    path = "/api-keys"
    tags = ["api keys"]
    guards = [allow(read=Role.admin, write=Role.admin)]

    @get("/", summary="List the workspace's API keys (never their secrets)")
    async def list_keys(
        self, principal: Caller, cursor: CursorParam = None, limit: LimitParam = 50
    ) -> Page[ApiKeyOut]:
        rows, next_cursor = await fetch_page(
            service.api_keys_query(principal.workspace_id), Credential.id, cursor, limit
        )
        return Page(items=[_api_key(row) for row in rows], next_cursor=next_cursor)

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Create an API key; the response is the only time it is shown",
    )
    async def create_key(self, principal: Caller, data: JSONBody[ApiKeyCreate]) -> ApiKeyCreated:
        token, row = await service.create_api_key(principal, data.name, data.role, data.expires_at, _now())
        return msgspec.convert({**service.api_key_out(row), "key": token}, ApiKeyCreated, strict=False)

    @get("/{key_id:int}", summary="One API key")
    async def get_key(self, principal: Caller, key_id: FromPath[int]) -> ApiKeyOut:
        return _api_key(await service.get_api_key(principal, key_id))

    @delete("/{key_id:int}", status_code=HTTP_200_OK, summary="Revoke an API key at once (it stays listed)")
    async def revoke_key(self, principal: Caller, key_id: FromPath[int]) -> ApiKeyOut:
        return _api_key(await service.revoke_api_key(principal, key_id, _now()))


def _api_key(row: dict) -> ApiKeyOut:
    return msgspec.convert(service.api_key_out(row), ApiKeyOut, strict=False)


class UserController(Controller):
    path = "/users"
    tags = ["users"]
    guards = [allow(read=Role.admin, write=Role.admin)]

    @get("/", summary="List the workspace's users")
    async def list_users(
        self, principal: Caller, cursor: CursorParam = None, limit: LimitParam = 50
    ) -> Page[UserOut]:
        rows, next_cursor = await fetch_page(
            service.users_query(principal.workspace_id), User.id, cursor, limit
        )
        return Page(items=[_user(row) for row in rows], next_cursor=next_cursor)

    @post("/", status_code=HTTP_201_CREATED, summary="Add a user to the workspace")
    async def create_user(self, principal: Caller, data: JSONBody[UserCreate]) -> UserOut:
        return _user(await service.create_user(principal, data.email, data.password, data.role, data.name))

    @get("/{user_id:int}", summary="One user")
    async def get_user(self, principal: Caller, user_id: FromPath[int]) -> UserOut:
        return _user(await service.get_user(principal, user_id))

    @patch("/{user_id:int}", summary="Change a user's name, role or password")
    async def update_user(
        self, principal: Caller, user_id: FromPath[int], data: JSONBody[UserPatch]
    ) -> UserOut:
        return _user(await service.update_user(principal, user_id, data))

    @delete("/{user_id:int}", status_code=HTTP_204_NO_CONTENT, summary="Remove a user and end their sessions")
    async def delete_user(self, principal: Caller, user_id: FromPath[int]) -> None:
        await service.delete_user(principal, user_id)


def _user(row: dict) -> UserOut:
    return msgspec.convert(row, UserOut, strict=False)


class SettingsController(Controller):
    path = "/settings"
    tags = ["settings"]
    guards = [allow(read=Role.viewer, write=Role.admin)]

    @get("/", summary="Workspace settings")
    async def get_settings(self, principal: Caller) -> SettingsOut:
        return SettingsOut(**service.settings_out(await service.get_workspace(principal.workspace_id)))

    @patch("/", summary="Change workspace settings; fields left out keep their value")
    async def update_settings(self, principal: Caller, data: JSONBody[SettingsPatch]) -> SettingsOut:
        return SettingsOut(**await service.update_settings(principal, data))
