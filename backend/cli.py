"""The ``flowgate`` command: run the processes, migrate, and create workspaces.

Every subcommand reads its configuration from ``FLOWGATE_*`` variables (see README); flags only choose
where a server listens. Errors in configuration print one line naming the variable and exit with 2.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from backend.config import ConfigError, Settings, get_settings
from backend.logs import configure_logging

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_API_PORT = 8000
DEFAULT_UI_PORT = 8080


class ConfigProblem(click.ClickException):
    """Bad configuration: exit status 2, like a usage error, so scripts can tell it from a crash."""

    exit_code = 2


def _settings(process: str) -> Settings:
    try:
        settings = get_settings()
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from None
    configure_logging(settings.log_level, process)
    return settings


def _use_redis_url(url: str) -> None:
    """Make a resolved Redis URL (e.g. the embedded one) the configured one for this process."""
    os.environ["FLOWGATE_REDIS_URL"] = url
    get_settings.cache_clear()


def _friendly_errors(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from backend.core.errors import FlowgateError

        try:
            return func(*args, **kwargs)
        except FlowgateError as exc:
            raise click.ClickException(exc.detail) from None
        except Exception as exc:
            if _unreachable_database(exc):
                raise ConfigProblem(
                    f"FLOWGATE_DATABASE_URL: the database cannot be opened ({type(exc).__name__}: {exc}); "
                    "check that the server runs and the database exists"
                ) from None
            raise

    return wrapper  # type: ignore[return-value]


def _unreachable_database(exc: BaseException) -> bool:
    """The configured database cannot be reached or opened (no server, an unknown host, no such database, a
    refused login, a file that cannot be opened): a configuration problem, said in one line rather than a
    traceback. Anything else (a missing table, a failing migration) is a real error and keeps its
    traceback."""
    import socket
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):
        return "unable to open database file" in str(exc)
    if isinstance(exc, ConnectionRefusedError | socket.gaierror | TimeoutError):
        return True
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    return isinstance(
        exc,
        asyncpg.InvalidCatalogNameError
        | asyncpg.InvalidPasswordError
        | asyncpg.InvalidAuthorizationSpecificationError
        | asyncpg.CannotConnectNowError,
    )


@click.group()
@click.version_option(package_name="flowgate")
def main() -> None:
    """Flowgate: marketing chat flows, campaigns and one consent gate for every message."""


@main.command()
@_friendly_errors
def migrate() -> None:
    """Apply pending database migrations (safe to run again)."""
    from backend.core.database import migrate as run_migrations
    from backend.core.database import pending_migrations

    settings = _settings("cli")

    async def _run() -> list[str]:
        pending = await pending_migrations()
        await run_migrations()
        return pending

    applied = asyncio.run(_run())
    target = settings.database_url.split("@")[-1]
    if applied:
        click.echo(f"applied {len(applied)} migration(s) to {target}: {', '.join(applied)}")
    else:
        click.echo(f"database {target} is up to date")


@main.group()
def workspace() -> None:
    """Manage workspaces (tenants)."""


@workspace.command("create")
@click.argument("name")
@click.option("--admin-email", required=True, help="Login email of the workspace's first admin.")
@click.option("--admin-password", required=True, help="At least 8 characters.")
@click.option("--admin-name", default="", help="Display name of the admin.")
@_friendly_errors
def workspace_create(name: str, admin_email: str, admin_password: str, admin_name: str) -> None:
    """Create a workspace with an admin user; prints JSON with the workspace id and an admin API key."""
    _settings("cli")
    from backend.core.database import pending_migrations
    from backend.workspaces import service

    async def _run() -> tuple[dict, str]:
        if await pending_migrations():
            raise click.ClickException("the database is not migrated yet: run `flowgate migrate` first")
        return await service.create_workspace(name, admin_email, admin_password, admin_name=admin_name)

    workspace_row, api_key = asyncio.run(_run())
    click.echo(json.dumps({"workspace_id": workspace_row["id"], "api_key": api_key}))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_API_PORT, show_default=True, type=int)
def api(host: str, port: int) -> None:
    """Run the HTTP API (REST, WebSockets, provider webhooks, public opt-out pages)."""
    import uvicorn

    from backend.core.redis import redis_url_or_embedded

    settings = _settings("api")
    with redis_url_or_embedded(settings.redis_url, settings.data_dir) as redis_url:
        _use_redis_url(redis_url)
        uvicorn.run(
            "backend.app:create_app",
            factory=True,
            host=host,
            port=port,
            log_level=settings.log_level,
            log_config=None,
            access_log=settings.log_level == "debug",
            proxy_headers=True,
            forwarded_allow_ips=settings.trusted_proxies,
        )


@main.command()
@click.option(
    "--burst", is_flag=True, help="Run the jobs that are due, then exit (each process, with --processes)."
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes under one parent that forwards SIGTERM/SIGINT and restarts a process that dies. "
    "Default: the number of cores on PostgreSQL; 1 on SQLite, where every process waits for the file's one "
    "writer and a second one costs more CPU per message than it gains (README, Command line). "
    "1 runs the worker in this process, with no parent.",
)
@click.option("--ready-fd", type=int, default=None, hidden=True)
@click.option("--slot", type=int, default=None, hidden=True)
def worker(burst: bool, processes: int | None, ready_fd: int | None, slot: int | None) -> None:
    """Run arq workers: sends, imports, webhooks, schedules. One per core by default (see --processes).

    ``--ready-fd FD`` (for supervisors and benchmarks) makes the command write ``ready`` to FD once every
    worker takes jobs; ``--slot`` labels a supervised child's log lines.
    """
    from backend.core.redis import redis_url_or_embedded
    from backend.supervisor import Supervisor, then_announce_ready

    if ready_fd is not None:
        os.set_inheritable(ready_fd, False)  # for this process only, not for anything it starts
    settings = _settings("worker" if slot is None else f"w{slot}")
    count = processes or default_worker_processes(settings)
    with redis_url_or_embedded(settings.redis_url, settings.data_dir) as redis_url:
        if count > 1:
            _use_redis_url(redis_url)  # the children share this Redis, the embedded one included
            status = Supervisor(count, env=dict(os.environ), burst=burst, ready_fd=ready_fd).run()
        else:
            from backend.worker import build_worker

            _use_uvloop()
            worker_instance = build_worker(redis_url, burst=burst, db_pool_size=settings.db_pool_size)
            worker_instance.on_startup = then_announce_ready(worker_instance.on_startup, ready_fd)
            worker_instance.run()
            status = 0
    sys.exit(status)


def default_worker_processes(settings: Settings) -> int:
    """One worker per core this process may run on, except on SQLite (see the ``--processes`` help)."""
    if settings.is_sqlite:
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _use_uvloop() -> None:
    """Run the worker's event loop on uvloop where it is installed (not on Windows): the send path is
    mostly event-loop work (sockets, timers), and uvloop spends far less CPU per provider request."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop(uvloop.new_event_loop())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_UI_PORT, show_default=True, type=int)
def ui(host: str, port: int) -> None:
    """Run the browser UI; it talks to the api at FLOWGATE_API_URL."""
    settings = _settings("ui")
    from ui.app import run_ui

    run_ui(settings, host=host, port=port)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface for the api and ui.")
@click.option("--api-port", default=DEFAULT_API_PORT, show_default=True, type=int)
@click.option("--ui-port", default=DEFAULT_UI_PORT, show_default=True, type=int)
def dev(host: str, api_port: int, ui_port: int) -> None:
    """Everything on one machine: migrate, seed a demo workspace, run api + worker + ui until Ctrl-C."""
    from backend.devtree import run_dev

    settings = _settings("dev")
    sys.exit(run_dev(settings, host=host, api_port=api_port, ui_port=ui_port))


if __name__ == "__main__":
    main()
