"""The process's one HTTP client for provider calls, and how a failed call is classified.

The gateway's hot path is one POST per message and the goal is 4,000 messages/s from one worker process
that also does the database work, so this layer must cost as little CPU as possible. Measured
(``bench/http_transport.py``, profiles in notes): httpx's client layer alone (request/URL/header models,
cookie extraction, response streaming) costs more than twice what aiohttp's whole request does, so even over
the ``httpx-aiohttp`` transport httpx used ~3x the CPU per request of a bare ``aiohttp.ClientSession``.
:class:`ProviderHttp` is therefore a thin layer of our own over one shared session, offering just what the
providers need: POST JSON or a form with headers, answering a small :class:`HttpResponse`.

At most once (invariant 3): :func:`network_outcome` says ``retry`` only for failures certain to happen
before the request was written (connection refused/unreachable, connect timeout, waiting for a pooled
connection); a read timeout or a connection dropped after writing is ``unknown`` and never re-sent
blindly. aiohttp itself never re-sends a POST (it retries a stale pooled connection for idempotent
methods only).

Two transports sit behind one interface, chosen by the ``provider_http_client`` setting
(``FLOWGATE_PROVIDER_HTTP_CLIENT``): :class:`AiohttpProviderHttp` here, and ``pyreqwest`` (Rust, async;
``backend/providers/http_reqwest.py``), which did the same requests for about half the CPU, and a sixth
of the event loop's, in ``bench/http_transport.py``. pyreqwest is a 0.x project with one maintainer, so aiohttp stays one setting
away: both answer the same :class:`HttpResponse` and fail with errors that :func:`network_outcome` maps to
the same outcomes (tests/backend/providers/test_http.py runs the same failures against both).
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import urlencode

import aiohttp
import msgspec

from backend.config import ProviderHttpClient, get_settings
from backend.providers.base import SendOutcome

USER_AGENT: Final = "Flowgate"
MAX_CONNECTIONS: Final = 500
MAX_CONNECTIONS_PER_HOST: Final = 200
KEEPALIVE_SECONDS: Final = 30.0
JSON_TYPE: Final = "application/json"
FORM_TYPE: Final = "application/x-www-form-urlencoded"


class RequestFailed(Exception):
    """No complete answer came, already classified by the transport that knows its own errors.

    A transport whose exception types do not say whether the request was written (pyreqwest names a read
    timeout after writing a ``ConnectTimeoutError``) decides the outcome where the facts are, and raises
    this instead; the message keeps the native error's name and causes for the message's error text."""

    def __init__(self, outcome: SendOutcome, message: str) -> None:
        super().__init__(message)
        self.outcome: SendOutcome = outcome


NETWORK_ERRORS: Final = (aiohttp.ClientError, OSError, asyncio.TimeoutError, RequestFailed)
"""What :meth:`ProviderHttp.post` can raise instead of answering (feed it to :func:`network_outcome`)."""

_encode_json = msgspec.json.Encoder().encode
_decode_json = msgspec.json.Decoder().decode


class TimeoutLike(Protocol):
    """``connect``/``read``/``pool`` in seconds: :class:`Timeouts`, or an ``httpx.Timeout`` (tests)."""

    connect: float | None
    read: float | None
    pool: float | None


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float | None = 5.0
    """Opening a TCP (and TLS) connection."""
    read: float | None = 15.0
    """Between two reads of the answer: a provider that took the request and went quiet."""
    pool: float | None = 10.0
    """Waiting for a free pooled connection plus connecting (aiohttp counts both as ``connect``); with
    pyreqwest, waiting for one of ``max_connections`` request slots."""


TIMEOUTS: Final = Timeouts()


def _client_timeout(timeout: TimeoutLike) -> aiohttp.ClientTimeout:
    # No total limit: a slow but progressing answer is not a failure, a silent one is (``read``).
    pool = timeout.pool if timeout.pool is not None else timeout.connect
    return aiohttp.ClientTimeout(
        total=None, connect=pool, sock_connect=timeout.connect, sock_read=timeout.read
    )


class HttpResponse:
    """A provider's answer, read in full: status, headers (case-insensitive) and body bytes.

    Named like httpx's response (``status_code``, ``is_success``, ``text``, ``json()``) so provider code
    reads like any HTTP client code."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not JSON."""
        return _decode_json(self.content)

    def __repr__(self) -> str:
        return f"<HttpResponse {self.status_code} {len(self.content)} bytes>"


