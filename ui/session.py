"""Who is using this browser tab: the login session kept server-side in ``app.storage.user``.

The API's session token never reaches the browser: NiceGUI keeps ``app.storage.user`` on the server,
keyed by a signed cookie, so a stolen cookie is only useful through this UI and logout revokes the token
at the API. Pages re-read the caller from ``/auth/me`` on every load rather than trusting what was stored
at login, so a role change or a revoked session takes effect on the next page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from nicegui import app

from ui.backend import LoginResult, MeResult

ROLE_RANK = {"viewer": 0, "marketer": 1, "admin": 2}


@dataclass(frozen=True, slots=True)
class Session:
    """The signed-in user as the API sees them right now."""

    token: str
    email: str
    name: str
    role: str
    workspace_name: str

    def allows(self, role: str) -> bool:
        """Whether this user's role is ``role`` or a more powerful one (the API's own rule)."""
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[role]

    @property
    def is_admin(self) -> bool:
        return self.allows("admin")


def stored_token() -> str | None:
    token = app.storage.user.get("token")
    return token if isinstance(token, str) and token else None


def remember(login: LoginResult) -> None:
    """Keep what a successful login returned; the token is what later requests need."""
    app.storage.user.update(
        token=login["token"],
        expires_at=login["expires_at"],
        user=dict(login["user"]),
        role=login["user"]["role"],
        workspace=dict(login["workspace"]),
    )


def forget() -> None:
    app.storage.user.clear()


def session_from_me(token: str, me: MeResult) -> Session:
    user = me["user"] or {}
    app.storage.user.update(role=me["role"], workspace=dict(me["workspace"]))
    return Session(
        token=token,
        email=str(user.get("email", "")),
        name=str(user.get("name", "")),
        role=me["role"],
        workspace_name=me["workspace"]["name"],
    )


def safe_next(target: str | None) -> str:
    """Where to go after login: only a path on this site, so ``?next=`` cannot send users elsewhere."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or target.startswith("/login")
    ):
        return "/"
    return target


def login_url(next_path: str) -> str:
    target = safe_next(next_path)
    return "/login" if target == "/" else f"/login?next={quote(target, safe='/')}"
