"""UI tests: NiceGUI's ``User`` simulation driving the real pages against a real ``flowgate api`` process.

How the pieces fit:

* NiceGUI's ``user_plugin`` is not loaded with ``pytest_plugins``: pytest refuses that variable in a
  conftest below the rootdir as soon as the whole suite is collected. Instead this file defines the
  ``user`` fixture itself, on NiceGUI's public ``user_simulation`` context manager, with
  ``tests/ui/ui_main.py`` as the main file (it calls ``run_ui`` exactly as ``flowgate ui`` does).
* Event loop: the project runs every test and async fixture in one session-scoped asyncio loop
  (pytest-asyncio, ``loop_scope="session"``). ``user`` is an ordinary async fixture, so it and NiceGUI's
  app lifespan (which starts the UI's shared httpx client) run in that same loop as the session-scoped
  ``client`` fixture; nothing is bound to a loop that closes between tests.
* NiceGUI's reset drops the modules of registered page functions from ``sys.modules`` after each test;
  the fixture drops the rest of the ``ui`` package too, so every test imports one consistent, fresh copy
  (including the API client) instead of a mix of old and new modules.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from nicegui import app
from nicegui.storage import request_contextvar
from nicegui.testing.user import User
from nicegui.testing.user_simulation import user_simulation

from tests.conftest import Tenant

MAIN_FILE = Path(__file__).with_name("ui_main.py")
# Pages wait for the real API (and a login for argon2): give them up to 10 s instead of NiceGUI's 0.3 s.
PATIENCE = 100


@pytest.fixture
def ui_api_url(live_api: str) -> str:
    """Where the UI under test finds the API; a test module can override this fixture."""
    return live_api


@pytest.fixture
async def user(
    ui_api_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[User]:
    monkeypatch.setenv("FLOWGATE_API_URL", ui_api_url)
    try:
        async with user_simulation(main_file=MAIN_FILE) as simulated:
            yield simulated
    finally:
        for name in [name for name in sys.modules if name == "ui" or name.startswith("ui.")]:
            del sys.modules[name]
    errors = [record for record in caplog.get_records("call") if record.levelno >= logging.ERROR]
    if errors:
        pytest.fail(f"the UI logged errors: {[record.getMessage() for record in errors]}", pytrace=False)


async def see(user: User, *args: Any, **kwargs: Any) -> None:
    await user.should_see(*args, retries=PATIENCE, **kwargs)


async def log_in(user: User, email: str, password: str, *, path: str = "/login") -> None:
    """Fill the login form like a person would (Enter in the password field submits)."""
    await user.open(path)
    await see(user, marker="login-card")
    user.find(marker="email").type(email)
    user.find(marker="password").type(password).trigger("keydown.enter")


async def log_in_and_wait(user: User, email: str, password: str, *, path: str = "/login") -> None:
    await log_in(user, email, password, path=path)
    await see(user, marker="workspace-name")


def stored_token(user: User) -> str:
    """The API token the UI keeps for this simulated browser (server-side, never sent to it)."""
    assert user.client is not None
    request_contextvar.set(user.client.request)
    return app.storage.user["token"]


@pytest.fixture
def add_user(client: httpx.AsyncClient) -> Callable[[Tenant, str], Awaitable[tuple[str, str]]]:
    """Create a user of ``role`` in the tenant through the API; returns (email, password)."""

    async def _add(tenant: Tenant, role: str) -> tuple[str, str]:
        email = f"{role}-{tenant.id}@example.com"
        password = f"{role} password 123"
        response = await client.post(
            "/api/v1/users",
            json={"email": email, "password": password, "role": role},
            headers=tenant.headers(),
        )
        assert response.status_code == 201, response.text
        return email, password

    return _add


def only(user: User, *args: Any, **kwargs: Any) -> Any:
    """The one element matching the filter (``find(...).elements`` is a set; popping it would mutate it)."""
    elements = user.find(*args, **kwargs).elements
    assert len(elements) == 1, f"expected one element, found {len(elements)}"
    return next(iter(elements))
