from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T08:46:04:000000"
VERSION = "1.38.0"
DESCRIPTION = "index for due deliveries"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="webhooks", description=DESCRIPTION)

    async def create_indexes():
        engine = engine_finder()
        await engine.run_ddl(
            'CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON "webhook_deliveries" ("status", "next_attempt_at")'
        )

    async def drop_indexes():
        engine = engine_finder()
        await engine.run_ddl("DROP INDEX IF EXISTS webhook_deliveries_due")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
