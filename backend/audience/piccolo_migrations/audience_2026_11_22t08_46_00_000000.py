from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T08:46:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for unique addresses and memberships"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audience", description=DESCRIPTION)

    async def create_indexes():
        engine = engine_finder()
        await engine.run_ddl(
            'CREATE UNIQUE INDEX IF NOT EXISTS contacts_workspace_phone ON "contacts" ("workspace", "phone")'
        )
        await engine.run_ddl(
            'CREATE UNIQUE INDEX IF NOT EXISTS contacts_workspace_email ON "contacts" ("workspace", "email")'
        )
        await engine.run_ddl(
            'CREATE UNIQUE INDEX IF NOT EXISTS contact_groups_workspace_name ON "contact_groups" ("workspace", "name")'
        )
        await engine.run_ddl(
            'CREATE UNIQUE INDEX IF NOT EXISTS group_members_group_contact ON "group_members" ("group", "contact")'
        )

    async def drop_indexes():
        engine = engine_finder()
        await engine.run_ddl("DROP INDEX IF EXISTS contacts_workspace_phone")
        await engine.run_ddl("DROP INDEX IF EXISTS contacts_workspace_email")
        await engine.run_ddl("DROP INDEX IF EXISTS contact_groups_workspace_name")
        await engine.run_ddl("DROP INDEX IF EXISTS group_members_group_contact")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
