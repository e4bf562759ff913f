from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T08:23:50:984317"
VERSION = "1.38.0"
DESCRIPTION = "unique version numbers per flow"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="flows", description=DESCRIPTION)

    async def create_index():
        # Two concurrent publishes must not both become version N of the same flow.
        await engine_finder().run_ddl(
            'CREATE UNIQUE INDEX IF NOT EXISTS flow_versions_flow_number ON "flow_versions" ("flow", "number")'
        )

    async def drop_index():
        await engine_finder().run_ddl("DROP INDEX IF EXISTS flow_versions_flow_number")

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
