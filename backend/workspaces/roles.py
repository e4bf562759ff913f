"""Roles, from least to most powerful; a role may do everything the roles below it may."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    viewer = "viewer"
    marketer = "marketer"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, required: Role) -> bool:
        return self.rank >= required.rank


_RANKS = {Role.viewer: 0, Role.marketer: 1, Role.admin: 2}


class CredentialKind(enum.StrEnum):
    api_key = "api_key"
    """Made by an admin for an integration; lives until revoked or its expiry."""
    session = "session"
    """Made by a user's login (the UI); expires, and ends at logout."""
