from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from backend.core.database import sqlite_autoincrement

ID = "2026-12-05T07:02:15:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes: enrollment once per entry, a contact's runs, due timers, pending events"

AUTOINCREMENT = ["runs"]
"""On SQLite: ids are never handed out twice (other rows and job ids keep them as plain references)."""

INDEXES = [
    (
        "runs_campaign_contact_entry",
        'CREATE UNIQUE INDEX IF NOT EXISTS runs_campaign_contact_entry ON "runs" ("campaign_id", "contact", "entry")',
    ),
    (
        "runs_contact",
        'CREATE INDEX IF NOT EXISTS runs_contact ON "runs" ("contact", "id")',
    ),
    (
        "runs_campaign",
        'CREATE INDEX IF NOT EXISTS runs_campaign ON "runs" ("campaign_id", "id")',
    ),
    (
        "runs_active",
        'CREATE INDEX IF NOT EXISTS runs_active ON "runs" ("updated_at") WHERE "status" = \'active\'',
    ),
    (
        "runs_http_wait",
        'CREATE INDEX IF NOT EXISTS runs_http_wait ON "runs" ("updated_at") WHERE "waiting_kind" = \'http\'',
    ),
    (
        "run_timers_run_timer",
        'CREATE UNIQUE INDEX IF NOT EXISTS run_timers_run_timer ON "run_timers" ("run", "timer_id")',
    ),
    (
        "run_timers_due",
        'CREATE INDEX IF NOT EXISTS run_timers_due ON "run_timers" ("fire_at")',
    ),
    (
        "run_events_run_key",
        'CREATE UNIQUE INDEX IF NOT EXISTS run_events_run_key ON "run_events" ("run", "key")',
    ),
    (
        "run_events_start_key",
        'CREATE UNIQUE INDEX IF NOT EXISTS run_events_start_key ON "run_events" ("key") WHERE "kind" = \'start\'',
    ),
    (
        "run_events_pending",
        'CREATE INDEX IF NOT EXISTS run_events_pending ON "run_events" ("created_at") WHERE "status" = \'pending\'',
    ),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="runs", description=DESCRIPTION)

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
