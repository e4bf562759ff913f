"""In Chromium: a ui installed without the flow editor's bundle shows how to build it where the editor
would be, and the rest of the page works (issue 14, item 11: the image used to serve a blank editor).

The ui process imports its ``ui`` package from a copy of the checkout's ``ui`` files (what git tracks,
so no built bundle), put first on ``PYTHONPATH``; backend and flows are this checkout's.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT, Tenant, flowgate_command, free_port, subprocess_env, wait_for_http
from tests.ui.flow_samples import create_flow

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = REPO_ROOT / "test-output" / "ui"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the ui's tracked files"),
]
playwright_api = pytest.importorskip("playwright.async_api", reason="needs the playwright Python package")


@pytest.fixture
def ui_without_bundle(live_api: str, redis_url: str, tmp_path: Path) -> Iterator[str]:
    copy = tmp_path / "src"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "ui"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO_ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, copy / name)
    assert not (copy / "ui" / "static" / "dist").exists()
    port = free_port()
    process = subprocess.Popen(
        flowgate_command("ui", "--port", str(port)),
        env=subprocess_env(FLOWGATE_API_URL=live_api, FLOWGATE_REDIS_URL=redis_url, PYTHONPATH=str(copy)),
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/login", process=process)
        yield url
    finally:
        process.terminate()
        process.wait(10)


async def test_the_editor_page_says_how_to_build_the_missing_bundle(
    ui_without_bundle: str, tenant: Tenant, client: httpx.AsyncClient
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
            await page.goto(f"{ui_without_bundle}/login?next=/flows/{flow['id']}")
            await page.get_by_label("Email").fill(tenant.admin_email)
            await page.get_by_label("Password").fill(tenant.admin_password)
            await page.keyboard.press("Enter")
            notice = page.locator(".flowgate-editor-missing")
            await notice.wait_for(state="visible", timeout=15_000)
            assert "python ui/editor/build.py" in await notice.inner_text()
            # The rest of the page works: the flow's name is in its field, the side panel is there.
            await page.wait_for_function(
                "() => [...document.querySelectorAll('input')].some((i) => i.value === 'Welcome series')"
            )
            await page.get_by_role("tab", name="Step").wait_for(state="visible")
            await page.screenshot(path=str(OUTPUT / "editor-bundle-missing.png"))
        finally:
            await browser.close()
    assert not errors, errors
