"""The flow editor in a real browser: Debian's Chromium, driven by Playwright, against real api and ui processes.

Needs ``/usr/bin/chromium`` (CI installs it; ``playwright install`` cannot download here) and the built
editor bundle (``make install``). Screenshots go to ``test-output/ui/`` for people to look at.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Tenant, flowgate_command, free_port, subprocess_env, wait_for_http
from tests.ui.flow_samples import create_flow
from ui.components.flow_editor import BUNDLE

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "ui"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
    pytest.mark.skipif(
        not (BUNDLE / "index.js").exists(), reason="editor bundle not built: run make install"
    ),
]
playwright_api = pytest.importorskip("playwright.async_api", reason="needs the playwright Python package")


@pytest.fixture
def live_ui(live_api: str, redis_url: str, tmp_path: Path) -> Iterator[str]:
    """A real `flowgate ui` process talking to the live api; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        flowgate_command("ui", "--port", str(port)),
        # subprocess_env drops PYTEST_CURRENT_TEST: with it, NiceGUI would think it runs under its own tests.
        env=subprocess_env(FLOWGATE_API_URL=live_api, FLOWGATE_REDIS_URL=redis_url),
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/login", process=process)
        yield url
    finally:
        process.terminate()
        process.wait(10)


async def test_the_editor_draws_the_flow_in_chromium(
    live_ui: str, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{live_ui}/login?next=/flows/{flow['id']}")
            await page.get_by_label("Email").fill(tenant.admin_email)
            await page.get_by_label("Password").fill(tenant.admin_password)
            await page.keyboard.press("Enter")

            await page.wait_for_selector(".vue-flow__node", timeout=15_000)
            nodes = page.locator(".vue-flow__node")
            assert await nodes.count() == 4
            assert await page.locator(".vue-flow__edge").count() == 2
            assert await page.locator(".vue-flow__minimap").count() == 1
            # User text is text: the markup in the message is shown, not parsed.
            welcome = page.locator('[data-node-id="welcome"]')
            assert "<b>not bold</b>" in await welcome.inner_text()
            assert await welcome.locator("b").count() == 0
            # Typed ports: one source handle per port of the message, one target handle.
            assert await welcome.locator(".vue-flow__handle.source").count() == 3
            assert await welcome.locator(".vue-flow__handle.target").count() == 1
            box = await page.locator(".fg-editor").bounding_box()
            assert box is not None and box["height"] > 500  # the canvas got the page's height
            await page.wait_for_timeout(300)  # let fitView's first frame settle before the picture
            await page.screenshot(path=str(OUTPUT / "flow-editor.png"))
            assert errors == []
        finally:
            await browser.close()
