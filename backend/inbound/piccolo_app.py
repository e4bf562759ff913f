import os

from piccolo.conf.apps import AppConfig

from backend.inbound.tables import InboundEvent

APP_CONFIG = AppConfig(
    app_name="inbound",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[InboundEvent],
    migration_dependencies=["backend.workspaces.piccolo_app", "backend.senders.piccolo_app"],
    commands=[],
)
