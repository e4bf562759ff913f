"""Settings in a real browser: Debian's Chromium, driven by Playwright, against real api and ui processes.

The journey of the issue: an admin creates an API key and sees it once, copies it with the button (read
back from the browser's clipboard), uses it against the API, closes the dialog and finds the key gone from
the page, then revokes it and the API answers 401. A second test walks the other settings pages. NiceGUI's
markers live on the server only, so the browser finds things as a person does: by label, role and text.
Screenshots go to ``test-output/ui/`` for people to look at; the ui process's log is checked for errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.backend.webhooks.helpers import run_worker
from tests.backend.webhooks.receiver import Receiver
from tests.conftest import Tenant
from tests.ui.browser import CHROMIUM, assert_clean_ui_log, chromium_tab, log_in, running_ui

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "ui"
WAIT_MS = 10_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]
playwright_api = pytest.importorskip("playwright.async_api", reason="needs the playwright Python package")
expect = playwright_api.expect


@pytest.fixture
def ui_log(tmp_path: Path) -> Path:
    return tmp_path / "ui-process.log"


@pytest.fixture
def live_ui(live_api: str, redis_url: str, tmp_path: Path, ui_log: Path) -> Iterator[str]:
    with running_ui(live_api, redis_url, tmp_path, ui_log) as url:
        yield url


@pytest.fixture
async def page(live_ui: str) -> AsyncIterator:
    """A tab that may use the clipboard (the key shown once is copied)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    async with chromium_tab(clipboard=True) as tab:
        yield tab


async def shot(page, name: str) -> None:
    await page.wait_for_timeout(300)  # let Quasar's transitions finish
    await page.screenshot(path=str(OUTPUT / f"{name}.png"))


def no_ui_errors(ui_log: Path) -> None:
    assert_clean_ui_log(ui_log)
    assert "has been deleted" not in ui_log.read_text()


async def test_create_an_api_key_and_see_it_once(
    page, live_ui: str, live_api: str, tenant: Tenant, ui_log: Path
) -> None:
    await log_in(page, live_ui, tenant, "/settings/api-keys")
    await expect(page.get_by_text("Initial admin key")).to_be_visible(timeout=WAIT_MS)

    await page.get_by_role("button", name="Create API key").click()
    await page.get_by_label("Name").fill("CRM opt-out sync")
    await page.get_by_role("button", name="Create key").click()

    key_field = page.get_by_label("API key", exact=True)
    await expect(key_field).to_be_visible(timeout=WAIT_MS)
    key = await key_field.input_value()
    assert key.startswith("fgk_")
    await expect(page.get_by_text("it is shown this once")).to_be_visible()
    await shot(page, "settings-api-key-shown-once")

    # The copy button puts the whole key on the clipboard.
    await page.get_by_role("button", name="Copy API key").click()
    await expect(page.get_by_text("API key copied to the clipboard.")).to_be_visible(timeout=WAIT_MS)
    assert await page.evaluate("navigator.clipboard.readText()") == key

    async with httpx.AsyncClient(base_url=live_api) as api:
        answer = await api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200
        assert answer.json()["role"] == "viewer"

        # A click outside does not close the dialog by accident; the button does.
        await page.mouse.click(20, 850)
        await expect(key_field).to_be_visible()
        await page.get_by_role("button", name="I have copied it").click()
        await expect(key_field).to_be_hidden(timeout=WAIT_MS)
        await expect(page.get_by_text("CRM opt-out sync")).to_be_visible()
        assert key not in await page.content()
        await shot(page, "settings-api-keys-list")
        await page.reload()
        await expect(page.get_by_text("CRM opt-out sync")).to_be_visible(timeout=WAIT_MS)
        assert key.split("_", 2)[2] not in await page.content()  # not even the secret part

        # Revoke it, after the confirmation, and the API refuses it.
        row = page.locator(".q-card .nicegui-row").filter(has_text="CRM opt-out sync")
        await row.get_by_role("button", name="Revoke").click()
        await expect(page.get_by_text("Revoke “CRM opt-out sync”?")).to_be_visible(timeout=WAIT_MS)
        await shot(page, "settings-api-key-revoke-confirm")
        await page.get_by_role("button", name="Revoke key").click()
        await expect(page.get_by_text("Revoked “CRM opt-out sync”: it no longer works.")).to_be_visible(
            timeout=WAIT_MS
        )
        await expect(row.get_by_text("Revoked just now")).to_be_visible(timeout=WAIT_MS)
        refused = await api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 401
    await shot(page, "settings-api-key-revoked")
    assert page.errors == []
    no_ui_errors(ui_log)


