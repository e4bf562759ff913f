"""The ``import_leases`` table (backend/imports/leases.py): which run holds an import, and its heartbeat.

Written by hand in the form Piccolo's auto-migrations use (``add_table`` + ``add_column``), so Piccolo's
recorded schema stays in step with the table class.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import BigSerial, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class Import(Table, tablename="imports", schema=None):
    id = BigSerial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name=None,
        secret=False,
    )


ID = "2026-11-22T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "import leases: the run holding an import and its heartbeat"

_COMMON = {
    "primary_key": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="imports", description=DESCRIPTION)
    manager.add_table(class_name="ImportLease", tablename="import_leases", schema=None, columns=None)

    def column(name, column_class, **params):
        manager.add_column(
            table_class_name="ImportLease",
            tablename="import_leases",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params={**_COMMON, "unique": False, **params},
            schema=None,
        )

    column("id", BigSerial, null=False, primary_key=True)
    column(
        "upload",
        ForeignKey,
        references=Import,
        on_delete=OnDelete.cascade,
        on_update=OnUpdate.cascade,
        target_column=None,
        null=False,
        unique=True,
    )
    column("job_id", Varchar, length=100, default="", null=False)
    column("enqueued_at", Timestamptz, default=None, null=True)
    column("token", Varchar, length=32, default=None, null=True)
    column("heartbeat_at", Timestamptz, default=None, null=True)
    column("phase", Varchar, length=16, default="", null=False)
    column("runs", Integer, default=0, null=False)
    column("failures", Integer, default=0, null=False)
    return manager
