from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T10:43:43:000000"
VERSION = "1.38.0"
DESCRIPTION = "de-duplication and sweeper indexes"

INDEXES = [
    (
        "inbound_events_dedupe",
        'CREATE UNIQUE INDEX IF NOT EXISTS inbound_events_dedupe ON "inbound_events" ("sender", "kind", "provider_event_id")',
    ),
    (
        "inbound_events_pending",
        'CREATE INDEX IF NOT EXISTS inbound_events_pending ON "inbound_events" ("state", "received_at")',
    ),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="inbound", description=DESCRIPTION)

    async def create_indexes():
        engine = engine_finder()
        for _name, ddl in INDEXES:
            await engine.run_ddl(ddl)

    async def drop_indexes():
        engine = engine_finder()
        for name, _ddl in INDEXES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
