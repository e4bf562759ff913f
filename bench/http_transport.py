"""Requests/s and client CPU per request of the HTTP client choices against a local sink.

Why: the provider hot path makes one POST per message and the worker that makes it also does the
database work, so what matters is the client's CPU per request, and above all the part of it spent on the
event loop's thread (the thread the database work needs). Reported per variant: requests/s, process CPU
per request (every thread: pyreqwest's tokio thread included), loop-thread CPU per request, and each
as a ratio to ``ProviderHttp over aiohttp`` measured in the same run. On a loaded machine CPU per request
is the steadier number; rounds are interleaved and the median of each is reported.

Variants, against the same sink in a separate process:

- ``httpx`` with its default transport (fewer requests: it is ~20x slower),
- ``httpx + httpx-aiohttp`` (the client before ``ProviderHttp``),
- ``ProviderHttp over aiohttp``: ``make_http_client(client="aiohttp")``, the way back,
- raw ``aiohttp.ClientSession`` (the ceiling for anything built on aiohttp),
- raw ``pyreqwest`` client (the ceiling for anything built on pyreqwest),
- ``ProviderHttp over pyreqwest``: ``make_http_client(client="pyreqwest")``, the default.

Each variant POSTs a WhatsApp-like JSON body with a bearer header and parses the JSON answer.

Run: ``.venv/bin/python bench/http_transport.py [--requests 20000] [--concurrency 200] [--rounds 3]
[--sink uvicorn|aiohttp] [--uvloop] [--only NAME ...]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BODY = {"messaging_product": "whatsapp", "to": "351912000001", "type": "text", "text": {"body": "hi"}}
HEADERS = {"Authorization": "Bearer bench-token"}
ANSWER = json.dumps({"messaging_product": "whatsapp", "messages": [{"id": "wamid.X"}]}).encode()
HTTPX_DEFAULT_MAX = 2_000
"""httpx's default transport does ~600 requests/s here: its rounds are capped so a run stays short."""


@dataclass(frozen=True)
class Sample:
    rate: float
    """Requests per second."""
    cpu_us: float
    """Process CPU (all threads) per request, microseconds."""
    loop_us: float
    """CPU of the event loop's thread per request, microseconds."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_aiohttp_sink(port: int) -> None:
    """A WhatsApp-like answer to every POST from aiohttp's server."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=ANSWER, content_type="application/json")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def run_uvicorn_sink(port: int) -> None:
    """The same answer from raw ASGI under uvicorn + httptools + uvloop: about twice aiohttp's server
    capacity here, so the sink caps the fastest client less."""
    import uvicorn

    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]

    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": ANSWER})

    uvicorn.run(app, host="127.0.0.1", port=port, http="httptools", loop="uvloop", log_level="error")


