from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T08:46:02:000000"
VERSION = "1.38.0"
DESCRIPTION = "one sender per address and channel"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="senders", description=DESCRIPTION)

    async def create_indexes():
        engine = engine_finder()
        await engine.run_ddl(
            'CREATE UNIQUE INDEX IF NOT EXISTS senders_workspace_channel_address ON "senders" ("workspace", "channel", "address")'
        )

    async def drop_indexes():
        engine = engine_finder()
        await engine.run_ddl("DROP INDEX IF EXISTS senders_workspace_channel_address")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
