import os

from piccolo.conf.apps import AppConfig

from backend.imports.leases import ImportLease
from backend.imports.tables import Import, ImportChunk

APP_CONFIG = AppConfig(
    app_name="imports",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Import, ImportChunk, ImportLease],
    migration_dependencies=["backend.workspaces.piccolo_app"],
    commands=[],
)
