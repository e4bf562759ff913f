"""Piccolo's configuration module: the engine comes from ``FLOWGATE_DATABASE_URL``.

Each domain registers its tables and migrations through its own ``piccolo_app``; add new domains to
``APPS`` in dependency order.
"""

from piccolo.conf.apps import AppRegistry

from backend.config import get_settings
from backend.core.database import engine_for_url

APPS = [
    "backend.workspaces.piccolo_app",
    "backend.audit.piccolo_app",
    "backend.flows.piccolo_app",
    "backend.audience.piccolo_app",
    "backend.imports.piccolo_app",
    "backend.senders.piccolo_app",
    "backend.consent.piccolo_app",
    "backend.webhooks.piccolo_app",
    "backend.messages.piccolo_app",
    "backend.inbound.piccolo_app",
    "backend.runs.piccolo_app",
    "backend.campaigns.piccolo_app",
]

DB = engine_for_url(get_settings().database_url)
APP_REGISTRY = AppRegistry(apps=APPS)
