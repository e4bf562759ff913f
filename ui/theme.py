"""The look shared by every page: colours, the logo/favicon and the page background.

Kept in one place so the login page and the shell cannot drift apart.
"""

from __future__ import annotations

import base64

from nicegui import ui

PRIMARY = "#4f46e5"

# A rounded indigo square with two linked dots: a flow, still readable at 16 px.
LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#4f46e5"/>'
    '<path d="M9 10h7a4 4 0 0 1 4 4v4a4 4 0 0 0 4 4" stroke="#fff" stroke-width="2.5" fill="none"/>'
    '<circle cx="9" cy="10" r="3" fill="#fff"/><circle cx="23" cy="22" r="3" fill="#fff"/>'
    "</svg>"
)
FAVICON = LOGO_SVG
LOGO_DATA_URL = "data:image/svg+xml;base64," + base64.b64encode(LOGO_SVG.encode()).decode()


def apply_theme() -> None:
    """Call first in every page function."""
    ui.colors(primary=PRIMARY)
    ui.query("body").classes("bg-slate-50")
    # Pages lay out their own padding; NiceGUI's default would add a scrollbar to full-height pages.
    ui.query(".nicegui-content").classes("p-0 gap-0")


def logo(size_px: int = 28) -> ui.element:
    """The logo as an ``<img>``: no raw HTML needed anywhere in the UI."""
    return ui.element("img").props(f'src="{LOGO_DATA_URL}" alt="" width={size_px} height={size_px}')
