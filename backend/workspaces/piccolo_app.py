import os

from piccolo.conf.apps import AppConfig

from backend.workspaces.tables import Credential, User, Workspace

APP_CONFIG = AppConfig(
    app_name="workspaces",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Workspace, User, Credential],
    migration_dependencies=[],
    commands=[],
)
