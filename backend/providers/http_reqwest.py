"""The pyreqwest transport of :class:`~backend.providers.http.ProviderHttp` (the default client).

Why: pyreqwest (Rust: reqwest over hyper and tokio) runs the connection pool, the HTTP parsing and the
socket work on its own thread, so the event loop that also does a worker's database work pays a fraction
of what aiohttp costs per request (numbers in ``bench/http_transport.py``). It is a 0.x project with one
maintainer, so ``FLOWGATE_PROVIDER_HTTP_CLIENT=aiohttp`` switches back without a code change.

At most once (invariant 3) needs more care here than with aiohttp, because pyreqwest's exception types
do not say whether the request was written: it names any timeout outside the body a
``ConnectTimeoutError`` (a provider that took the request and went quiet included) and any closed
connection outside the body a ``ConnectError`` (a provider that read the request and hung up included).
So :func:`outcome` ignores the type and reads the cause chain: ``retry`` only for a pool timeout or when
hyper's client says the failure was in ``Connect`` (no connection, so nothing written), ``unknown`` for
everything else. Should a new release word its causes differently, sends end ``unknown``, never
re-sent, and the tests of refused connections and connect timeouts say so.

What reqwest could re-send on its own, and why it does not here:

- redirects: not followed (``follow_redirects(False)``);
- reqwest's retry policy: by default it retries HTTP/2 ``REFUSED_STREAM`` and graceful ``GOAWAY`` only
  (both mean the server did not process the stream); this client speaks HTTP/1.1 only;
- hyper's ``retry_canceled_requests``: re-dispatches a request that a reused pooled connection handed
  back unstarted (closed before the request was written), never one that was written. The test with a
  server that reads the body and hangs up on a kept-alive connection proves it for this build.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from pyreqwest.client import Client, ClientBuilder
from pyreqwest.exceptions import PoolTimeoutError, RequestError

from backend.providers.base import SendOutcome
from backend.providers.http import (
    KEEPALIVE_SECONDS,
    MAX_CONNECTIONS,
    USER_AGENT,
    HttpResponse,
    ProviderHttp,
    RequestFailed,
    TimeoutLike,
)

CONNECT_PHASE: Final = "client error (Connect)"
"""How hyper-util's client names a failure to get a connection (connecting, DNS, TLS handshake)."""
_REQUEST_CAUSE: Final = "error sending request for url"
"""reqwest's outermost cause, which repeats the full URL: left out of error texts (paths carry ids)."""


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _causes(exc: RequestError) -> list[str]:
    details = getattr(exc, "details", None) or {}
    return [str(cause.get("message", "")) for cause in details.get("causes") or ()]


def outcome(exc: RequestError) -> SendOutcome:
    """``retry`` only when nothing can have been written: waiting for a free connection slot timed out,
    or hyper failed to get a connection at all (refused, unreachable, DNS, TLS, connect timeout)."""
    if isinstance(exc, PoolTimeoutError):
        return "retry"
    if CONNECT_PHASE in _causes(exc):
        return "retry"
    return "unknown"


def describe(exc: RequestError) -> str:
    """The error's name and causes, without the URL: ``ConnectError: connection error (tcp connect error:
    Connection refused (os error 111))``."""
    causes = [cause for cause in _causes(exc) if not cause.startswith(_REQUEST_CAUSE)]
    message = getattr(exc, "message", "") or type(exc).__name__
    suffix = f" ({': '.join(causes)})" if causes else ""
    return f"{type(exc).__name__}: {message}{suffix}"


class PyreqwestProviderHttp(ProviderHttp):
    """The pyreqwest transport: one ``pyreqwest`` client, HTTP/1.1, no redirects, no proxies, no cookies.

    Timeouts: ``connect`` bounds opening a connection, ``pool`` waiting for one of ``max_connections``
    request slots, ``read`` each wait for the answer. reqwest starts the read timer when the request
    starts, so keep ``read`` longer than ``connect`` (15 s against 5 s by default): a connect that
    outlasts ``read`` ends as a read timeout, ``unknown`` (safe, but not retried at once).
    """

    name = "pyreqwest"

    def __init__(self, *, timeout: TimeoutLike | None = None, max_connections: int = MAX_CONNECTIONS) -> None:
        super().__init__(timeout=timeout, max_connections=max_connections)
        self._client: Client | None = None

    def _open(self) -> Client:
        timeouts = self._timeouts
        builder = (
            ClientBuilder()
            .http1_only()
            .follow_redirects(False)
            .referer(False)
            .no_proxy()  # like aiohttp (trust_env off): HTTP(S)_PROXY does not reroute provider traffic
            .user_agent(USER_AGENT)
            .max_connections(self._max_connections)
            .pool_idle_timeout(timedelta(seconds=KEEPALIVE_SECONDS))
        )
        if (connect := _seconds(timeouts.connect)) is not None:
            builder = builder.connect_timeout(connect)
        if (read := _seconds(timeouts.read)) is not None:
            builder = builder.read_timeout(read)
        if (pool := _seconds(timeouts.pool if timeouts.pool is not None else timeouts.connect)) is not None:
            builder = builder.pool_timeout(pool)
        self._client = builder.build()
        return self._client

    async def _send(self, url: str, body: bytes, headers: dict[str, str]) -> HttpResponse:
        client = self._client or self._open()
        try:
            response = await client.post(url).headers(headers).body_bytes(body).build().send()
            content = (await response.bytes()).to_bytes()
        except RequestError as exc:
            raise RequestFailed(outcome(exc), describe(exc)) from exc
        # The header map is pyreqwest's own: case-insensitive, so ``get("retry-after")`` finds Retry-After.
        return HttpResponse(response.status, response.headers, content)

    async def _close(self) -> None:
        # Close before the interpreter exits: pyreqwest 0.15 aborted the process at exit when a client
        # was left open (PyGILState_Release during finalisation).
        client, self._client = self._client, None
        if client is not None:
            await client.close()
