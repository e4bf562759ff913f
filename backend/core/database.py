"""The Piccolo engine for the configured database, migrations, and transactions that work on both engines.

SQLite (the embedded default) has one writer and no pool; PostgreSQL (production) gets a connection
pool per process. Services call :func:`transaction` and never care which one is underneath.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30


def engine_for_url(url: str) -> Engine:
    """Build (but do not connect) the engine for a ``FLOWGATE_DATABASE_URL``."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SQLiteEngine(path=path, timeout=SQLITE_BUSY_TIMEOUT_S)
    dsn = url.replace("postgres://", "postgresql://", 1)
    database = urlparse(dsn).path.lstrip("/") or "postgres"
    # JIT compiles a query's expressions when its estimated cost is high; for the short, repeated
    # statements of an OLTP service it only adds its compile time (20 ms on an audience page of 5 ms).
    return PostgresEngine(
        config={"dsn": dsn, "database": database, "server_settings": {"jit": "off"}}, extensions=()
    )


def current_engine() -> Engine:
    from piccolo.engine import engine_finder

    engine = engine_finder()
    if engine is None:  # pragma: no cover - PICCOLO_CONF is set by the backend package
        raise RuntimeError("Piccolo found no engine: is PICCOLO_CONF pointing at backend.piccolo_conf?")
    return engine


def is_sqlite() -> bool:
    """The current engine is SQLite (the statements that differ by engine ask this)."""
    return current_engine().engine_type == "sqlite"


def transaction(engine: Engine | None = None) -> contextlib.AbstractAsyncContextManager:
    """A write transaction. SQLite takes its write lock up front, or read-then-write deadlocks."""
    engine = engine or current_engine()
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


