"""The PostgreSQL pool hands connections back without asyncpg's reset query (see
:func:`backend.core.database.keep_session_state`): what keeps that safe, checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[3] / "backend"
SESSION_STATE = re.compile(
    r"pg_advisory_lock(_shared)?\(|pg_try_advisory_lock(_shared)?\(|add_listener\(|set_config\(|"
    r"[\"'](LISTEN|SET)\s+(?!LOCAL\b)"
)
"""What would outlive a query on a pooled connection now that nothing resets it: session advisory
locks, LISTEN, session settings (``SET`` but not ``SET LOCAL``, ``set_config``). SQL is written in
upper case here, so a statement starts with a quote and the keyword."""


def test_nothing_in_the_backend_leaves_session_state_on_a_pooled_connection():
    found = [
        f"{path.relative_to(BACKEND.parent)}:{number}: {line.strip()}"
        for path in sorted(BACKEND.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if SESSION_STATE.search(line) and not line.lstrip().startswith("#")
    ]
    assert found == [], "session state on a pooled connection (see keep_session_state):\n" + "\n".join(found)


async def test_a_connection_comes_back_rolled_back_with_its_local_settings_gone(migrated):
    """asyncpg still rolls back what a borrower left open; a transaction's ``SET LOCAL`` ends with it."""
    from piccolo.engine.postgres import PostgresEngine

    from backend.core.database import current_engine, database_connection, keep_session_state

    engine = current_engine()
    if not isinstance(engine, PostgresEngine):
        pytest.skip("PostgreSQL's pool")
    own = PostgresEngine(config=dict(engine.config), extensions=())
    async with database_connection(own, pool_size=1):
        pool = own.pool
        assert pool is not None and pool._reset is keep_session_state
        default = await pool.fetchval("SHOW statement_timeout")
        connection = await pool.acquire()
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute("SET LOCAL statement_timeout = 1234")
        await pool.release(connection)  # returned with its transaction open
        async with pool.acquire() as again:  # the same connection: the pool holds one
            assert again.is_in_transaction() is False
            assert await again.fetchval("SHOW statement_timeout") == default