def basic_auth(username: str, password: str) -> str:
    """An ``Authorization`` header value for HTTP Basic auth (computed once per provider, not per call)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class ProviderHttp(ABC):
    """One per process: a keep-alive pool shared by every HTTP provider, over one of two transports.

    This base owns what must not differ between transports: the body encoding, the headers, the closed
    state. A subclass only moves bytes (:meth:`_send`) and closes its pool (:meth:`_close`), so switching
    ``provider_http_client`` cannot change what a provider sends. The pool is created on the first
    request, inside the running event loop (a worker builds its ``Providers`` before the loop that will
    use it may exist), and closed by :meth:`aclose`. Cookies are never kept: one client serves every
    workspace's senders, and no provider API needs them.
    """

    name: str
    """The ``provider_http_client`` value that selects this transport."""

    def __init__(self, *, timeout: TimeoutLike | None = None, max_connections: int = MAX_CONNECTIONS) -> None:
        self._timeouts: TimeoutLike = timeout or TIMEOUTS
        self._max_connections = max_connections
        self._closed = False

    @property
    def is_closed(self) -> bool:
        return self._closed

    async def post(
        self,
        url: str,
        *,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """POST a JSON body (``json``) or a form (``data``); raises one of :data:`NETWORK_ERRORS` when no
        complete answer came back. Redirects are not followed (a provider API never redirects a send)."""
        if self._closed:
            raise RuntimeError("the provider HTTP client is closed")
        if json is not None:
            body, content_type = _encode_json(json), JSON_TYPE
        else:
            body, content_type = urlencode(data or {}).encode(), FORM_TYPE
        request_headers = {"Content-Type": content_type}
        if headers:
            request_headers.update(headers)
        return await self._send(url, body, request_headers)

    @abstractmethod
    async def _send(self, url: str, body: bytes, headers: dict[str, str]) -> HttpResponse:
        """POST ``body`` once, read the whole answer; never re-send what may have been written."""

    @abstractmethod
    async def _close(self) -> None:
        """Close the pool (when one was opened)."""

    async def aclose(self) -> None:
        self._closed = True
        await self._close()

    async def __aenter__(self) -> ProviderHttp:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class AiohttpProviderHttp(ProviderHttp):
    """The aiohttp transport: the way back from pyreqwest (``FLOWGATE_PROVIDER_HTTP_CLIENT=aiohttp``)."""

    name = "aiohttp"

    def __init__(self, *, timeout: TimeoutLike | None = None, max_connections: int = MAX_CONNECTIONS) -> None:
        super().__init__(timeout=timeout, max_connections=max_connections)
        self._timeout = _client_timeout(self._timeouts)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=min(self._max_connections, MAX_CONNECTIONS_PER_HOST),
            keepalive_timeout=KEEPALIVE_SECONDS,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            headers={"User-Agent": USER_AGENT},
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self._session

    async def _send(self, url: str, body: bytes, headers: dict[str, str]) -> HttpResponse:
        session = self._session or self._open()
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
            content = await response.read()
            return HttpResponse(response.status, response.headers, content)

    async def _close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def make_http_client(
    *,
    timeout: TimeoutLike | None = None,
    client: ProviderHttpClient | None = None,
    max_connections: int = MAX_CONNECTIONS,
) -> ProviderHttp:
    """The shared provider client (one per process, closed at shutdown) over the transport ``client``
    names, by default the ``provider_http_client`` setting. ``timeout`` overrides the defaults (connect
    5 s, read 15 s, pool 10 s); tests use short ones to see a hung provider."""
    client = client or get_settings().provider_http_client
    if client == "pyreqwest":
        # Imported here so that the aiohttp setting works even where pyreqwest cannot be imported.
        from backend.providers.http_reqwest import PyreqwestProviderHttp

        return PyreqwestProviderHttp(timeout=timeout, max_connections=max_connections)
    if client == "aiohttp":
        return AiohttpProviderHttp(timeout=timeout, max_connections=max_connections)
    raise ValueError(f"unknown provider HTTP client {client!r}")


def network_outcome(exc: BaseException) -> SendOutcome:
    """``retry`` when the request never left (connection refused or unreachable, connect or pool
    timeout), else ``unknown`` (read timeout, connection dropped after writing: the provider may have it).
    """
    if isinstance(exc, RequestFailed):
        return exc.outcome
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return "retry"
    if isinstance(exc, ConnectionRefusedError):
        return "retry"
    return "unknown"


def retry_after(response: HttpResponse) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or bad."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def json_or_none(response: HttpResponse) -> object:
    """The answer's JSON, or None when the body is not JSON (a proxy's HTML error page)."""
    try:
        return response.json()
    except ValueError:
        return None
