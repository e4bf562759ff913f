"""``runs.failures`` and ``runs.last_error``: a run's failed steps are counted, and it ends ``failed`` once
they reach the limit (backend/runs/poison.py).

Written by hand in the form Piccolo's auto-migrations use (``add_column``), so Piccolo's recorded schema
stays in step with the table class. Adding a column with a constant default is an ``ALTER TABLE … ADD
COLUMN`` both SQLite and PostgreSQL take on a table with rows (existing runs get 0 and "").
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-05T14:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "runs: failures and last_error (poison runs end failed)"

_COMMON = {
    "null": False,
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="runs", description=DESCRIPTION)

    def column(name, column_class, **params):
        manager.add_column(
            table_class_name="Run",
            tablename="runs",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params={**_COMMON, **params},
            schema=None,
        )

    column("failures", Integer, default=0)
    column("last_error", Text, default="")
    return manager
