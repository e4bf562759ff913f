"""`flowgate dev` exactly as a new user runs it: no configuration at all, in an empty folder."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import httpx
import pytest
import redis

from tests.conftest import flowgate_command, free_port, subprocess_env, wait_for_http

pytestmark = pytest.mark.slow


def _fresh_machine_env() -> dict[str, str]:
    env = subprocess_env()
    for name in list(env):
        if name.startswith("FLOWGATE_"):
            del env[name]
    return env


def test_dev_runs_api_worker_and_ui_and_stops_cleanly_on_ctrl_c(tmp_path):
    api_port, ui_port = free_port(), free_port()
    process = subprocess.Popen(
        flowgate_command("dev", "--api-port", str(api_port), "--ui-port", str(ui_port)),
        cwd=tmp_path,
        env=_fresh_machine_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        banner_seen = False
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not banner_seen:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            banner_seen = "Press Ctrl-C to stop" in line
        text = "".join(output)
        assert banner_seen, text

        health = wait_for_http(f"http://127.0.0.1:{api_port}/health").json()
        assert health["status"] == "ok"
        deadline = time.monotonic() + 20
        while not health["worker"]["alive"] and time.monotonic() < deadline:
            time.sleep(0.5)
            health = httpx.get(f"http://127.0.0.1:{api_port}/health").json()
        assert health["worker"]["alive"], "the worker never sent a heartbeat"

        assert wait_for_http(f"http://127.0.0.1:{ui_port}/login").status_code == 200

        login = httpx.post(
            f"http://127.0.0.1:{api_port}/api/v1/auth/login",
            json={"email": "demo@example.com", "password": "flowgate-demo"},
        )
        assert login.status_code == 200, login.text
        assert "demo@example.com / flowgate-demo" in text
        assert (tmp_path / "flowgate.db").exists()
        redis_url = re.search(r"Redis\s+(redis://\S+)", text)[1]
        assert redis.Redis.from_url(redis_url).ping()
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    assert process.returncode == 0

    for port in (api_port, ui_port):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(redis_url, socket_connect_timeout=0.5).ping()


async def test_demo_workspace_is_seeded_once(migrated):
    from backend.devtree import DEMO_EMAIL, _prepare_database
    from backend.workspaces.tables import User, Workspace

    first = await _prepare_database()
    second = await _prepare_database()
    assert first is not None and first.startswith("fgk_")
    assert second is None
    assert await Workspace.count() == 1
    assert await User.exists().where(User.email == DEMO_EMAIL)
