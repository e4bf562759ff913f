"""Request and response bodies of the workspace domain (the public contract lives in API.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import UNSET, Meta, UnsetType

from backend.core.schemas import Input, Output
from backend.workspaces.roles import Role
from backend.workspaces.tables import DEFAULT_MARKETING_UNSUBSCRIPTION_DAYS

Email = Annotated[str, Meta(min_length=3, max_length=254, description="Login email; stored lower-cased.")]
Password = Annotated[str, Meta(min_length=8, max_length=256, description="At least 8 characters.")]
Name = Annotated[str, Meta(max_length=100)]
RequiredName = Annotated[str, Meta(min_length=1, max_length=100)]
UnsubscribeDays = Annotated[
    int,
    Meta(ge=1, le=3650, description="How long an opt-out from a campaign reply lasts without a category."),
]


class WorkspaceOut(Output):
    id: int
    name: str
    created_at: datetime


class UserOut(Output):
    id: int
    email: str
    name: str
    role: Role
    created_at: datetime


class UserCreate(Input):
    email: Email
    password: Password
    role: Role
    name: Name = ""


class UserPatch(Input):
    name: Name | UnsetType = UNSET
    role: Role | UnsetType = UNSET
    password: Password | UnsetType = UNSET


class LoginIn(Input):
    email: Email
    password: Annotated[str, Meta(min_length=1, max_length=256)]


class SessionOut(Output):
    token: str
    expires_at: datetime
    user: UserOut
    workspace: WorkspaceOut


class CredentialSummary(Output):
    kind: str
    name: str
    prefix: str


class MeOut(Output):
    workspace: WorkspaceOut
    role: Role
    user: UserOut | None
    credential: CredentialSummary


class ApiKeyCreate(Input):
    name: RequiredName
    role: Role
    expires_at: datetime | None = None


class ApiKeyOut(Output):
    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_by: int | None


class ApiKeyCreated(ApiKeyOut):
    key: str
    """The whole key. Shown in this response only; Flowgate keeps just its hash."""


class SettingsOut(Output):
    marketing_unsubscription_days: int = DEFAULT_MARKETING_UNSUBSCRIPTION_DAYS
    allow_private_urls: bool = False
    """Whether flow HTTP requests and webhooks may call loopback, private or link-local addresses."""
    default_phone_region: str = ""
    """ISO 3166 country code used to read phone numbers written without +country code; empty: none."""
    timezone: str = "UTC"
    """Time zone of contacts that have none of their own."""
    optout_form_url: str = ""
    """Read-only: the workspace's public web opt-out form, to link from websites and messages."""


class SettingsPatch(Input):
    marketing_unsubscription_days: UnsubscribeDays | UnsetType = UNSET
    allow_private_urls: bool | UnsetType = UNSET
    # Longer than a code on purpose: "PRT" or "Portugal" then get the service's sentence naming a valid
    # code ("… is not an ISO 3166 country code such as PT or US") rather than a length rule.
    default_phone_region: Annotated[str, Meta(max_length=64)] | UnsetType = UNSET
    timezone: Annotated[str, Meta(max_length=64)] | UnsetType = UNSET


class WorkspaceCreated(Output):
    workspace_id: int
    api_key: str
