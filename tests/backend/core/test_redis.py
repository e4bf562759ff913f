"""The embedded Redis: a real server that starts on a free port and is gone when its owner stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import redis

from backend.core.redis import EmbeddedRedis, redis_url_or_embedded


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.3).ping())
    except redis.ConnectionError:
        return False


def test_starts_a_real_server_and_stops_it(tmp_path):
    server = EmbeddedRedis(tmp_path, persist=False)
    url = server.start()
    try:
        client = redis.Redis.from_url(url)
        client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
        assert client.info("server")["redis_version"]
    finally:
        server.stop()
    assert not _answers(url)


def test_configured_url_is_used_as_is(tmp_path):
    with redis_url_or_embedded("redis://example.invalid:6379/0", tmp_path) as url:
        assert url == "redis://example.invalid:6379/0"
    assert not (tmp_path / "redis").exists()


def test_server_dies_with_its_owner_even_on_sigkill(tmp_path):
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from backend.core.redis import EmbeddedRedis
                print(EmbeddedRedis({str(tmp_path)!r}, persist=False).start(), flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    url = owner.stdout.readline().strip()
    assert _answers(url)
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 5
    while _answers(url) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _answers(url)
