"""Per-contact unsubscribe tokens: the ``/u/{token}`` links SMS and email marketing carry (seed 003,
RFC 8058).

A token names a workspace, a channel and an address, and carries an HMAC-SHA256 tag (truncated to
128 bits) under a key derived from the deployment's secret for this purpose only, so a token can
neither be forged nor be confused with another signed value. Nothing is stored: any token this
deployment made stays valid as long as the secret does, which unsubscribe links need (they sit in
old messages). The token is signed, not encrypted: whoever holds the link can read the address in
it, which is the person it was sent to.

Layout before base64url (no padding): version byte, workspace id as an unsigned varint, channel
index, UTF-8 address, 16-byte tag over everything before it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from backend.config import get_settings

VERSION = 1
TAG_BYTES = 16
MAX_TOKEN_CHARS = 600
CHANNELS = ("whatsapp", "sms", "viber", "email")
"""Index in this tuple is the channel's byte in a token: append only, never reorder."""
_PURPOSE = b"flowgate/unsubscribe-token/v1"
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


def _key() -> bytes:
    secret = get_settings().resolved_secret_key().encode()
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def _tag(body: bytes) -> bytes:
    return hmac.new(_key(), body, hashlib.sha256).digest()[:TAG_BYTES]


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _read_varint(data: bytes, start: int) -> tuple[int, int]:
    number = shift = 0
    for index in range(start, min(len(data), start + 9)):
        number |= (data[index] & 0x7F) << shift
        if not data[index] & 0x80:
            return number, index + 1
        shift += 7
    raise ValueError("truncated varint")


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def make_unsubscribe_token(workspace_id: int, channel: str, address: str) -> str:
    """The token for one address on one channel of one workspace (the same every time)."""
    if workspace_id < 1:
        raise ValueError("workspace_id must be positive")
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
    if not address:
        raise ValueError("address is empty")
    body = bytes([VERSION]) + _varint(workspace_id) + bytes([CHANNELS.index(channel)]) + address.encode()
    return _encode(body + _tag(body))


def read_unsubscribe_token(token: str) -> tuple[int, str, str] | None:
    """``(workspace_id, channel, address)`` of a token this deployment made; None for anything else
    (tampered, truncated, padded, another secret's, garbage)."""
    if not token or len(token) > MAX_TOKEN_CHARS or not _ALPHABET.fullmatch(token):
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    # One spelling per token: trailing bits that base64 ignores would otherwise make variants.
    if _encode(raw) != token or len(raw) <= TAG_BYTES + 3:
        return None
    body, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    if not hmac.compare_digest(tag, _tag(body)):
        return None
    try:
        workspace_id, at = _read_varint(body, 1)
        channel, address = CHANNELS[body[at]], body[at + 1 :].decode()
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
    if body[0] != VERSION or workspace_id < 1 or not address:
        return None
    return workspace_id, channel, address


def unsubscribe_url(workspace_id: int, channel: str, address: str) -> str:
    """The link to put in a message (and in an email's List-Unsubscribe header)."""
    token = make_unsubscribe_token(workspace_id, channel, address)
    return f"{get_settings().base_public_url}/u/{token}"


# --- the web opt-out form's workspace key -------------------------------------------------------------

_FORM_PURPOSE = b"flowgate/optout-form/v1"


def optout_form_key(workspace_id: int) -> str:
    """``<id>-<tag>``: names the workspace in the public form's URL without letting anyone walk the ids
    to read every workspace's name."""
    secret = get_settings().resolved_secret_key().encode()
    key = hmac.new(secret, _FORM_PURPOSE, hashlib.sha256).digest()
    tag = hmac.new(key, str(workspace_id).encode(), hashlib.sha256).digest()[:9]
    return f"{workspace_id}-{base64.urlsafe_b64encode(tag).decode()}"


def read_optout_form_key(value: str) -> int | None:
    """The workspace id of a key :func:`optout_form_key` made, or None (a bare id is not enough)."""
    head, _, _tag_text = value.partition("-")
    if not head.isdigit() or len(head) > 18:
        return None
    return int(head) if hmac.compare_digest(optout_form_key(int(head)), value) else None


def optout_form_url(workspace_id: int) -> str:
    """The public opt-out form of a workspace, to link from websites and messages."""
    return f"{get_settings().base_public_url}/optout?workspace={optout_form_key(workspace_id)}"
