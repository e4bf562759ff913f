"""The opt-out screens in a real browser: Debian's Chromium, driven by Playwright, against real api and ui
processes. NiceGUI's markers live on the server only, so the browser finds things as a person does: by
label, role and text. Screenshots go to ``test-output/ui/`` for people to look at.

Two journeys: an opt-out added by hand (the address checked as it is typed, a category, a sender) and
the address's history changing with it and with the opt-in that follows; and a CSV import with one bad
row, read next to its progress bar once the worker (run in this process) has applied the file.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.backend.campaigns.helpers import sandbox_sender
from tests.backend.imports.helpers import csv_bytes, run_worker
from tests.conftest import Tenant
from tests.ui.browser import CHROMIUM, assert_clean_ui_log, chromium_tab, log_in, pick, running_ui

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "ui"
WAIT_MS = 10_000
AUDIENCE = importlib.util.find_spec("ui.pages.audience_contact") is not None
"""Whether the contact page exists (built alongside): then the journey also checks the contact's badge."""

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
    with running_ui(live_api, redis_url, tmp_path, tmp_path / "ui.log") as url:
        yield url
    assert_clean_ui_log(tmp_path / "ui.log")


@pytest.fixture
async def page(live_ui: str) -> AsyncIterator:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    async with chromium_tab(timeout_ms=WAIT_MS) as tab:
        yield tab