async def _drive(send: Callable[[], Awaitable[None]], total: int, concurrency: int) -> Sample:
    """``total`` sends by ``concurrency`` tasks, timed and CPU-counted."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await send()

    started, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Sample(
        rate=total / elapsed,
        cpu_us=(time.process_time() - cpu) / total * 1e6,
        loop_us=(time.thread_time() - loop_cpu) / total * 1e6,
    )


async def _warm_then_drive(send: Callable[[], Awaitable[None]], total: int, concurrency: int) -> Sample:
    await _drive(send, min(total, 1_000), concurrency)  # open the pool before timing
    return await _drive(send, total, concurrency)


async def bench_httpx_default(url: str, total: int, concurrency: int) -> Sample:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def send() -> None:
            response = await client.post(url, json=BODY, headers=HEADERS)
            response.raise_for_status()
            response.json()

        return await _warm_then_drive(send, min(total, HTTPX_DEFAULT_MAX), concurrency)


async def bench_httpx_aiohttp(url: str, total: int, concurrency: int) -> Sample:
    import aiohttp
    import httpx
    from httpx_aiohttp import AiohttpTransport

    def session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500, limit_per_host=200))

    async with httpx.AsyncClient(transport=AiohttpTransport(client=session), timeout=30) as client:

        async def send() -> None:
            response = await client.post(url, json=BODY, headers=HEADERS)
            response.raise_for_status()
            response.json()

        return await _warm_then_drive(send, total, concurrency)


def _bench_provider_http(client_name: str) -> Callable[[str, int, int], Awaitable[Sample]]:
    async def bench(url: str, total: int, concurrency: int) -> Sample:
        from backend.providers.http import make_http_client

        async with make_http_client(client=client_name) as client:  # type: ignore[arg-type]

            async def send() -> None:
                response = await client.post(url, json=BODY, headers=HEADERS)
                assert response.is_success
                response.json()

            return await _warm_then_drive(send, total, concurrency)

    return bench


async def bench_aiohttp(url: str, total: int, concurrency: int) -> Sample:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500)) as session:

        async def send() -> None:
            async with session.post(url, json=BODY, headers=HEADERS) as response:
                response.raise_for_status()
                await response.json()

        return await _warm_then_drive(send, total, concurrency)


async def bench_pyreqwest(url: str, total: int, concurrency: int) -> Sample:
    from pyreqwest.client import ClientBuilder

    async with ClientBuilder().max_connections(500).build() as client:

        async def send() -> None:
            response = await client.post(url).headers(HEADERS).body_json(BODY).build().send()
            response.error_for_status()
            await response.json()

        return await _warm_then_drive(send, total, concurrency)


BASELINE = "ProviderHttp over aiohttp (way back)"
VARIANTS: dict[str, Callable[[str, int, int], Awaitable[Sample]]] = {
    "httpx (default transport)": bench_httpx_default,
    "httpx + httpx-aiohttp (earlier client)": bench_httpx_aiohttp,
    BASELINE: _bench_provider_http("aiohttp"),
    "aiohttp ClientSession (raw)": bench_aiohttp,
    "pyreqwest Client (raw)": bench_pyreqwest,
    "ProviderHttp over pyreqwest (default)": _bench_provider_http("pyreqwest"),
}


def _wait_for_sink(port: int) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _run(coroutine: Awaitable[Sample], use_uvloop: bool) -> Sample:
    if use_uvloop:
        import uvloop

        return uvloop.run(coroutine)  # type: ignore[arg-type]
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=200, help="requests in flight (the worker's 200)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--sink", choices=("uvicorn", "aiohttp"), default="uvicorn")
    parser.add_argument("--uvloop", action="store_true", help="run the clients on uvloop's event loop")
    parser.add_argument("--only", nargs="*", help="variants whose name contains one of these words")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        (run_uvicorn_sink if args.sink == "uvicorn" else run_aiohttp_sink)(args.serve)
        return

    chosen = {
        name: bench
        for name, bench in VARIANTS.items()
        if name == BASELINE or not args.only or any(word.lower() in name.lower() for word in args.only)
    }
    port = _free_port()
    sink = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--sink", args.sink])
    samples: dict[str, list[Sample]] = {name: [] for name in chosen}
    failures: dict[str, str] = {}
    try:
        _wait_for_sink(port)
        url = f"http://127.0.0.1:{port}/v21.0/109876543210/messages"
        for _ in range(args.rounds):
            for name, bench in chosen.items():
                try:
                    samples[name].append(_run(bench(url, args.requests, args.concurrency), args.uvloop))
                except Exception as exc:  # one client failing a round (httpx's ReadError) spoils no other
                    failures.setdefault(name, f"{type(exc).__name__}: {exc}")
    finally:
        sink.terminate()
        sink.wait(10)

    loop = "uvloop" if args.uvloop else "asyncio"
    print(
        f"{args.requests:,} POSTs at concurrency {args.concurrency} against a local {args.sink} sink "
        f"({loop}; median of {args.rounds} interleaved rounds; ratios to {BASELINE!r} from this run)"
    )
    print(
        f"  {'client':<40} {'req/s':>8} {'x':>6}   {'CPU µs/req':>10} {'x':>6}   {'loop-thread µs/req':>18} {'x':>6}"
    )
    medians = {
        name: Sample(
            rate=statistics.median(s.rate for s in runs),
            cpu_us=statistics.median(s.cpu_us for s in runs),
            loop_us=statistics.median(s.loop_us for s in runs),
        )
        for name, runs in samples.items()
        if runs
    }
    base = medians[BASELINE]
    for name, sample in medians.items():
        print(
            f"  {name:<40} {sample.rate:>8,.0f} {sample.rate / base.rate:>5.2f}x   "
            f"{sample.cpu_us:>10,.1f} {sample.cpu_us / base.cpu_us:>5.2f}x   "
            f"{sample.loop_us:>18,.1f} {sample.loop_us / base.loop_us:>5.2f}x"
        )
    for name, failure in failures.items():
        print(f"  {name}: a round failed ({failure}); {len(samples[name])} of {args.rounds} rounds counted")
    if "httpx (default transport)" in medians:
        print(f"  (httpx default transport: {min(args.requests, HTTPX_DEFAULT_MAX):,} requests per round)")


if __name__ == "__main__":
    main()
