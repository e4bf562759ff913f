import os

from piccolo.conf.apps import AppConfig

from backend.consent.tables import ConsentEvent, MarketingCategory, OptOutEntry

APP_CONFIG = AppConfig(
    app_name="consent",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[MarketingCategory, OptOutEntry, ConsentEvent],
    migration_dependencies=["backend.workspaces.piccolo_app", "backend.senders.piccolo_app"],
    commands=[],
)
