"""The NiceGUI application: page registration and ``run_ui``, which ``flowgate ui`` calls.

Pages are registered by :func:`register_pages` rather than at import time, so the same code serves the
real server and NiceGUI's ``User`` test simulation (which resets NiceGUI's globals between tests and
runs a main file that calls :func:`run_ui` again).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi.responses import RedirectResponse
from nicegui import app, ui
from nicegui.storage import Storage

from backend.config import Settings
from ui.backend import api
from ui.pages import (
    campaign_form,
    campaign_monitor,
    campaigns_list,
    flow_edit,
    flow_preview,
    flow_version,
    flows_list,
    login,
    settings,
)
from ui.pages.audience import register as register_audience
from ui.pages.not_found import register as register_not_found
from ui.pages.optouts import register as register_optouts
from ui.pages.senders import register as register_senders
from ui.theme import FAVICON


def register_pages(api_url: str) -> None:
    """Point the API client at ``api_url``, tie it to the app's lifespan, and add every page."""
    api.configure(api_url)
    app.on_startup(api.start)
    app.on_shutdown(api.close)
    register_not_found()  # unknown addresses: a page inside the app instead of NiceGUI's bare 404

    login.register()
    flows_list.register()
    flow_edit.register()
    flow_preview.register()
    flow_version.register()
    campaigns_list.register()
    campaign_form.register()  # before the monitor: /campaigns/new is not a campaign id
    campaign_monitor.register()
    settings.register()
    register_optouts()  # /opt-outs, its history and categories pages
    register_audience()  # /audience: contacts, groups, imports and one contact's page
    register_senders()  # /senders, /senders/new and one sender's page
    ui.page("/")(_home)


def _home() -> RedirectResponse:
    return RedirectResponse("/flows", status_code=303)


def run_ui(settings_: Settings, *, host: str, port: int) -> None:
    """Serve the UI until interrupted; talks to the API at ``settings_.api_url`` only."""
    # app.storage.user holds API session tokens: keep it next to the other secrets of this install
    # instead of a ``.nicegui`` folder in whatever directory the process was started from.
    if "NICEGUI_STORAGE_PATH" not in os.environ and "NICEGUI_REDIS_URL" not in os.environ:
        Storage.path = (Path(settings_.data_dir) / "ui-storage").resolve()
        Storage.path.mkdir(mode=0o700, parents=True, exist_ok=True)
    register_pages(settings_.api_url)
    ui.run(
        host=host,
        port=port,
        title="Flowgate",
        favicon=FAVICON,
        storage_secret=settings_.resolved_secret_key(),
        reload=False,
        show=False,
        show_welcome_message=False,
    )
