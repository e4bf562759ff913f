import os

from piccolo.conf.apps import AppConfig

from backend.campaigns.tables import Campaign, CampaignBatch, CampaignStat, CampaignTrigger

APP_CONFIG = AppConfig(
    app_name="campaigns",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Campaign, CampaignTrigger, CampaignBatch, CampaignStat],
    migration_dependencies=[
        "backend.workspaces.piccolo_app",
        "backend.flows.piccolo_app",
        "backend.audience.piccolo_app",
        "backend.senders.piccolo_app",
        "backend.consent.piccolo_app",
        "backend.runs.piccolo_app",
    ],
    commands=[],
)
