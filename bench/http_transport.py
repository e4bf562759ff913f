"""Requests/s and client CPU per request of the HTTP client choices against a local aiohttp sink.

Why: the provider hot path makes one POST per message and the worker that makes it also does the
database work, so what matters is the client's CPU per request (reported beside req/s; on a loaded
machine it is the steadier number). Compared on the same sink in a separate process:

- ``httpx`` with its default transport,
- ``httpx + httpx-aiohttp`` (the previous provider client),
- ``ProviderHttp``: what ``backend.providers.http.make_http_client`` builds (our thin layer over aiohttp),
- raw ``aiohttp.ClientSession`` (the ceiling for anything built on aiohttp).

Each variant POSTs a WhatsApp-like JSON body with a bearer header and parses the JSON answer.

Run: ``.venv/bin/python bench/http_transport.py [--requests 20000] [--concurrency 50] [--uvloop]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BODY = {"messaging_product": "whatsapp", "to": "351912000001", "type": "text", "text": {"body": "hi"}}
HEADERS = {"Authorization": "Bearer bench-token"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_sink(port: int) -> None:
    """A WhatsApp-like answer to every POST, as cheap as aiohttp allows."""
    from aiohttp import web

    answer = json.dumps({"messaging_product": "whatsapp", "messages": [{"id": "wamid.X"}]}).encode()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=answer, content_type="application/json")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def _drive(send: Callable[[], Awaitable[None]], total: int, concurrency: int) -> tuple[float, float]:
    """(requests/s, client CPU microseconds per request) for ``total`` sends by ``concurrency`` tasks."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await send()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started), (time.process_time() - cpu) / total * 1e6


async def bench_httpx_default(url: str, total: int, concurrency: int) -> tuple[float, float]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def send() -> None:
            response = await client.post(url, json=BODY, headers=HEADERS)
            response.raise_for_status()
            response.json()

        await _drive(send, min(total, 500), concurrency)  # warm-up: open the pool
        return await _drive(send, total, concurrency)


async def bench_httpx_aiohttp(url: str, total: int, concurrency: int) -> tuple[float, float]:
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

        await _drive(send, min(total, 500), concurrency)
        return await _drive(send, total, concurrency)


async def bench_provider_http(url: str, total: int, concurrency: int) -> tuple[float, float]:
    from backend.providers.http import make_http_client

    async with make_http_client() as client:

        async def send() -> None:
            response = await client.post(url, json=BODY, headers=HEADERS)
            assert response.is_success
            response.json()

        await _drive(send, min(total, 500), concurrency)
        return await _drive(send, total, concurrency)


async def bench_aiohttp(url: str, total: int, concurrency: int) -> tuple[float, float]:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500)) as session:

        async def send() -> None:
            async with session.post(url, json=BODY, headers=HEADERS) as response:
                response.raise_for_status()
                await response.json()

        await _drive(send, min(total, 500), concurrency)
        return await _drive(send, total, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--uvloop", action="store_true", help="run the clients on uvloop's event loop")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        run_sink(args.sink)
        return

    port = _free_port()
    sink = subprocess.Popen([sys.executable, __file__, "--sink", str(port)])
    try:
        import httpx

        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.post(f"http://127.0.0.1:{port}/ping", json={})
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/v21.0/109876543210/messages"
        loop = "uvloop" if args.uvloop else "asyncio"
        print(
            f"{args.requests} POSTs at concurrency {args.concurrency} against a local aiohttp sink ({loop})"
        )
        for name, bench in (
            ("httpx (default transport)", bench_httpx_default),
            ("httpx + httpx-aiohttp (previous client)", bench_httpx_aiohttp),
            ("ProviderHttp (make_http_client)", bench_provider_http),
            ("aiohttp ClientSession", bench_aiohttp),
        ):
            coroutine = bench(url, args.requests, args.concurrency)
            if args.uvloop:
                import uvloop

                rate, cpu = uvloop.run(coroutine)
            else:
                rate, cpu = asyncio.run(coroutine)
            print(f"  {name:<42} {rate:>8,.0f} req/s  {cpu:>6,.0f} µs CPU/request")
    finally:
        sink.terminate()
        sink.wait(10)


if __name__ == "__main__":
    main()
