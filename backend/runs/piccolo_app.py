import os

from piccolo.conf.apps import AppConfig

from backend.runs.tables import Run, RunEvent, RunTimer

APP_CONFIG = AppConfig(
    app_name="runs",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Run, RunTimer, RunEvent],
    migration_dependencies=[
        "backend.workspaces.piccolo_app",
        "backend.flows.piccolo_app",
        "backend.audience.piccolo_app",
        "backend.senders.piccolo_app",
    ],
    commands=[],
)
