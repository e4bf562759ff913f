"""What NiceGUI's user simulation runs before each UI test: the same call ``flowgate ui`` makes.

Configuration comes from the ``FLOWGATE_*`` environment, like the real process; the ``user`` fixture in
``conftest.py`` sets ``FLOWGATE_API_URL`` first. In the simulation ``ui.run`` only configures the app.
"""

from backend.config import load_settings
from ui.app import run_ui

run_ui(load_settings(), host="127.0.0.1", port=8080)
