"""A fake WhatsApp Cloud API for the benchmarks, as cheap as a server can answer; run it in its own process.

``python bench/whatsapp_sink.py PORT``. A raw ASGI app under uvicorn (httptools parser, uvloop, no access
log): an aiohttp sink answered ~1,750 requests/s and was itself the ceiling. It checks the bearer token
(``bench-token``), answers the Cloud API's success body with a unique ``wamid`` per request, and counts
who it was asked to message: ``GET /stats`` says how many sends, to how many numbers, which numbers more
than once and when the last one came (``?numbers=1`` lists them all); ``POST /reset`` forgets them.
"""

from __future__ import annotations

import itertools
import sys
import time

TOKEN = b"Bearer bench-token"


def run(port: int) -> None:
    import msgspec
    import uvicorn

    counter = itertools.count(1)
    seen: dict[bytes, int] = {}
    last = [0.0]
    encode = msgspec.json.Encoder().encode
    decode = msgspec.json.Decoder().decode
    json_headers = [(b"content-type", b"application/json")]

    async def answer(send, status: int, body: bytes) -> None:  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": status, "headers": json_headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":  # lifespan is off; nothing else is expected
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/reset":
            seen.clear()
            await answer(send, 200, b"{}")
            return
        if scope["method"] == "GET":
            stats = {
                "total": sum(seen.values()),
                "distinct": len(seen),
                "repeated": {key.decode(): count for key, count in seen.items() if count > 1},
                "last": last[0],
                "to": [key.decode() for key in seen] if scope.get("query_string") == b"numbers=1" else None,
            }
            await answer(send, 200, encode(stats))
            return
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if authorization != TOKEN:
            await answer(send, 401, b'{"error":{"code":190}}')
            return
        to = decode(body).get("to", "")
        key = str(to).encode()
        seen[key] = seen.get(key, 0) + 1
        last[0] = time.time()
        reply = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": str(to).lstrip("+")}],
            "messages": [{"id": f"wamid.bench{next(counter)}"}],
        }
        await answer(send, 200, encode(reply))

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=75,  # longer than the client's 30 s keep-alive, as real APIs are
        backlog=2048,
    )


if __name__ == "__main__":
    run(int(sys.argv[1]))
