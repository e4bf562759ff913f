import os

from piccolo.conf.apps import AppConfig

from backend.senders.tables import Sender

APP_CONFIG = AppConfig(
    app_name="senders",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Sender],
    migration_dependencies=["backend.workspaces.piccolo_app"],
    commands=[],
)