async def test_the_other_settings_pages_in_chromium(
    page, live_ui: str, tenant: Tenant, redis_url: str, add_user, ui_log: Path
) -> None:
    """Region and private URLs saved, a webhook to a local receiver added (its secret read once), a test
    event delivered by a real worker, and the audit log that recorded all of it."""
    await add_user(tenant, "marketer")
    receiver = Receiver().start()
    try:
        await log_in(page, live_ui, tenant, "/settings")
        await expect(page.get_by_text("Public opt-out form")).to_be_visible(timeout=WAIT_MS)
        await page.get_by_label("Region").click()
        await page.keyboard.type("Portugal")
        await page.get_by_role("option", name="Portugal (PT, +351)").click()
        await page.get_by_role("switch").click()  # the receiver listens on 127.0.0.1
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_text("read as Portugal (PT) numbers", exact=False)).to_be_visible(
            timeout=WAIT_MS
        )
        await shot(page, "settings-workspace")

        await page.get_by_role("link", name="Users").click()
        await expect(page.get_by_text("marketer-", exact=False).first).to_be_visible(timeout=WAIT_MS)
        await shot(page, "settings-users")

        await page.get_by_role("link", name="Webhooks").click()
        await page.get_by_role("button", name="Add webhook").click()
        await page.get_by_label("URL").fill(receiver.url)
        await page.get_by_label("Description (optional)").fill("CRM sync")
        await page.get_by_role("button", name="Add webhook").last.click()
        secret_field = page.get_by_label("Signing secret", exact=True)
        await expect(secret_field).to_be_visible(timeout=WAIT_MS)
        receiver.secret = await secret_field.input_value()
        assert receiver.secret.startswith("whsec_")
        await shot(page, "settings-webhook-secret-once")
        await page.get_by_role("button", name="Send a test event").click()

        # The button queued a test and opened the endpoint's delivery log.
        await expect(page.get_by_text("Delivery log")).to_be_visible(timeout=WAIT_MS)
        await expect(page.get_by_text("Pending", exact=True)).to_be_visible(timeout=WAIT_MS)
        await run_worker(redis_url)
        await expect(page.get_by_text("HTTP 200")).to_be_visible(timeout=WAIT_MS)  # the log refreshes itself
        assert receiver.received and receiver.received[0].verified
        await shot(page, "settings-webhook-deliveries")

        await page.get_by_role("link", name="Audit log").click()
        await expect(page.get_by_text("Webhook tested")).to_be_visible(timeout=WAIT_MS)
        await shot(page, "settings-audit-log")
    finally:
        receiver.stop()
    assert page.errors == []
    no_ui_errors(ui_log)


async def test_a_viewer_reads_the_settings_in_chromium(page, live_ui: str, tenant: Tenant, add_user) -> None:
    email, password = await add_user(tenant, "viewer")
    await page.goto(f"{live_ui}/login?next=/settings")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.keyboard.press("Enter")
    await expect(page.get_by_text("Only workspace admins can change these settings.")).to_be_visible(
        timeout=WAIT_MS
    )
    assert await page.get_by_role("link", name="API keys").count() == 0
    await shot(page, "settings-viewer")
