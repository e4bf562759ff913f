"""The sender screens in a real browser: Debian's Chromium, driven by Playwright, against real api and ui
processes. NiceGUI's markers live on the server only, so the browser finds things as a person does: by
label, role and text. Screenshots go to ``test-output/ui/`` for people to look at.

The issue's journey: create a sandbox sender, simulate STOP on it with the "simulate an inbound message"
box (the worker's jobs run in this process, as in the backend's tests), read what happened, and follow the
link to the address's opt-out history, where the keyword opt-out is. A second test sets up a WhatsApp Cloud
sender: the form's own errors, the webhook URL and verify token to give Meta, copied with their buttons.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from backend.config import get_settings
from tests.backend.inbound.helpers import run_worker
from tests.backend.senders.helpers import WA_SECRETS, create_sender
from tests.conftest import Tenant
from tests.ui.browser import CHROMIUM, assert_clean_ui_log, chromium_tab, log_in, running_ui

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "ui"
WAIT_MS = 10_000
CONTACT = "+351912000001"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]
playwright_api = pytest.importorskip("playwright.async_api", reason="needs the playwright Python package")
expect = playwright_api.expect


@pytest.fixture
def live_ui(live_api: str, redis_url: str, tmp_path: Path) -> Iterator[str]:
    """A real `flowgate ui` process talking to the live api; its log must stay clean."""
    log_path = tmp_path / "ui.log"
    with running_ui(live_api, redis_url, tmp_path, log_path) as url:
        yield url
    assert_clean_ui_log(log_path)


@pytest.fixture
async def page(live_ui: str) -> AsyncIterator:
    """A tab that may use the clipboard (the copy buttons)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    async with chromium_tab(clipboard=True, timeout_ms=WAIT_MS) as tab:
        yield tab


async def shot(page, name: str, *, full_page: bool = False, top: bool = False) -> None:
    """A screenshot of the window, scrolled to the top when ``top``. ``full_page`` grows the window to the
    page's height first: Playwright's own full-page mode repeats the fixed header halfway down."""
    await page.wait_for_timeout(300)  # let Quasar's transitions finish
    if top:
        await page.evaluate("window.scrollTo(0, 0)")
    if full_page:
        height = await page.evaluate("document.documentElement.scrollHeight")
        await page.set_viewport_size({"width": 1440, "height": max(900, int(height))})
        await page.wait_for_timeout(200)
    await page.screenshot(path=str(OUTPUT / f"{name}.png"))
    if full_page:
        await page.set_viewport_size({"width": 1440, "height": 900})


async def clipboard(page, expected: str) -> str:
    """The clipboard's text once it holds ``expected`` (the copy runs a moment after the click), or what
    it holds after a few seconds."""
    text = ""
    for _ in range(50):
        text = await page.evaluate("navigator.clipboard.readText()")
        if text == expected:
            break
        await page.wait_for_timeout(100)
    return text


