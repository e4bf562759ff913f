import os

from piccolo.conf.apps import AppConfig

from backend.flows.tables import Flow, FlowVersion

APP_CONFIG = AppConfig(
    app_name="flows",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Flow, FlowVersion],
    migration_dependencies=["backend.workspaces.piccolo_app"],
    commands=[],
)
