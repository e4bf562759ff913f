"""Real services for every test, never mocks.

* Database: PostgreSQL when ``FLOWGATE_TEST_DATABASE_URL`` is set (a fresh database is created on that
  server for the session and dropped after), else a SQLite file in a temporary folder.
* Redis: the server in ``FLOWGATE_TEST_REDIS_URL`` when set, else an embedded redis-server.

Both are configured through the same ``FLOWGATE_*`` variables the product reads, before the backend is
imported, so the code under test takes the same path as in production. Each test starts from empty
tables and an empty Redis database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx
import pytest
import pytest_asyncio

REPO_ROOT = Path(__file__).resolve().parent.parent
_TMP = Path(tempfile.mkdtemp(prefix="flowgate-tests-"))
_PG_ADMIN_URL = os.environ.get("FLOWGATE_TEST_DATABASE_URL", "").strip()
_REDIS_URL = os.environ.get("FLOWGATE_TEST_REDIS_URL", "").strip()
_CREATED_PG_DATABASE: str | None = None

pytest_plugins = ["tests.fakes.fixtures"]  # fake_providers, fake_smtp: local fake provider servers


def _with_database(url: str, database: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path=f"/{database}"))


async def _create_pg_database(admin_url: str) -> str:
    import asyncpg

    name = f"flowgate_test_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return name


async def _drop_pg_database(admin_url: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def new_database_url() -> str:
    """A URL of a fresh, empty database of the kind this run tests (for migration and CLI tests)."""
    if _PG_ADMIN_URL:
        name = asyncio.run(_create_pg_database(_PG_ADMIN_URL))
        _EXTRA_PG_DATABASES.append(name)
        return _with_database(_PG_ADMIN_URL, name)
    return f"sqlite:///{_TMP / f'fresh-{uuid.uuid4().hex[:8]}.db'}"


_EXTRA_PG_DATABASES: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    global _CREATED_PG_DATABASE
    if _PG_ADMIN_URL:
        _CREATED_PG_DATABASE = asyncio.run(_create_pg_database(_PG_ADMIN_URL))
        database_url = _with_database(_PG_ADMIN_URL, _CREATED_PG_DATABASE)
    else:
        database_url = f"sqlite:///{_TMP / 'flowgate-test.db'}"
    os.environ["FLOWGATE_DATABASE_URL"] = database_url
    os.environ["FLOWGATE_DATA_DIR"] = str(_TMP / "data")
    os.environ["FLOWGATE_SECRET_KEY"] = "test-secret-key-" + "x" * 32
    os.environ.pop("FLOWGATE_REDIS_URL", None)
    os.environ.setdefault("FLOWGATE_LOG_LEVEL", "warning")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _PG_ADMIN_URL:
        for name in [_CREATED_PG_DATABASE, *_EXTRA_PG_DATABASES]:
            if name:
                with contextlib.suppress(Exception):
                    asyncio.run(_drop_pg_database(_PG_ADMIN_URL, name))
    shutil.rmtree(_TMP, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> list[str]:
    database = "PostgreSQL (FLOWGATE_TEST_DATABASE_URL)" if _PG_ADMIN_URL else "SQLite file"
    redis_kind = f"Redis at {_REDIS_URL}" if _REDIS_URL else "embedded redis-server"
    return [f"flowgate: database {database}; {redis_kind}"]


# --- services ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    if _REDIS_URL:
        yield _REDIS_URL
        return
    from backend.core.redis import EmbeddedRedis

    with EmbeddedRedis(_TMP / "redis", persist=False) as url:
        yield url


@pytest.fixture(scope="session")
def settings(redis_url: str):
    from backend.config import load_settings

    os.environ["FLOWGATE_REDIS_URL"] = redis_url
    from backend.config import get_settings

    get_settings.cache_clear()
    return load_settings()


@pytest.fixture(scope="session")
async def migrated(settings) -> None:
    from backend.core.database import migrate

    await migrate()


@pytest.fixture(scope="session")
async def app(settings, migrated):
    from backend.app import create_app

    return create_app(settings)


@pytest.fixture(scope="session")
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the real app (lifespan, middleware, database, Redis) in this event loop, so
    tests can mix API calls with direct service calls on the same connection pool."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold_lifespan() -> None:
        # anyio wants the lifespan entered and exited by one task; fixture teardown runs in another.
        async with app.lifespan():
            started.set()
            await stop.wait()

    holder = asyncio.create_task(hold_lifespan())
    await started.wait()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as test_client:
        yield test_client
    stop.set()
    await holder


@pytest.fixture(scope="session")
async def redis(redis_url: str):
    from redis.asyncio import Redis

    connection = Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


async def _empty_tables() -> None:
    from piccolo.engine.postgres import PostgresEngine

    from backend.core.database import current_engine

    engine = current_engine()
    tables = await _app_tables()
    if isinstance(engine, PostgresEngine):
        await engine.run_ddl(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    else:
        for table in tables:
            await engine.run_ddl(f'DELETE FROM "{table}"')


async def _app_tables() -> list[str]:
    """Every table of every registered app, children before parents."""
    from piccolo.conf.apps import Finder

    finder = Finder()
    names: list[str] = []
    for app_name in reversed(finder.get_sorted_app_names()):
        for table in reversed(finder.get_app_config(app_name).table_classes):
            names.append(table._meta.tablename)
    return names


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def _isolated(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Empty tables and Redis after every test that used them."""
    yield
    if "migrated" in request.fixturenames:
        await _empty_tables()
    if "redis_url" in request.fixturenames:
        from redis.asyncio import Redis

        connection = Redis.from_url(request.getfixturevalue("redis_url"))
        await connection.flushdb()
        await connection.aclose()


# --- workspaces and keys ----------------------------------------------------------------------------


@dataclass
class Tenant:
    """A workspace seen from the API: its id, its admin user and keys per role."""

    id: int
    admin_email: str
    admin_password: str
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
def make_tenant(client: httpx.AsyncClient, migrated):
    """Create a workspace with admin, marketer and viewer API keys, through the service and the API."""
    from backend.workspaces import service

    async def _make(name: str = "Acme") -> Tenant:
        email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
        password = "correct horse battery"
        workspace, admin_key = await service.create_workspace(name, email, password)
        tenant = Tenant(
            id=workspace["id"], admin_email=email, admin_password=password, keys={"admin": admin_key}
        )
        for role in ("marketer", "viewer"):
            response = await client.post(
                "/api/v1/api-keys", json={"name": f"{role} key", "role": role}, headers=tenant.headers()
            )
            assert response.status_code == 201, response.text
            tenant.keys[role] = response.json()["key"]
        return tenant

    return _make


@pytest.fixture
async def tenant(make_tenant) -> Tenant:
    return await make_tenant("Acme")


# --- processes --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subprocess_env(**overrides: str) -> dict[str, str]:
    """The environment for a Flowgate child process: this run's configuration, no pytest variables."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.update(overrides)
    return env


def flowgate_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "backend.cli", *args]


def wait_for_http(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before {url} answered")
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError as exc:
            last_error = exc
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout}s: {last_error}")


@pytest.fixture(scope="session")
def live_api(settings, redis_url: str, migrated) -> Iterator[str]:
    """A real `flowgate api` process on a free port, on this run's database and Redis; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        flowgate_command("api", "--port", str(port)),
        env=subprocess_env(FLOWGATE_REDIS_URL=redis_url),
        cwd=_TMP,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/health", process=process)
        yield url
    finally:
        process.terminate()
        process.wait(10)
