import os

from piccolo.conf.apps import AppConfig

from backend.webhooks.tables import WebhookDelivery, WebhookEndpoint

APP_CONFIG = AppConfig(
    app_name="webhooks",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[WebhookEndpoint, WebhookDelivery],
    migration_dependencies=["backend.workspaces.piccolo_app"],
    commands=[],
)
