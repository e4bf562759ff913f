from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from backend.core.database import sqlite_autoincrement

ID = "2026-12-05T07:02:16:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes: due campaigns, running triggers, pending batches, one row per counter"

AUTOINCREMENT = ["campaigns", "campaign_triggers", "campaign_batches"]
"""On SQLite: ids are never handed out twice (other rows and job ids keep them as plain references)."""

INDEXES = [
    (
        "campaigns_status",
        'CREATE INDEX IF NOT EXISTS campaigns_status ON "campaigns" ("status", "next_trigger_at")',
    ),
    (
        "campaign_triggers_campaign",
        'CREATE INDEX IF NOT EXISTS campaign_triggers_campaign ON "campaign_triggers" ("campaign", "status")',
    ),
    (
        "campaign_batches_pending",
        'CREATE INDEX IF NOT EXISTS campaign_batches_pending ON "campaign_batches" ("trigger", "status")',
    ),
    (
        "campaign_batches_campaign",
        'CREATE INDEX IF NOT EXISTS campaign_batches_campaign ON "campaign_batches" ("campaign_id", "status")',
    ),
    (
        "campaign_stats_key",
        'CREATE UNIQUE INDEX IF NOT EXISTS campaign_stats_key ON "campaign_stats" ("campaign", "node", "metric")',
    ),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="campaigns", description=DESCRIPTION)

    async def create_indexes():
        engine = engine_finder()
        for table in AUTOINCREMENT:
            await sqlite_autoincrement(table)
        for _name, ddl in INDEXES:
            await engine.run_ddl(ddl)

    async def drop_indexes():
        engine = engine_finder()
        for name, _ddl in INDEXES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
