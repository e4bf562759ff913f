"""The send worker's statements straight through asyncpg on PostgreSQL.

Piccolo's ``raw`` parses its ``{}`` template into a ``QueryString`` and compiles it on every call: with
a chunk's write-back binding 400 values that was ~12 µs of CPU per message, the send path's largest
database cost after the round trips. Here a template is turned into asyncpg's ``$n`` form once (cached
by its text: the send statements take arrays, so their text never changes) and runs on Piccolo's own
pool, whose statement cache then prepares it once per connection. Same SQL, same rows as dicts: the
statements need not know which of the two runs them.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine

_TOKEN = re.compile(r"\{\}|\{\{|\}\}")


@functools.lru_cache(maxsize=512)
def numbered(template: str) -> str:
    """``{}`` placeholders as ``$1, $2, …`` and ``{{``/``}}`` as braces, as Piccolo's compiler does.

    Cached: the claim, release and write-back texts are fixed, the consent gate's vary only with the
    number of distinct addresses in a chunk, and the campaign counters' with the number of rows.
    """
    position = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal position
        token = match.group(0)
        if token == "{}":
            position += 1
            return f"${position}"
        return token[0]

    return _TOKEN.sub(replace, template)


class PostgresSession:
    """Runs Piccolo-style templates on the engine's pool; inside :meth:`transaction`, on its connection."""

    def __init__(self, engine: PostgresEngine) -> None:
        self.engine = engine
        self.statements = 0
        """Statements run so far (observability: tests prove the jobs of a worker share this session)."""
        self._connection: ContextVar[asyncpg.Connection | None] = ContextVar(
            "send_path_pg_connection", default=None
        )

    def _pool(self) -> asyncpg.Pool:
        pool = self.engine.pool
        if pool is None:  # the worker's start-up opens it (backend.core.database.database_connection)
            raise RuntimeError("the PostgreSQL pool is not running")
        return pool

    async def raw(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Run one statement written with Piccolo's ``{}`` placeholders; returns its rows as dicts."""
        self.statements += 1
        connection = self._connection.get()
        runner = connection if connection is not None else self._pool()
        return [dict(record) for record in await runner.fetch(numbered(sql), *args)]

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Statements in between (this task's, through :meth:`raw`) run on one connection and commit
        together; an error rolls them back."""
        async with self._pool().acquire() as connection, connection.transaction():
            token = self._connection.set(connection)
            try:
                yield
            finally:
                self._connection.reset(token)
