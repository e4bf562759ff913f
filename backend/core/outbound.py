"""Outbound HTTP to addresses that workspace users choose (flow HTTP requests, webhooks), guarded.

A URL typed into a flow could point at the api's own network (``http://127.0.0.1:6379``, a cloud
metadata address). Unless the workspace allows private addresses, every host is resolved first and
refused when any address it resolves to is loopback, private, link-local, multicast or reserved.
Redirects are not followed (a public URL could redirect inward) and bodies are capped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

MAX_RESPONSE_BYTES = 1_000_000


class RefusedURL(ValueError):
    """The URL may not be called; the message says why in words a marketer understands."""


@dataclass(frozen=True, slots=True)
class OutboundResponse:
    status_code: int
    body: Any
    """Parsed JSON when the response was JSON, else the text."""


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def check_url(url: str, *, allow_private: bool) -> None:
    """Raise :class:`RefusedURL` for a URL that is malformed or (unless allowed) reaches a private address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedURL(f"{url!r} is not an http(s) URL")
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, parts.port or 443, type=socket.SOCK_STREAM
        )
    except socket.gaierror as exc:
        raise RefusedURL(f"cannot resolve {parts.hostname}: {exc.strerror}") from None
    for info in infos:
        address = str(info[4][0])
        if _is_private(address):
            raise RefusedURL(
                f"{parts.hostname} resolves to the private address {address}; "
                "an admin can allow private addresses in the workspace settings"
            )


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: str | bytes | None = None,
    timeout_s: float = 10.0,
    allow_private: bool = False,
) -> OutboundResponse:
    """One guarded request. Raises :class:`RefusedURL`, or ``httpx.HTTPError`` when no answer came."""
    await check_url(url, allow_private=allow_private)
    async with client.stream(
        method, url, headers=headers, content=body, timeout=timeout_s, follow_redirects=False
    ) as response:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise httpx.HTTPError(f"the response is larger than {MAX_RESPONSE_BYTES} bytes")
            chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        parsed: Any = msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        parsed = raw.decode(errors="replace")
    return OutboundResponse(response.status_code, parsed)
