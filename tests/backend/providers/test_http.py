"""The shared provider client over both transports: the same outcome for the same failure, and at most once.

Every failure is real: a closed port, a listening socket whose backlog is full (the kernel drops the
SYN, so connecting times out), the fake providers hanging or hanging up, and a raw HTTP/1.1 server that
counts every request it reads. Nothing in the network layer is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest

from backend.config import ProviderHttpClient, get_settings
from backend.providers.http import (
    NETWORK_ERRORS,
    ProviderHttp,
    Timeouts,
    make_http_client,
    network_outcome,
    retry_after,
)
from backend.providers.registry import Providers
from tests.backend.providers.conftest import CLIENTS
from tests.backend.providers.helpers import outgoing
from tests.fakes.providers import drop, hang, reply, whatsapp_error

pytestmark = pytest.mark.parametrize("client", CLIENTS)

SHORT = Timeouts(connect=0.3, read=1.0, pool=0.3)
"""Connect shorter than read: pyreqwest's read timer runs from the start of the request."""


def _whatsapp(providers: Providers, fake_providers):
    row = {
        "id": 11,
        "provider": "whatsapp_cloud",
        "address": "+351912345678",
        "config": fake_providers.config("whatsapp_cloud"),
        "updated_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    return providers.for_sender(row)


@contextlib.asynccontextmanager
async def _client(client: ProviderHttpClient, **options) -> AsyncIterator[ProviderHttp]:
    async with make_http_client(timeout=options.pop("timeout", SHORT), client=client, **options) as http:
        yield http


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _unanswered_listener() -> Iterator[int]:
    """A port whose listen backlog is full and never drained: a SYN to it is dropped, connect times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def _failure(http: ProviderHttp, url: str) -> BaseException:
    try:
        response = await http.post(url, json={"to": "x"})
    except NETWORK_ERRORS as exc:
        return exc
    raise AssertionError(f"expected a network error, got {response!r}")


# --- the four outcomes the issue asks for, with either client -------------------------------------------


async def test_a_refused_connection_is_retried(client):
    async with _client(client) as http:
        exc = await _failure(http, f"http://127.0.0.1:{_closed_port()}/v21.0/1/messages")
    assert network_outcome(exc) == "retry", exc


async def test_a_connect_timeout_is_retried(client):
    with _unanswered_listener() as port:
        async with _client(client) as http:
            started = asyncio.get_running_loop().time()
            exc = await _failure(http, f"http://127.0.0.1:{port}/v21.0/1/messages")
            waited = asyncio.get_running_loop().time() - started
    assert network_outcome(exc) == "retry", exc
    assert 0.25 < waited < 0.9  # the connect timeout (0.3 s) ended it, not the read timeout (1 s)


async def test_a_read_timeout_after_the_request_was_written_is_unknown(client, fake_providers):
    fake_providers.script("whatsapp", hang())
    async with _client(client) as http:
        result = await _whatsapp(Providers(http, public_url="https://f.example"), fake_providers).send(
            outgoing()
        )
    assert result.outcome == "unknown", result.error_message
    assert len(fake_providers.sent("whatsapp")) == 1  # it was written: the provider may have it


async def test_a_connection_closed_after_the_request_was_written_is_unknown(client, fake_providers):
    fake_providers.script("whatsapp", drop())
    async with _client(client) as http:
        result = await _whatsapp(Providers(http, public_url="https://f.example"), fake_providers).send(
            outgoing()
        )
    assert result.outcome == "unknown", result.error_message
    assert len(fake_providers.sent("whatsapp")) == 1


@pytest.mark.parametrize("header", ["Retry-After", "retry-after", "RETRY-AFTER"])
async def test_a_429_with_retry_after_is_retried_after_the_delay(client, header, fake_providers):
    fake_providers.script("whatsapp", whatsapp_error(130429, "throughput", status=429, headers={header: "7"}))
    async with _client(client) as http:
        result = await _whatsapp(Providers(http, public_url="https://f.example"), fake_providers).send(
            outgoing()
        )
    assert (result.outcome, result.error_code, result.retry_after) == ("retry", "130429", 7.0)


async def test_response_headers_are_read_case_insensitively(client, fake_providers):
    fake_providers.script("whatsapp", reply(503, text="busy", headers={"Retry-After": "2", "X-Trace": "t1"}))
    async with _client(client) as http:
        response = await http.post(fake_providers.whatsapp_base + "/1/messages", json={})
    assert response.status_code == 503 and response.text == "busy"
    assert response.headers.get("x-trace") == response.headers.get("X-TRACE") == "t1"
    assert retry_after(response) == 2.0


# --- pool, redirects, lifecycle ---------------------------------------------------------------------------


async def test_waiting_for_a_pooled_connection_is_retried_because_nothing_was_sent(client, fake_providers):
    fake_providers.script("whatsapp", hang())
    timeouts = Timeouts(connect=0.5, read=1.0, pool=0.3)
    async with _client(client, timeout=timeouts, max_connections=1) as http:
        whatsapp = _whatsapp(Providers(http, public_url="https://f.example"), fake_providers)
        hung = asyncio.create_task(whatsapp.send(outgoing(message_id=1)))
        await asyncio.sleep(0.1)  # the only connection is now taken by the hung send
        waiting = await whatsapp.send(outgoing(message_id=2))
        assert (await hung).outcome == "unknown"

    assert waiting.outcome == "retry", waiting.error_message
    assert [request.body["biz_opaque_callback_data"] for request in fake_providers.sent("whatsapp")] == ["1"]


async def test_a_redirect_is_not_followed(client, fake_providers):
    fake_providers.script("whatsapp", reply(307, text="moved", headers={"Location": "/elsewhere"}))
    async with _client(client) as http:
        result = await _whatsapp(Providers(http, public_url="https://f.example"), fake_providers).send(
            outgoing()
        )

    assert (result.outcome, result.error_code) == ("rejected", "307")
    assert len(fake_providers.requests) == 1


async def test_the_setting_chooses_the_client_and_the_registry_closes_it(client, fake_providers, monkeypatch):
    monkeypatch.setenv("FLOWGATE_PROVIDER_HTTP_CLIENT", client)
    get_settings.cache_clear()
    try:
        providers = Providers(public_url="https://f.example")  # built before any request, as a worker does
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert providers.http.name == client
    result = await _whatsapp(providers, fake_providers).send(outgoing())
    assert result.outcome == "accepted"

    await providers.aclose()
    assert providers.http.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        await providers.http.post(fake_providers.whatsapp_base + "/1/messages", json={})


# --- at most once: a POST that was written is never sent again --------------------------------------------


class CountingServer:
    """A raw HTTP/1.1 server that counts every request it reads, body included, and then does what
    :attr:`plan` says for that request: ``answer`` (200, kept alive), ``hang_up`` (close without a
    word), or ``answer_then_close`` (200, then close the kept-alive connection while the client pools it).
    """

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.connections = 0
        self.plan: dict[bytes, str] = {}
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CountingServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/send"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self.bodies.append(body)
                action = self.plan.get(body, "answer")
                if action == "hang_up":
                    break
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"
                )
                await writer.drain()
                if action == "answer_then_close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _post(http: ProviderHttp, url: str, body: str) -> str:
    """``accepted`` or the network outcome."""
    try:
        await http.post(url, data={"m": body})
    except NETWORK_ERRORS as exc:
        return network_outcome(exc)
    return "accepted"


async def test_a_post_read_and_hung_up_on_a_kept_alive_connection_is_never_sent_again(client):
    """The case a client could re-send by itself: a reused pooled connection that fails after the request
    went out (hyper re-dispatches only requests handed back unstarted; aiohttp only idempotent methods)."""
    async with CountingServer() as server, _client(client) as http:
        outcomes = []
        for round_ in range(10):
            server.plan[f"m=lost{round_}".encode()] = "hang_up"
            outcomes.append(await _post(http, server.url, f"ok{round_}"))  # opens or reuses a connection
            outcomes.append(await _post(http, server.url, f"lost{round_}"))  # on that kept-alive connection
        await asyncio.sleep(0.3)  # room for a late re-send to arrive

    assert outcomes == ["accepted", "unknown"] * 10
    assert server.connections == 10  # each lost POST went out on the connection its round's first one used
    assert sorted(server.bodies) == sorted(
        [f"m=ok{r}".encode() for r in range(10)] + [f"m=lost{r}".encode() for r in range(10)]
    )


async def test_a_post_on_a_connection_the_server_closed_while_pooled_arrives_at_most_once(client):
    """The server closes each kept-alive connection right after answering: the next POST may find it
    stale in the pool. Whatever the client does about it, each body arrives at most once, and exactly
    once when the client says it was accepted."""
    async with CountingServer() as server, _client(client) as http:
        outcomes = {}
        for round_ in range(20):
            name = f"n{round_}"
            server.plan[f"m={name}".encode()] = "answer_then_close"
            outcomes[name] = await _post(http, server.url, name)
            await asyncio.sleep(0.005 * (round_ % 4))  # sometimes before, sometimes after the close lands
        await asyncio.sleep(0.3)

    for name, result in outcomes.items():
        arrived = server.bodies.count(f"m={name}".encode())
        assert arrived <= 1, (name, arrived)
        assert result != "accepted" or arrived == 1, (name, result)
    assert all(result in ("accepted", "retry", "unknown") for result in outcomes.values())


async def test_concurrent_posts_hung_up_on_after_reading_are_each_received_once(client):
    async with CountingServer() as server, _client(client) as http:
        names = [f"c{i}" for i in range(60)]
        for name in names[::2]:
            server.plan[f"m={name}".encode()] = "hang_up"
        results = await asyncio.gather(*(_post(http, server.url, name) for name in names))
        await asyncio.sleep(0.3)

    assert sorted(server.bodies) == sorted(f"m={name}".encode() for name in names)
    assert results[::2] == ["unknown"] * 30
    assert results[1::2] == ["accepted"] * 30
