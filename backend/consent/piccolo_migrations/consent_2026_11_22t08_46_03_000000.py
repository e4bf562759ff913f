from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T08:46:03:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for the consent gate and history"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="consent", description=DESCRIPTION)

    async def create_indexes():
        engine = engine_finder()
        await engine.run_ddl(
            'CREATE INDEX IF NOT EXISTS opt_out_entries_lookup ON "opt_out_entries" ("workspace", "channel", "address")'
        )
        await engine.run_ddl(
            'CREATE INDEX IF NOT EXISTS opt_out_entries_updated ON "opt_out_entries" ("workspace", "updated_at")'
        )
        await engine.run_ddl(
            'CREATE UNIQUE INDEX IF NOT EXISTS marketing_categories_workspace_name ON "marketing_categories" ("workspace", "name")'
        )
        await engine.run_ddl(
            'CREATE INDEX IF NOT EXISTS consent_events_address ON "consent_events" ("workspace", "channel", "address", "at")'
        )
        await engine.run_ddl(
            'CREATE INDEX IF NOT EXISTS consent_events_at ON "consent_events" ("workspace", "at")'
        )

    async def drop_indexes():
        engine = engine_finder()
        await engine.run_ddl("DROP INDEX IF EXISTS opt_out_entries_lookup")
        await engine.run_ddl("DROP INDEX IF EXISTS opt_out_entries_updated")
        await engine.run_ddl("DROP INDEX IF EXISTS marketing_categories_workspace_name")
        await engine.run_ddl("DROP INDEX IF EXISTS consent_events_address")
        await engine.run_ddl("DROP INDEX IF EXISTS consent_events_at")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
