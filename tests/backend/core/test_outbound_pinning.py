"""The outbound guard connects to the address it checked (issue 14, item 12: DNS rebinding).

A rebinding DNS server answers a public address to the guard's lookup and a private one to the HTTP
client's own lookup a moment later. The tests play that server with a resolver that answers the guard
a public address for ``localhost``, which the machine itself resolves to 127.0.0.1, where a local server
stands for the private service. No packet leaves the machine: a request hook on the real httpx client
stops any request that is not for a loopback address before it connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from backend.core import outbound

PUBLIC = "93.184.215.14"  # a global address: the guard lets it through
OTHER_PUBLIC = "93.184.215.15"


class Stopped(Exception):
    """A request that would have left the machine, stopped by the hook before it connected."""


class PrivateService:
    """An HTTP server on 127.0.0.1 that counts what reaches it (the service rebinding aims at)."""

    def __init__(self) -> None:
        self.hits: list[bytes] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.hits.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecret")
        await writer.drain()
        writer.close()


@pytest.fixture
async def private_service() -> AsyncIterator[PrivateService]:
    service = PrivateService()
    server = await asyncio.start_server(service.handle, "127.0.0.1", 0)
    service.port = server.sockets[0].getsockname()[1]
    async with server:
        yield service


def _client(seen: list[httpx.Request], *, fail_connect_to: str | None = None, **kwargs) -> httpx.AsyncClient:
    async def hook(request: httpx.Request) -> None:
        seen.append(request)
        if request.url.host == fail_connect_to:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.host not in ("localhost", "127.0.0.1"):
            raise Stopped(str(request.url))

    return httpx.AsyncClient(event_hooks={"request": [hook]}, **kwargs)


def _rebinding_resolver(answers: list[list[str]], calls: list[str]) -> Callable:
    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls), len(answers)) - 1]

    return resolve


async def test_a_name_that_rebinds_to_a_private_address_never_reaches_it(
    private_service: PrivateService, monkeypatch: pytest.MonkeyPatch
):
    calls: list[str] = []
    monkeypatch.setattr(outbound, "resolve", _rebinding_resolver([[PUBLIC], ["127.0.0.1"]], calls))
    seen: list[httpx.Request] = []
    url = f"http://localhost:{private_service.port}/admin?x=1"
    async with _client(seen) as client:
        with pytest.raises(Stopped):
            await outbound.request(client, "POST", url, headers={"X-Flow": "1"}, body=b"{}")

    assert private_service.hits == []
    assert calls == ["localhost"]  # resolved once, by the guard
    (request,) = seen
    assert request.url.host == PUBLIC  # the checked address, nothing left for the client to resolve
    assert request.url.port == private_service.port and request.url.raw_path == b"/admin?x=1"
    assert request.headers["Host"] == f"localhost:{private_service.port}"
    assert request.headers["X-Flow"] == "1"
    assert "sni_hostname" not in request.extensions  # plain HTTP has no TLS name


async def test_an_https_request_keeps_the_name_for_tls_and_the_host_header(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(outbound, "resolve", _rebinding_resolver([[PUBLIC]], []))
    seen: list[httpx.Request] = []
    async with _client(seen) as client:
        with pytest.raises(Stopped):
            await outbound.request(
                client, "GET", "https://Hooks.Example.com/in", headers={"host": "evil.internal"}
            )
    (request,) = seen
    assert str(request.url) == f"https://{PUBLIC}/in"
    assert request.headers["Host"] == "hooks.example.com"  # the URL decides, not a header a flow set
    assert request.extensions["sni_hostname"] == "hooks.example.com"


async def test_the_next_checked_address_is_tried_only_when_no_connection_was_made(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(outbound, "resolve", _rebinding_resolver([[PUBLIC, OTHER_PUBLIC], ["127.0.0.1"]], []))
    seen: list[httpx.Request] = []
    async with _client(seen, fail_connect_to=PUBLIC) as client:
        with pytest.raises(Stopped):
            await outbound.request(client, "GET", "http://api.example.com/x")
    assert [request.url.host for request in seen] == [PUBLIC, OTHER_PUBLIC]


async def test_a_name_with_any_private_address_is_still_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(outbound, "resolve", _rebinding_resolver([[PUBLIC, "10.0.0.7"]], []))
    seen: list[httpx.Request] = []
    async with _client(seen) as client:
        with pytest.raises(outbound.RefusedURL, match=r"private address 10\.0\.0\.7"):
            await outbound.request(client, "GET", "http://api.example.com/x")
    assert seen == []


async def test_allowed_private_addresses_go_through_the_client_as_before(private_service: PrivateService):
    seen: list[httpx.Request] = []
    async with _client(seen) as client:
        response = await outbound.request(
            client, "GET", f"http://localhost:{private_service.port}/ok", allow_private=True
        )
    assert (response.status_code, response.body) == (200, "secret")
    assert seen[0].url.host == "localhost"


# --- the pinned connection itself, over real TLS ------------------------------------------------------


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for svc.example and other.example only (no IP address in it)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=svc.example",
         "-addext", "subjectAltName=DNS:svc.example,DNS:other.example", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_a_pinned_https_request_verifies_the_name_and_reaches_the_address(
    certificate: tuple[Path, Path],
):
    cert, key = certificate
    server_names: list[str | None] = []
    hosts: list[bytes] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)  # type: ignore[assignment]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:  # keep-alive unless the client closes
                head = await reader.readuntil(b"\r\n\r\n")
                hosts.extend(line for line in head.split(b"\r\n") if line.lower().startswith(b"host:"))
                writer.write(
                    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'
                )
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    trust = ssl.create_default_context(cafile=str(cert))
    async with server, httpx.AsyncClient(verify=trust) as client:
        for name in ("svc.example", "other.example", "svc.example"):
            url, headers, extensions = outbound.pinned(f"https://{name}:{port}/hook", "127.0.0.1")
            response = await client.get(url, headers=headers, extensions=extensions)
            assert (response.status_code, response.json()) == (200, {"ok": True})
        # A name the certificate does not cover is refused, even at an address that served another name.
        url, headers, extensions = outbound.pinned(f"https://third.example:{port}/hook", "127.0.0.1")
        with pytest.raises(httpx.ConnectError, match="certificate"):
            await client.get(url, headers=headers, extensions=extensions)
        async with httpx.AsyncClient(verify=trust) as plain:
            # Without the name, TLS checks the certificate against the bare address, and fails.
            with pytest.raises(httpx.ConnectError, match="certificate"):
                await plain.get(f"https://127.0.0.1:{port}/hook")
    # One handshake per request, each with its own name: no TLS session carries another name's request.
    assert server_names == ["svc.example", "other.example", "svc.example", "third.example", None]
    assert hosts == [
        f"Host: {name}:{port}".encode() for name in ("svc.example", "other.example", "svc.example")
    ]