async def test_create_a_sender_and_simulate_stop_then_see_the_opt_out(
    live_ui: str, page, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    await log_in(page, live_ui, tenant, "/senders")
    await expect(page.get_by_text("No senders yet")).to_be_visible()
    await page.get_by_role("button", name="New sender").click()

    await page.get_by_role("button", name="SMS", exact=True).click()
    await page.get_by_role("button", name="Sandbox", exact=True).click()
    await expect(page.get_by_text("Simulated customers answer", exact=True)).to_be_visible()
    await page.get_by_label("Name", exact=True).fill("Demo SMS")
    await page.get_by_label("Phone number", exact=True).fill("+351 912 345 670")
    await page.get_by_label("Opt-out confirmation").fill("You are unsubscribed. Reply START to return.")
    await shot(page, "senders-new-sandbox", full_page=True)
    await page.get_by_role("button", name="Create sender").click()

    await expect(page.get_by_text("Simulate an inbound message", exact=True)).to_be_visible()
    [made] = (await client.get("/api/v1/senders", headers=tenant.headers())).json()["items"]
    await expect(page).to_have_url(f"{live_ui}/senders/{made['id']}")  # the new sender's own address
    await page.get_by_label("From", exact=True).fill(CONTACT)
    await page.get_by_role("button", name="STOP", exact=True).click()
    await expect(page.get_by_label("Message", exact=True)).to_have_value("STOP")
    await page.get_by_role("button", name="Send", exact=True).click()
    await expect(page.get_by_text("Waiting for the worker to handle it")).to_be_visible()

    await run_worker(redis_url)  # what `flowgate worker` does: the message, the opt-out, the reply
    await expect(
        page.get_by_text("Opted out of marketing from this sender, with no end date.")
    ).to_be_visible()
    await expect(page.get_by_text("Replied “You are unsubscribed. Reply START to return.”")).to_be_visible()
    await shot(page, "senders-simulate-stop", top=True)

    await page.get_by_role("link", name=f"Opt-out history of {CONTACT}").click()
    await expect(page.get_by_text("Opted out: marketing on SMS is blocked.")).to_be_visible()
    await expect(page.get_by_text("Demo SMS").first).to_be_visible()
    await shot(page, "senders-simulate-stop-history")
    check = await client.get(
        "/api/v1/optouts/check",
        params={"channel": "sms", "address": CONTACT, "sender_id": made["id"]},
        headers=tenant.headers(),
    )
    assert check.json()["opted_out"] is True
    assert check.json()["entries"][0]["source"] == "keyword"

    await page.goto(f"{live_ui}/senders")
    await expect(page.get_by_role("link", name="Demo SMS")).to_be_visible()
    await shot(page, "senders-list")
    assert page.errors == []


async def test_a_whatsapp_sender_tells_what_to_give_meta(
    live_ui: str, page, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await create_sender(client, tenant, "smtp")
    await log_in(page, live_ui, tenant, "/senders/new")
    await expect(page.get_by_label("Phone number ID")).to_be_visible()
    await page.get_by_role("button", name="Create sender").click()
    await expect(page.get_by_text("Required for the WhatsApp Cloud API.").first).to_be_visible()
    await shot(page, "senders-whatsapp-missing", full_page=True)

    await page.get_by_label("Name", exact=True).fill("Shop WhatsApp")
    await page.get_by_label("WhatsApp number", exact=True).fill("+351912345678")
    await page.get_by_label("Phone number ID").fill("109876543210")
    await page.get_by_label("Access token").fill(WA_SECRETS["access_token"])
    await page.get_by_label("App secret").fill(WA_SECRETS["app_secret"])
    await page.get_by_role("button", name="Generate a verify token").click()
    verify_token = page.get_by_role("textbox", name="Verify token")
    await expect(verify_token).to_have_value(re.compile(r"^\S{24,}$"))  # filled by the ui's next update
    token = await verify_token.input_value()
    await page.get_by_role("button", name="Create sender").click()

    await expect(page.get_by_text("Connect the WhatsApp Cloud API")).to_be_visible()
    [made] = [
        sender
        for sender in (await client.get("/api/v1/senders", headers=tenant.headers())).json()["items"]
        if sender["provider"] == "whatsapp_cloud"
    ]
    url = f"{get_settings().base_public_url}/webhooks/{made['id']}"
    await expect(page.get_by_role("textbox", name="Webhook URL")).to_have_value(url)
    await page.get_by_role("button", name="Copy Webhook URL").click()
    assert await clipboard(page, url) == url
    await expect(page.get_by_role("textbox", name="Verify token").first).to_have_value(token)
    await page.get_by_role("button", name="Copy Verify token").click()
    assert await clipboard(page, token) == token
    await shot(page, "senders-whatsapp-connect", top=True)

    await page.reload()  # later visits: secrets are "set", their values nowhere in the page
    await expect(page.get_by_text("Connect the WhatsApp Cloud API")).to_be_visible()
    content = await page.content()
    for secret in (*WA_SECRETS.values(), token):
        assert secret not in content
    await shot(page, "senders-whatsapp-page", full_page=True)
    assert page.errors == []