async def test_an_opt_out_added_by_hand_changes_the_address_history(
    live_ui: str, page, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    sender = await sandbox_sender(client, tenant, channel="whatsapp", name="Shop WhatsApp")
    made = await client.post(
        "/api/v1/marketing-categories",
        json={"name": "Promotions", "unsubscribe_days": 60},
        headers=tenant.headers(),
    )
    assert made.status_code == 201
    earlier = await client.post(
        "/api/v1/optouts",
        json={
            "channel": "email",
            "address": "ana@example.com",
            "valid_days": 30,
            "remarks": "asked by email",
        },
        headers=tenant.headers(),
    )
    assert earlier.status_code == 201

    contact = await client.post(
        "/api/v1/contacts", json={"phone": "+351912345678", "name": "Rita"}, headers=tenant.headers()
    )
    assert contact.status_code == 201, contact.text
    contact_page = f"{live_ui}/audience/contacts/{contact.json()['id']}"

    await log_in(page, live_ui, tenant, "/opt-outs")
    await expect(page.get_by_text("ana@example.com")).to_be_visible()
    await page.get_by_role("button", name="Add opt-out").click()
    dialog = page.locator(".q-dialog")
    await dialog.get_by_label("Mobile number").fill("+351 91 234")
    await expect(
        dialog.get_by_text("not a valid phone number")
    ).to_be_visible()  # as typed, by the API's rules
    await dialog.get_by_label("Mobile number").fill("+351 912 345 678")
    await expect(dialog.get_by_text("Stored as +351912345678.")).to_be_visible()
    await pick(page, "Marketing category", "Promotions · 60 days")
    await expect(dialog.get_by_label("Days", exact=True)).to_have_value(
        "60"
    )  # the category's unsubscribe days
    await dialog.get_by_label("Days", exact=True).fill("20")
    await dialog.get_by_label("Remarks (optional)").fill("asked at the counter not to get offers")
    await dialog.get_by_role("radio", name="One sender").click()
    await pick(page, "Sender", f"Shop WhatsApp · {sender['address']}")
    await page.screenshot(path=str(OUTPUT / "optouts-add.png"))
    await dialog.get_by_role("button", name="Save").click()

    await expect(page.get_by_text("Opted out +351912345678 on WhatsApp until")).to_be_visible()
    row_link = page.get_by_role("link", name="+351912345678")
    await expect(row_link).to_be_visible()
    await expect(page.get_by_text("Sender Shop WhatsApp")).to_be_visible()
    await page.wait_for_timeout(300)
    await page.screenshot(path=str(OUTPUT / "optouts-list.png"))

    if AUDIENCE:  # the contact's page shows the new opt-out on its WhatsApp line
        await page.goto(contact_page)
        await expect(page.get_by_text("Promotions only", exact=False).first).to_be_visible()
        await page.wait_for_timeout(300)
        await page.screenshot(path=str(OUTPUT / "optouts-contact-badge.png"))
        await page.go_back()

    await row_link.click()
    await expect(page.get_by_text("Opted out: marketing on WhatsApp is blocked.")).to_be_visible()
    await expect(page.get_by_text("asked at the counter not to get offers")).to_be_visible()
    await expect(page.get_by_text("Added by hand").first).to_be_visible()
    await page.screenshot(path=str(OUTPUT / "optouts-history.png"))

    await page.get_by_role("button", name="Opt back in").click()
    revoke = page.locator(".q-dialog")
    await revoke.get_by_label("Why? (kept in the history)").fill("called to get the offers again")
    await revoke.get_by_role("button", name="Opt back in").click()
    await expect(
        page.get_by_text("Not opted out: marketing on WhatsApp may reach this address.")
    ).to_be_visible()
    await expect(page.get_by_text("Opted back in", exact=True)).to_be_visible()
    await expect(page.get_by_text("“called to get the offers again”", exact=False)).to_be_visible()
    await page.wait_for_timeout(300)
    await page.screenshot(path=str(OUTPUT / "optouts-history-after.png"), full_page=True)
    if AUDIENCE:
        await page.goto(contact_page)
        await expect(page.get_by_text("Receives marketing").first).to_be_visible()
        await expect(page.get_by_text("Promotions only", exact=False)).to_have_count(0)
    assert page.errors == []


async def test_an_import_with_a_bad_row_shows_its_error_next_to_the_progress(
    live_ui: str, page, tenant: Tenant, client: httpx.AsyncClient, redis_url: str, tmp_path: Path
) -> None:
    await sandbox_sender(client, tenant, channel="sms", name="Shop SMS")
    for name, days in (("Promotions", 60), ("Newsletter", 14)):
        made = await client.post(
            "/api/v1/marketing-categories",
            json={"name": name, "unsubscribe_days": days, "description": f"{name} by SMS and email"},
            headers=tenant.headers(),
        )
        assert made.status_code == 201
    data = csv_bytes(
        [
            ["channel", "address", "sender", "valid_days", "remarks"],
            ["sms", "+351912000001", "Shop", "10", "paper form"],
            ["sms", "+351 91", "", "", ""],
            ["email", "ana@example.com", "", "", "phone call"],
        ]
    )
    path = tmp_path / "optouts.csv"
    path.write_bytes(data)

    await log_in(page, live_ui, tenant, "/opt-outs")
    await expect(page.get_by_text("No opt-outs yet")).to_be_visible()
    await page.get_by_role("button", name="Import CSV").click()
    dialog = page.locator(".q-dialog")
    await dialog.locator("input[type=file]").set_input_files(str(path))
    await expect(dialog.get_by_text("optouts.csv: 3 rows")).to_be_visible()
    await dialog.locator(".q-select").first.click()
    await page.get_by_role("option", name="Shop SMS · SMS").click()
    await page.screenshot(path=str(OUTPUT / "optouts-import-mapping.png"))
    await dialog.get_by_role("button", name="Import").click()
    await expect(dialog.get_by_text("Waiting for a worker")).to_be_visible()

    await run_worker(redis_url)
    await expect(dialog.get_by_text("Done: 2 added, 0 extended, 1 skipped.")).to_be_visible()
    await expect(dialog.get_by_text("is not a valid phone number")).to_be_visible()
    await page.wait_for_timeout(300)
    await page.screenshot(path=str(OUTPUT / "optouts-import.png"))
    await dialog.get_by_role("button", name="Close").click()
    await expect(page.get_by_text("2 opt-outs")).to_be_visible()

    await page.get_by_role("link", name="Categories and duration").click()
    await expect(page.get_by_text("Opt-out duration without a category")).to_be_visible()
    await page.wait_for_timeout(300)
    await page.screenshot(path=str(OUTPUT / "optouts-categories.png"))
    assert page.errors == []
