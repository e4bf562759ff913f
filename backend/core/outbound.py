"""Outbound HTTP to addresses that workspace users choose (flow HTTP requests, webhooks), guarded.

A URL typed into a flow could point at the api's own network (``http://127.0.0.1:6379``, a cloud
metadata address). Unless the workspace allows private addresses, every host is resolved first and
refused when any address it resolves to is loopback, private, link-local, multicast or reserved.
Redirects are not followed (a public URL could redirect inward) and bodies are capped.

The connection goes to an address that was checked, never to a second resolution of the name: a DNS
server can answer a public address to the check and a private one a moment later (DNS rebinding).
:func:`pinned` rewrites the URL to the checked address and keeps what the server must see unchanged:
the ``Host`` header, and for HTTPS the TLS server name (SNI) that the certificate is verified against.
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


async def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, in the resolver's order, each once (raises socket.gaierror)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check_url(url: str, *, allow_private: bool) -> tuple[str, ...]:
    """Raise :class:`RefusedURL` for a URL that is malformed or (unless allowed) reaches a private address.

    Returns the addresses that were checked, for the request to connect to (see :func:`pinned`); none
    when private addresses are allowed, since then there is nothing to guard.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedURL(f"{url!r} is not an http(s) URL")
    if allow_private:
        return ()
    try:
        addresses = await resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise RefusedURL(f"cannot resolve {parts.hostname}: {exc.strerror}") from None
    for address in addresses:
        if _is_private(address):
            raise RefusedURL(
                f"{parts.hostname} resolves to the private address {address}; "
                "an admin can allow private addresses in the workspace settings"
            )
    if not addresses:
        raise RefusedURL(f"cannot resolve {parts.hostname}: no address")
    return tuple(addresses)


def pinned(
    url: str, address: str, headers: dict[str, str] | None = None
) -> tuple[httpx.URL, httpx.Headers, dict[str, Any]]:
    """``(url, headers, extensions)`` for a request to ``url`` that connects to ``address``.

    The URL's host becomes the address, so the client has no name left to resolve (and its connection
    pool keys connections by that address). The ``Host`` header carries the name as the URL spelt it
    (a ``Host`` given in ``headers`` is replaced: the name decides where the request goes), and for
    HTTPS httpcore's ``sni_hostname`` extension makes TLS send the name and verify the certificate
    against it rather than against the address.

    HTTPS connections are closed after the response: the pool knows them by address only, so a
    connection verified for one name could otherwise carry a later request for another name at the
    same address (a shared CDN address, or a poisoned DNS answer) without a certificate check for it.
    """
    target = httpx.URL(url)
    request_headers = httpx.Headers(headers)
    request_headers["Host"] = target.netloc.decode("ascii")
    extensions: dict[str, Any] = {}
    if target.scheme == "https":
        extensions["sni_hostname"] = target.raw_host.decode("ascii")
        request_headers["Connection"] = "close"
    return target.copy_with(host=address), request_headers, extensions


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
    """One guarded request. Raises :class:`RefusedURL`, or ``httpx.HTTPError`` when no answer came.

    Connects to the checked addresses in the resolver's order, the next one only when a connection
    could not be made (nothing was sent yet).
    """
    addresses = await check_url(url, allow_private=allow_private)
    if not addresses:
        return await _exchange(client, method, url, headers, {}, body, timeout_s)
    for index, address in enumerate(addresses):
        target, pinned_headers, extensions = pinned(url, address, headers)
        try:
            return await _exchange(client, method, target, pinned_headers, extensions, body, timeout_s)
        except httpx.ConnectError:
            if index == len(addresses) - 1:
                raise
    raise AssertionError("unreachable: check_url returns at least one address")


async def _exchange(
    client: httpx.AsyncClient,
    method: str,
    url: str | httpx.URL,
    headers: dict[str, str] | httpx.Headers | None,
    extensions: dict[str, Any],
    body: str | bytes | None,
    timeout_s: float,
) -> OutboundResponse:
    async with client.stream(
        method,
        url,
        headers=headers,
        content=body,
        timeout=timeout_s,
        follow_redirects=False,
        extensions=extensions,
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
