"""Many rows in one statement, on both engines, and a short way to run it.

Piccolo compiles a query string per value, and on SQLite re-runs ``PRAGMA foreign_keys`` before each
statement of a transaction; for the hot paths (runs stepped and messages stored in batches of hundreds)
that was a third of the statements' cost. :func:`execute` runs a statement written with Piccolo's ``{}``
placeholders straight on the open transaction's connection (the same connection, converters and row
dicts Piccolo uses), and :func:`update_rows` writes many rows with one ``UPDATE … FROM (VALUES …)``.
PostgreSQL needs the ``VALUES`` columns typed (its parameters arrive untyped), SQLite does not take the
casts; ``columnN`` is what both engines name the columns of an unnamed ``VALUES`` list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine

from backend.core.database import current_engine

Raw = Callable[..., Awaitable[list[dict[str, Any]]]]
MAX_PARAMETERS = 30_000
"""Below PostgreSQL's 32,767 bind parameters and SQLite's 32,766."""


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
    sqlite = isinstance(current_engine(), SQLiteEngine)
    width = len(columns) + 1
    per_statement = max(1, MAX_PARAMETERS // width)
    if sqlite:
        row_sql = "(" + ", ".join("{}" for _ in range(width)) + ")"
    else:
        casts = ["bigint", *(kind for _, kind in columns)]
        row_sql = "(" + ", ".join(f"{{}}::{kind}" for kind in casts) + ")"
    assignments = ", ".join(f'"{name}" = v.column{index + 2}' for index, (name, _) in enumerate(columns))
    condition = f" AND {where}" if where else ""
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
