"""``consent_events.category_id``, ``sender_id`` and ``entry_id`` hold ids of bigint tables (categories,
senders, opt-out entries): 32-bit columns would refuse the first insert past 2^31 on PostgreSQL. SQLite's
INTEGER is already 64-bit, so there is nothing to do there."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine

ID = "2026-12-05T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "consent event references as bigint"

COLUMNS = ("category_id", "sender_id", "entry_id")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="consent", description=DESCRIPTION)

    async def widen():
        engine = engine_finder()
        if isinstance(engine, PostgresEngine):
            changes = ", ".join(f'ALTER COLUMN "{column}" TYPE BIGINT' for column in COLUMNS)
            await engine.run_ddl(f'ALTER TABLE "consent_events" {changes}')

    async def narrow():
        engine = engine_finder()
        if isinstance(engine, PostgresEngine):
            changes = ", ".join(f'ALTER COLUMN "{column}" TYPE INTEGER' for column in COLUMNS)
            await engine.run_ddl(f'ALTER TABLE "consent_events" {changes}')

    manager.add_raw(widen)
    manager.add_raw_backwards(narrow)
    return manager
