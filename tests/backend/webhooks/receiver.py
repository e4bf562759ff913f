"""A webhook receiver written from the Standard Webhooks specification, not from Flowgate's code: a real
HTTP server on 127.0.0.1 that verifies every request the way an integrator's would, and records it.

Verification (spec, "Verifying webhook authenticity"): the key is the base64 part of the ``whsec_``
secret, decoded; the signed content is ``{webhook-id}.{webhook-timestamp}.{raw body}``; the
``webhook-signature`` header holds space-separated ``v1,<base64 HMAC-SHA256>`` entries, any of which
may match; a timestamp more than five minutes away from now is refused (replays).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_S = 5 * 60


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> str | None:
    """None when the request is authentic, else why not."""
    message_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (message_id and timestamp and signatures):
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    if not timestamp.isdigit():
        return "webhook-timestamp is not unix seconds"
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > TOLERANCE_S:
        return "timestamp outside the tolerance"
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in signatures.split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected.encode()):
            return None
    return "no signature matches"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    problem: str | None
    """Why verification failed; None for an authentic request."""
    answered: int

    @property
    def verified(self) -> bool:
        return self.problem is None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers the scripted status codes in order (then ``default``); 401 to a request it cannot verify."""

    secret: str = ""
    statuses: list[int] = field(default_factory=list)
    default: int = 200
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {key.lower(): value for key, value in self.headers.items()}
                problem = verify(receiver.secret, headers, body)
                with receiver._lock:
                    status = (
                        401
                        if problem
                        else (receiver.statuses.pop(0) if receiver.statuses else receiver.default)
                    )
                    receiver.received.append(Received(headers, body, problem, status))
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                payload = b'{"error": "scripted failure"}' if status >= 400 else b""
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/consent"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
