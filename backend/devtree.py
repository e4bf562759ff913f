"""``flowgate dev``: the whole product as one process tree on one machine.

Order matters: migrate and seed first (so no child races the schema), then the embedded Redis, then
api, worker and ui as child processes in their own sessions. Ctrl-C (or SIGTERM) stops the children
in reverse order, then Redis. If any child dies, the tree stops rather than limp on half-working.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from backend.config import Settings
from backend.core.processes import die_with_parent
from backend.core.redis import redis_url_or_embedded

log = logging.getLogger("flowgate.dev")

DEMO_WORKSPACE = "Demo workspace"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "flowgate-demo"
STARTUP_TIMEOUT_S = 60
STOP_TIMEOUT_S = 10


class _Stop(Exception):
    pass


async def _prepare_database() -> str | None:
    """Migrate, and seed the demo workspace when there is none; returns its admin key when just made.

    The workspace and its demo (:mod:`backend.demo`) are made in one transaction: an interrupted seed
    leaves an empty database, which the next ``flowgate dev`` seeds again, never a half-made demo that
    the "no workspace yet" test would then skip for good.
    """
    from backend import demo
    from backend.core.database import migrate, transaction
    from backend.workspaces import service

    await migrate()
    if await service.count_workspaces():
        return None
    async with transaction():
        workspace, api_key = await service.create_workspace(
            DEMO_WORKSPACE, DEMO_EMAIL, DEMO_PASSWORD, admin_name="Demo admin"
        )
        made = await demo.seed(workspace["id"], api_key)
    log.info("seeded the demo workspace: %s", made)
    return api_key


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _wait_healthy(url: str, children: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        for name, child in children.items():
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited with code {child.returncode} during start-up")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the api did not answer {url} within {STARTUP_TIMEOUT_S}s")


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in reversed(list(children.values())):
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for name, child in reversed(list(children.items())):
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %ss; killing it", name, STOP_TIMEOUT_S)
            child.kill()
            child.wait()


def run_dev(settings: Settings, *, host: str, api_port: int, ui_port: int) -> int:
    demo_key = asyncio.run(_prepare_database())
    secret_key = settings.resolved_secret_key()
    client_host = _client_host(host)
    api_url = f"http://{client_host}:{api_port}"

    def _on_signal(*_: object) -> None:
        raise _Stop

    # SIGINT too: a shell that starts us in the background hands us SIGINT ignored, and Ctrl-C in a
    # terminal or `kill -INT` must still stop the tree.
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with redis_url_or_embedded(settings.redis_url, settings.data_dir) as redis_url:
        env = {
            **os.environ,
            "FLOWGATE_REDIS_URL": redis_url,
            "FLOWGATE_SECRET_KEY": secret_key,
            "FLOWGATE_API_URL": api_url,
            "FLOWGATE_DATABASE_URL": settings.database_url,
        }
        commands = {
            "api": ["api", "--host", host, "--port", str(api_port)],
            "worker": ["worker", "--processes", "1"],  # one is plenty for a demo, and SQLite wants one
            "ui": ["ui", "--host", host, "--port", str(ui_port)],
        }
        children: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for name, args in commands.items():
                children[name] = subprocess.Popen(
                    [sys.executable, "-m", "backend.cli", *args],
                    env=env,
                    start_new_session=True,
                    preexec_fn=die_with_parent(),
                )
            _wait_healthy(f"{api_url}/health", children)
            _print_banner(settings, api_url, f"http://{client_host}:{ui_port}", redis_url, demo_key)
            while True:
                for name, child in children.items():
                    if child.poll() is not None:
                        log.error("%s exited with code %s; stopping everything", name, child.returncode)
                        return 1
                time.sleep(0.5)
        except _Stop:
            print("\nstopping flowgate…", flush=True)
            return 0
        except RuntimeError as exc:
            log.error("%s", exc)
            return 1
        finally:
            # A second Ctrl-C must not interrupt the orderly stop (the children would outlive us).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            _stop_children(children)


def _print_banner(
    settings: Settings, api_url: str, ui_url: str, redis_url: str, demo_key: str | None
) -> None:
    redis_note = "" if settings.redis_url else " (embedded, stops with flowgate dev)"
    database = settings.database_url
    if settings.is_sqlite:
        database = f"sqlite:///{Path(database.removeprefix('sqlite:///')).resolve()}"
    lines = [
        "",
        "Flowgate is running",
        f"  UI        {ui_url}",
        f"  API       {api_url}   (OpenAPI: {api_url}/schema)",
        f"  Health    {api_url}/health",
        f"  Database  {database.split('@')[-1]}",
        f"  Redis     {redis_url}{redis_note}",
        f"  Login     {DEMO_EMAIL} / {DEMO_PASSWORD}  (demo workspace)",
    ]
    if demo_key:
        lines.append(f"  API key   {demo_key}  (demo admin key, shown once)")
    lines += ["  Press Ctrl-C to stop.", ""]
    print("\n".join(lines), flush=True)
