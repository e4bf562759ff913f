"""Many rows in one statement, on both engines, and a short way to run it.

Piccolo compiles a query string per value, and on SQLite re-runs ``PRAGMA foreign_keys`` before each
statement of a transaction; for the hot paths (runs stepped and messages stored in batches of hundreds)
that was a third of the statements' cost. :func:`execute` runs a statement written with Piccolo's ``{}``
placeholders straight on the open transaction's connection (the same connection, converters and row
dicts Piccolo uses); :func:`insert_rows` and :func:`update_rows` write many rows with one statement.

SQLite takes the rows as a ``VALUES`` list, one bound value each. PostgreSQL takes one typed array per
column through ``unnest``: the statement's text is then the same for every batch, so asyncpg prepares it
once per connection and the server plans it once. A ``VALUES`` list of 500 rows was a new statement of
~12,000 parameters each time, longer than asyncpg caches (15 KiB), so every batch was parsed, planned and
prepared again (measured with bench/campaign.py: a tenth of the workers' CPU, and the server's).
``columnN`` is what both engines name the columns of an unnamed ``VALUES`` list, and what the arrays are
named here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine

from backend.core.database import current_engine, is_sqlite

Raw = Callable[..., Awaitable[list[dict[str, Any]]]]
MAX_PARAMETERS = 30_000
"""Below PostgreSQL's 32,767 bind parameters and SQLite's 32,766."""


def unnest_source(types: Sequence[str]) -> str:
    """``unnest({}::t1[], {}::t2[], …) AS v (column1, column2, …)``: PostgreSQL's row source of one
    array parameter per column (the same text for any number of rows)."""
    arrays = ", ".join(f"{{}}::{kind}[]" for kind in types)
    names = ", ".join(f"column{index}" for index in range(1, len(types) + 1))
    return f"unnest({arrays}) AS v ({names})"


def _columns_of(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """The rows turned into one list per column (what ``unnest`` takes)."""
    return [list(column) for column in zip(*rows, strict=True)]


async def insert_rows(
    raw: Raw,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    *,
    tail: str = "",
) -> list[dict[str, Any]]:
    """Insert ``rows`` (values in the order of ``columns``) in one statement; returns what ``tail`` (e.g.
    ``ON CONFLICT DO NOTHING RETURNING id``) returns.

    ``columns`` are ``(name, postgres type)`` pairs, the column's own type (``json`` columns take JSON
    text). ``rows`` must fit one statement on SQLite (:data:`MAX_PARAMETERS` values); callers batch.
    """
    if not rows:
        return []
    names = ", ".join(f'"{name}"' for name, _ in columns)
    if is_sqlite():
        row_sql = "(" + ", ".join("{}" for _ in columns) + ")"
        values = ", ".join(row_sql for _ in rows)
        args = [value for row in rows for value in row]
        return await raw(f'INSERT INTO "{table}" ({names}) VALUES {values} {tail}', *args)
    selected = ", ".join(f"v.column{index}" for index in range(1, len(columns) + 1))
    return await raw(
        f'INSERT INTO "{table}" ({names}) SELECT {selected} FROM {unnest_source([kind for _, kind in columns])} {tail}',
        *_columns_of(rows),
    )


async def update_rows(
    raw: Raw,
    table: str,
    key: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    *,
    where: str = "",
) -> None:
    """Set ``columns`` of the rows of ``table`` whose ``key`` is each row's first value.

    ``columns`` are ``(name, postgres type)`` pairs in the order of each row's remaining values, e.g.
    ``[("status", "text"), ("updated_at", "timestamptz")]``; ``where`` adds a condition on the target
    table (Piccolo ``{}`` placeholders are not allowed in it).
    """
    if not rows:
        return
    width = len(columns) + 1
    assignments = ", ".join(f'"{name}" = v.column{index + 2}' for index, (name, _) in enumerate(columns))
    condition = f" AND {where}" if where else ""
    if not is_sqlite():
        source = unnest_source(["bigint", *(kind for _, kind in columns)])
        await raw(
            f'UPDATE "{table}" SET {assignments} FROM {source} WHERE "{table}"."{key}" = v.column1{condition}',
            *_columns_of(rows),
        )
        return
    row_sql = "(" + ", ".join("{}" for _ in range(width)) + ")"
    per_statement = max(1, MAX_PARAMETERS // width)
    for start in range(0, len(rows), per_statement):
        part = rows[start : start + per_statement]
        args = [value for row in part for value in row]
        values = ", ".join(row_sql for _ in part)
        await raw(
            f'UPDATE "{table}" SET {assignments} FROM (VALUES {values}) AS v '
            f'WHERE "{table}"."{key}" = v.column1{condition}',
            *args,
        )


def in_list(count: int) -> str:
    """``{}, {}, …`` for an ``IN (…)`` of ``count`` parameters."""
    return ", ".join("{}" for _ in range(count))


async def execute(sql: str, *args: Any) -> list[dict[str, Any]]:
    """Run one statement (Piccolo ``{}`` placeholders, none inside string literals) and return its rows
    as dicts: on the current transaction's connection when one is open, else through Piccolo."""
    engine = current_engine()
    transaction = engine.current_transaction.get()
    if transaction is None:
        from piccolo.querystring import QueryString

        return [dict(row) for row in await engine.run_querystring(QueryString(sql, *args))]
    connection = transaction.connection
    if isinstance(engine, SQLiteEngine):
        return list(await connection.execute_fetchall(sql.replace("{}", "?"), args))
    parts = sql.split("{}")
    numbered = "".join(f"{part}${index}" for index, part in enumerate(parts[:-1], start=1)) + parts[-1]
    return [dict(row) for row in await connection.fetch(numbered, *args)]
