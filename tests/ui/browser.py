"""What every Chromium journey needs: a real `flowgate ui` process, a tab in Debian's Chromium, and the
gestures a person makes (signing in, picking an option). The journey files keep only their own fixtures'
wiring and assertions on top of these."""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from playwright import async_api as playwright_api

from tests.conftest import Tenant, flowgate_command, free_port, subprocess_env, wait_for_http

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


@contextlib.contextmanager
def running_ui(live_api: str, redis_url: str, cwd: Path, log_path: Path) -> Iterator[str]:
    """A `flowgate ui` process talking to ``live_api``, its output in ``log_path``; yields its URL."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            flowgate_command("ui", "--port", str(port)),
            # Without PYTEST_* variables: with them, NiceGUI would think it runs under its own tests.
            env=subprocess_env(FLOWGATE_API_URL=live_api, FLOWGATE_REDIS_URL=redis_url),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/login", process=process)
        yield url
    finally:
        process.terminate()
        process.wait(10)


_RECORD_START = re.compile(r"^\d\d:\d\d:\d\d ", re.MULTILINE)
_SLOW_BROWSER = ("JavaScript did not respond within", "nicegui/elements/drawer.py")
"""NiceGUI asks each new tab for its drawer's state and logs a traceback when the browser takes over a
second to answer: a loaded CI machine's Chromium, not an error of ours."""


def assert_clean_ui_log(log_path: Path) -> None:
    """The ui process logged no error: no traceback besides NiceGUI's slow-browser one above."""
    text = log_path.read_text()
    starts = [match.start() for match in _RECORD_START.finditer(text)] or [0]
    records = [text[start:end] for start, end in zip(starts, [*starts[1:], len(text)], strict=True)]
    if starts[0] > 0:
        records.insert(0, text[: starts[0]])
    errors = [
        record for record in records if "Traceback" in record and not all(m in record for m in _SLOW_BROWSER)
    ]
    assert not errors, "the ui process logged an error:\n" + "\n".join(errors)[-3000:]


@contextlib.asynccontextmanager
async def chromium_tab(*, clipboard: bool = False, timeout_ms: int | None = None) -> AsyncIterator[Any]:
    """A logged-out 1440x900 tab that collects the page's script errors in ``tab.errors``."""
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            permissions = ["clipboard-read", "clipboard-write"] if clipboard else []
            context = await browser.new_context(
                viewport={"width": 1440, "height": 900}, permissions=permissions
            )
            tab = await context.new_page()
            if timeout_ms is not None:
                tab.set_default_timeout(timeout_ms)
            tab.errors = []
            tab.on("pageerror", lambda error: tab.errors.append(str(error)))
            yield tab
        finally:
            await browser.close()


async def log_in(page: Any, live_ui: str, tenant: Tenant, path: str) -> None:
    """Sign in as the tenant's admin on the login page, landing on ``path``."""
    await page.goto(f"{live_ui}/login?next={path}")
    await page.get_by_label("Email").fill(tenant.admin_email)
    await page.get_by_label("Password").fill(tenant.admin_password)
    await page.keyboard.press("Enter")


async def pick(page: Any, label: str, option: str) -> None:
    """Open a select by its label and click one of its options, as a person does."""
    await page.get_by_label(label, exact=True).click()
    await page.get_by_role("option", name=option).click()
