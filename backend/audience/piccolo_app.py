import os

from piccolo.conf.apps import AppConfig

from backend.audience.tables import Contact, Group, GroupMember

APP_CONFIG = AppConfig(
    app_name="audience",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Contact, Group, GroupMember],
    migration_dependencies=["backend.workspaces.piccolo_app"],
    commands=[],
)
