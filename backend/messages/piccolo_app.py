import os

from piccolo.conf.apps import AppConfig

from backend.messages.tables import CampaignHold, IdempotencyKey, Message

APP_CONFIG = AppConfig(
    app_name="messages",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Message, IdempotencyKey, CampaignHold],
    migration_dependencies=[
        "backend.workspaces.piccolo_app",
        "backend.audience.piccolo_app",
        "backend.senders.piccolo_app",
    ],
    commands=[],
)
