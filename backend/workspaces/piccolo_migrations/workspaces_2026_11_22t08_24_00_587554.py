from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-22T08:24:00:587554"
VERSION = "1.38.0"
DESCRIPTION = "allow private urls setting"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="workspaces", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Workspace",
        tablename="workspaces",
        column_name="allow_private_urls",
        db_column_name="allow_private_urls",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": False,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
