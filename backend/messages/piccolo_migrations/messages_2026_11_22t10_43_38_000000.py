from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T10:43:38:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for the queue, the timeline, idempotency and once-per-run sends"

INDEXES = [
    (
        "idempotency_keys_workspace_key",
        'CREATE UNIQUE INDEX IF NOT EXISTS idempotency_keys_workspace_key ON "idempotency_keys" ("workspace", "key")',
    ),
    (
        "idempotency_keys_created",
        'CREATE INDEX IF NOT EXISTS idempotency_keys_created ON "idempotency_keys" ("created_at")',
    ),
    (
        "messages_run_message",
        'CREATE UNIQUE INDEX IF NOT EXISTS messages_run_message ON "messages" ("workspace", "run_id", "message_ref")',
    ),
    (
        "messages_contact",
        'CREATE INDEX IF NOT EXISTS messages_contact ON "messages" ("workspace", "contact", "id")',
    ),
    (
        "messages_workspace_status",
        'CREATE INDEX IF NOT EXISTS messages_workspace_status ON "messages" ("workspace", "status", "id")',
    ),
    ("messages_due", 'CREATE INDEX IF NOT EXISTS messages_due ON "messages" ("status", "next_attempt_at")'),
    (
        "messages_provider_id",
        'CREATE INDEX IF NOT EXISTS messages_provider_id ON "messages" ("sender", "provider_message_id")',
    ),
    (
        "messages_campaign",
        'CREATE INDEX IF NOT EXISTS messages_campaign ON "messages" ("campaign_id", "status")',
    ),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="messages", description=DESCRIPTION)

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