def prepare_sqlite_file(path: str) -> None:
    """WAL lets the api, worker and ui processes read while one of them writes; it persists in the file."""
    with contextlib.closing(sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


async def keep_session_state(connection: asyncpg.Connection) -> None:
    """The pool's ``reset``: nothing beyond what asyncpg always does on release.

    asyncpg's default reset sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``
    whenever a connection goes back to the pool: one more round trip per query outside a transaction
    (about 10 µs of the send worker's CPU per message). With a custom ``reset`` asyncpg still rolls back
    a transaction left open and drops listeners first (``Connection._reset``, asyncpg ≥ 0.30); only
    that query is skipped, and Flowgate leaves nothing for it to undo:

    - advisory locks are transaction-scoped (``pg_advisory_xact_lock``, the consent ledger): released
      at commit or rollback;
    - cursors live inside transactions (Piccolo's ``batch``), which close them;
    - nothing LISTENs (live hints travel over Redis);
    - settings are ``SET LOCAL`` (the audience query) or fixed when connecting (``jit``, which
      ``RESET ALL`` would keep anyway).

    So every connection a query receives is as a new one would be. Session-level ``SET``, ``LISTEN``
    or ``pg_advisory_lock`` on a pooled connection would break that: tests/backend/core/test_database_pool.py
    searches the backend for them.
    """


@contextlib.asynccontextmanager
async def database_connection(engine: Engine | None = None, pool_size: int = 10) -> AsyncIterator[Engine]:
    """Open what a long-running process needs: a pool on PostgreSQL, nothing on SQLite."""
    engine = engine or current_engine()
    # Only the opener closes the pool: an in-process worker beside the api (tests) shares it.
    owns_pool = isinstance(engine, PostgresEngine) and engine.pool is None
    if owns_pool:
        await engine.start_connection_pool(min_size=1, max_size=pool_size, reset=keep_session_state)
    try:
        yield engine
    finally:
        if owns_pool:
            await engine.close_connection_pool()


async def ping(engine: Engine | None = None) -> None:
    """Raise when the database does not answer a trivial query."""
    engine = engine or current_engine()
    await engine.run_ddl("SELECT 1")


async def migrate() -> None:
    """Apply every pending migration of every app; applying them again does nothing."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        prepare_sqlite_file(engine.path)
    with contextlib.redirect_stdout(_LogWriter()):
        result = await run_forwards(app_name="all")
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")


class _LogWriter:
    """Piccolo prints migration progress; route it to our log instead of stdout (the CLI prints JSON)."""

    def write(self, text: str) -> None:
        text = text.strip()
        if text and not set(text) <= {"-"}:
            log.debug("migrate: %s", text)

    def flush(self) -> None:
        pass


async def pending_migrations() -> list[str]:
    """Ids of migrations not yet applied, across every app (empty: the schema is current)."""
    from piccolo.apps.migrations.commands.base import BaseMigrationManager
    from piccolo.apps.migrations.tables import Migration
    from piccolo.conf.apps import Finder

    manager = BaseMigrationManager()
    await manager.create_migration_table()
    pending: list[str] = []
    finder = Finder()
    for app_name in finder.get_sorted_app_names():
        app_config = finder.get_app_config(app_name)
        modules = manager.get_migration_modules(app_config.resolved_migrations_folder_path)
        ran = set(await Migration.get_migrations_which_ran(app_name=app_config.app_name))
        pending += [
            f"{app_config.app_name}:{mid}" for mid in manager.get_migration_ids(modules) if mid not in ran
        ]
    return pending


def locked(query, *, share: bool = False):
    """``SELECT … FOR UPDATE`` (or ``FOR SHARE``) on PostgreSQL. SQLite has no row locks, and needs none:
    :func:`transaction` takes the database's single write lock up front."""
    if isinstance(current_engine(), SQLiteEngine):
        return query
    return query.lock_rows("SHARE" if share else "UPDATE")


@contextlib.asynccontextmanager
async def refused_while_referenced(detail: str) -> AsyncIterator[None]:
    """Turn a delete that a restricting foreign key refused into a 409 saying ``detail`` (what uses the
    row, and what to do first), instead of a database error."""
    from backend.core.errors import Conflict

    try:
        yield
    except Exception as exc:
        if is_foreign_key_violation(exc):
            raise Conflict(detail) from None
        raise


def is_foreign_key_violation(exc: BaseException) -> bool:
    """Did a delete fail because another row still refers to this one (a restricting foreign key)?"""
    import asyncpg

    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "FOREIGN KEY" in str(exc)


def is_unique_violation(exc: BaseException) -> bool:
    """Did a write fail on a unique index (two writers raced for the same slot)?"""
    import asyncpg

    if isinstance(exc, asyncpg.UniqueViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)


def contains_text(column, text: str):
    """A case-insensitive "contains" filter that treats ``%`` and ``_`` in the text literally.

    PostgreSQL: ILIKE, whose default escape character is the backslash. SQLite has no ILIKE and no
    default LIKE escape, so there it is ``instr`` on lower-cased text.
    """
    from piccolo.query.mixins import WhereRaw

    if isinstance(current_engine(), SQLiteEngine):
        return WhereRaw(
            f"instr(lower({column._meta.get_full_name(with_alias=False)}), lower({{}})) > 0", text
        )
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%")


async def sqlite_autoincrement(table: str) -> None:
    """Recreate a new, still empty SQLite table with ``AUTOINCREMENT`` ids (a migration step).

    SQLite otherwise gives a new row the highest id plus one, so deleting the newest row frees its id
    for the next insert; tables whose ids other rows keep as plain references (runs named by messages,
    campaigns named by runs and messages) must never hand an id out twice. PostgreSQL's sequences never
    do. Does nothing on PostgreSQL, or when the table already has the keyword.
    """
    engine = current_engine()
    if not isinstance(engine, SQLiteEngine):
        return
    rows = await engine.run_ddl(f"SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
    ddl = rows[0]["sql"] if rows else ""
    if not ddl or "AUTOINCREMENT" in ddl:
        return
    plain = '"id" INTEGER PRIMARY KEY NOT NULL'
    if plain not in ddl:
        raise RuntimeError(f"unexpected primary key in {table}: {ddl}")
    count = await engine.run_ddl(f'SELECT COUNT(*) AS n FROM "{table}"')
    if count[0]["n"]:
        raise RuntimeError(f"{table} is not empty; it cannot be recreated here")
    indexes = await engine.run_ddl(
        f"SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}' AND sql IS NOT NULL"
    )
    await engine.run_ddl(f'DROP TABLE "{table}"')
    await engine.run_ddl(ddl.replace(plain, '"id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL'))
    for index in indexes:
        await engine.run_ddl(index["sql"])
