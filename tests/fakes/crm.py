"""A customer's CRM as flows' HTTP request nodes meet it: a local JSON endpoint, and a flow that looks
a customer up there and says which tier they are in (or that the lookup failed)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CUSTOMER = {"customer": {"tier": "gold", "points": 1200}}


@contextlib.contextmanager
def serve_crm(*, delay: float = 0.0) -> Iterator[str]:
    """Serve :data:`CUSTOMER` for every GET, after ``delay`` seconds; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(delay)
            body = json.dumps(CUSTOMER).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def lookup_graph(url: str) -> dict[str, Any]:
    """start → look the contact up at ``url`` → "You are gold" on success, "Lookup failed" otherwise."""
    return {
        "nodes": [
            {"kind": "start", "id": "start"},
            {
                "kind": "http_request",
                "id": "lookup",
                "url": url + "/customers/{{contact.phone}}",
                "save": [{"variable": "tier", "path": "customer.tier"}],
            },
            {"kind": "send_message", "id": "ok", "text": 'You are {{vars.tier | "new"}}'},
            {"kind": "send_message", "id": "oops", "text": "Lookup failed"},
            {"kind": "end", "id": "end"},
        ],
        "edges": [
            {"source": "start", "target": "lookup"},
            {"source": "lookup", "source_port": "success", "target": "ok"},
            {"source": "lookup", "source_port": "failure", "target": "oops"},
            {"source": "ok", "target": "end"},
            {"source": "oops", "target": "end"},
        ],
    }
