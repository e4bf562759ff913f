"""One long-lived SQLite connection for a worker's send statements.

Piccolo opens a new SQLite connection per query; each one re-reads the schema (~70 tables and indexes:
about 2 ms) before its statement runs, which was most of the send path's database time at thousands of
messages per second. The worker's claim and write-back statements run on this connection instead: the
same file, Piccolo's connection settings and type adapters, foreign keys on, autocommit per statement.
Its statements run one at a time, in order, on the connection's thread: the process's send writes
no longer compete with each other for SQLite's lock (only with other processes, rarely).
PostgreSQL needs none of this: it has a connection pool.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiosqlite
from piccolo.engine.sqlite import SQLiteEngine, dict_factory


class SqliteSession:
    def __init__(self, engine: SQLiteEngine) -> None:
        self.engine = engine
        self.connection: aiosqlite.Connection | None = None
        self.connects = 0
        """Connections opened so far: one per worker process unless it was closed (observability: tests
        prove that a worker's send jobs share this session rather than opening their own)."""
        self.statements = 0
        """Statements run so far, by every send job of the process (observability, as above)."""

    async def _connected(self) -> aiosqlite.Connection:
        if self.connection is None:
            self.connection = await aiosqlite.connect(**self.engine.connection_kwargs)
            self.connects += 1
            await self.connection.execute("PRAGMA foreign_keys = 1")
            self.connection.row_factory = dict_factory  # type: ignore[assignment]
        return self.connection

    async def raw(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Run one statement written with Piccolo's ``{}`` placeholders; returns its rows as dicts."""
        await self._connected()
        assert self.connection is not None
        self.statements += 1
        # One hop to the connection's thread (execute and fetch together): under load each hop back to
        # a busy event loop costs milliseconds.
        return list(await self.connection.execute_fetchall(sql.replace("{}", "?"), args))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Statements in between commit together (the write lock taken up front, as
        :func:`backend.core.database.transaction` does). Not re-entrant: callers hold the worker's lock."""
        connection = await self._connected()
        await connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await connection.execute("ROLLBACK")
            raise
        await connection.execute("COMMIT")

    async def aclose(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None
