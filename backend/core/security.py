"""Passwords and bearer tokens.

Passwords are hashed with Argon2id (argon2-cffi): slow on purpose, because people reuse them. Bearer
tokens are 256-bit random secrets, so a single SHA-256 is enough to store them and lets every request
verify its key with one indexed lookup and a constant-time compare.

Token format: ``<prefix>_<lookup>_<secret>``, e.g. ``fgk_3fa9c2d81e07_Qm9...``. The lookup part is
stored in clear (indexed, and shown in listings so people can tell keys apart); the whole token is
only ever stored as a hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

API_KEY_PREFIX = "fgk"
SESSION_PREFIX = "fgs"
_LOOKUP_BYTES = 6
_SECRET_BYTES = 32

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def burn_password_check(password: str) -> None:
    """Spend the time of a real check, so a login for an unknown email is not faster than a wrong password."""
    verify_password(_DUMMY_HASH, password)


def new_token(prefix: str) -> tuple[str, str]:
    """A fresh token and its lookup id."""
    lookup = secrets.token_hex(_LOOKUP_BYTES)
    return f"{prefix}_{lookup}_{secrets.token_urlsafe(_SECRET_BYTES)}", lookup


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """``(prefix, lookup)`` of a well-formed token, else None."""
    prefix, sep, rest = token.partition("_")
    lookup, sep2, secret = rest.partition("_")
    if not (sep and sep2 and secret) or prefix not in (API_KEY_PREFIX, SESSION_PREFIX):
        return None
    if len(lookup) != _LOOKUP_BYTES * 2:
        return None
    return prefix, lookup


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)
