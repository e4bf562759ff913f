"""The audience screens in a real browser: Debian's Chromium, driven by Playwright, against real api and ui
processes; the worker's jobs (the import, the sends) run in this process, as in the backend's tests.

Two journeys of the issue: import a CSV with one bad row and read its error next to the progress bar;
the compose box warns for an opted-out contact. Screenshots go to ``test-output/ui/`` for people to look
at. NiceGUI's markers live on the server only, so the browser finds things as a person does: by label,
role and text.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from backend.consent.service import record_opt_out
from tests.backend.campaigns.helpers import sandbox_sender, work
from tests.backend.imports.helpers import csv_bytes, run_worker
from tests.conftest import Tenant
from tests.ui.browser import CHROMIUM, chromium_tab, log_in, running_ui

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "ui"
WAIT_MS = 15_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]
playwright_api = pytest.importorskip("playwright.async_api", reason="needs the playwright Python package")
expect = playwright_api.expect


@pytest.fixture
def live_ui(live_api: str, redis_url: str, tmp_path: Path) -> Iterator[str]:
    with running_ui(live_api, redis_url, tmp_path, tmp_path / "ui.log") as url:
        yield url


@pytest.fixture
async def page(live_ui: str) -> AsyncIterator:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    async with chromium_tab() as tab:
        yield tab


async def shoot(page, name: str, *, full_page: bool = True) -> None:
    """A screenshot in test-output/ui/; dialogs are taken as the window shows them (a full-page picture
    would cut their backdrop at the window's height)."""
    await page.wait_for_timeout(400)  # transitions and charts settle
    await page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=full_page)


async def test_import_a_csv_with_one_bad_row_and_read_its_error_next_to_the_progress_bar(
    page, live_ui: str, tenant: Tenant, redis_url: str, tmp_path: Path
) -> None:
    people = tmp_path / "spring-customers.csv"
    people.write_bytes(
        csv_bytes(
            [
                ["Mobile", "Full Name", "E-Mail", "Club", "Notes"],
                ["+14155550001", "Ana Lima", "ana@example.com", "Chess", "prefers mornings"],
                ["+1 415 555", "Bo Chen", "bo@example.com", "Go", ""],
                ["+14155550003", "Cy Dias", "", "Chess", ""],
            ]
        )
    )
    await log_in(page, live_ui, tenant, "/audience/import")
    await page.locator("input[type=file]").set_input_files(str(people))
    mapping = page.locator(".q-card").filter(has=page.get_by_text("Column in the file")).last
    await expect(mapping).to_be_visible(timeout=WAIT_MS)
    meanings = mapping.locator(".q-select")
    await expect(meanings).to_have_count(5)
    await expect(meanings.nth(0)).to_contain_text("Phone")
    await expect(meanings.nth(1)).to_contain_text("Name")
    await expect(meanings.nth(2)).to_contain_text("Email")
    await expect(meanings.nth(3)).to_contain_text("Attribute")
    await meanings.nth(4).click()  # Notes: leave it out
    await page.locator(".q-menu").get_by_role("option", name="Leave out", exact=True).click()
    await expect(meanings.nth(4)).to_contain_text("Leave out")
    await shoot(page, "audience-import-mapping")

    await page.get_by_role("button", name="Start import").click()
    await expect(page.get_by_text("Waiting for a worker", exact=True)).to_be_visible(timeout=WAIT_MS)
    await shoot(page, "audience-import-waiting")
    await run_worker(redis_url)

    progress = page.locator(".q-card").filter(has=page.locator(".q-linear-progress"))
    await expect(progress.get_by_text("Finished", exact=True)).to_be_visible(timeout=WAIT_MS)
    await expect(progress.get_by_text("100%")).to_be_visible()
    await expect(progress).to_contain_text("2 created · 0 updated · 1 skipped, 1 with an error")
    errors = progress.locator(".q-card").filter(has=page.get_by_text("Problem", exact=True))
    await expect(errors).to_contain_text("phone (the file's “mobile”)")
    await expect(errors).to_contain_text("+1 415 555")
    bar = await progress.locator(".q-linear-progress").bounding_box()
    row = await errors.get_by_text(re.compile("the file's")).bounding_box()
    assert bar and row and 0 < row["y"] - bar["y"] < 300  # the error is read right under the bar
    await shoot(page, "audience-import-finished")
    assert page.errors == []


async def test_the_compose_box_warns_for_an_opted_out_contact(
    page, live_ui: str, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    response = await client.post(
        "/api/v1/contacts",
        json={
            "phone": "+351912000001",
            "email": "ana@example.com",
            "name": "Ana Lima",
            "tags": ["vip", "lisbon"],
            "attributes": {"plan": "gold", "visits": 3},
            "timezone": "Europe/Lisbon",
        },
        headers=tenant.headers(),
    )
    ana = response.json()
    bo = await client.post(
        "/api/v1/contacts", json={"phone": "+351912000002", "name": "Bo Chen"}, headers=tenant.headers()
    )
    group = (
        await client.post("/api/v1/groups", json={"name": "Lisbon VIPs"}, headers=tenant.headers())
    ).json()
    await client.post(
        f"/api/v1/groups/{group['id']}/members",
        json={"contact_ids": [ana["id"], bo.json()["id"]]},
        headers=tenant.headers(),
    )
    sender = await sandbox_sender(client, tenant, "whatsapp")
    await record_opt_out(
        tenant.id,
        channel="whatsapp",
        address=ana["phone"],
        source="keyword",
        actor=f"keyword STOP from {ana['phone']}",
        evidence={"text": "STOP", "keyword": "STOP"},
    )
    sent = await client.post(
        "/api/v1/messages",
        json={
            "sender_id": sender["id"],
            "to": ana["phone"],
            "kind": "transactional",
            "text": "Your order shipped",
        },
        headers=tenant.headers(),
    )
    assert sent.status_code == 201, sent.text
    for number in range(1, 8):  # a conversation taller than its box, which scrolls
        reminder = await client.post(
            "/api/v1/messages",
            json={
                "sender_id": sender["id"],
                "to": ana["phone"],
                "kind": "transactional",
                "text": f"Delivery update {number} of 7",
            },
            headers=tenant.headers(),
        )
        assert reminder.status_code == 201, reminder.text
    await work(redis_url)

    await log_in(page, live_ui, tenant, "/audience")
    await expect(page.get_by_text("Ana Lima")).to_be_visible(timeout=WAIT_MS)
    await expect(page.get_by_text("WhatsApp", exact=True)).to_be_visible()  # her badge
    await shoot(page, "audience-contacts")

    await page.goto(f"{live_ui}/audience/groups/{group['id']}")
    await expect(page.get_by_text("1 of 2 members — 1 opted out, 0 without a phone number")).to_be_visible(
        timeout=WAIT_MS
    )
    await shoot(page, "audience-group")

    await page.goto(f"{live_ui}/audience/contacts/{ana['id']}")
    compose = page.get_by_placeholder("Write a message…")
    await expect(compose).to_be_visible(timeout=WAIT_MS)
    first = page.get_by_text("Ana Lima opted out of marketing on WhatsApp")
    await expect(first).to_be_visible()
    await expect(page.get_by_text("the consent gate will not send it")).to_have_count(0)
    await shoot(page, "audience-contact")
    # One column, oldest on top: the box scrolls up and down, never sideways into a second column.
    newest = page.get_by_text("Delivery update 7 of 7")
    await expect(newest).to_be_in_viewport()
    box = newest.locator("xpath=ancestor::div[contains(@class, 'overflow-y-auto')][1]")
    assert await box.evaluate("el => el.scrollWidth <= el.clientWidth && el.scrollHeight > el.clientHeight")
    oldest = page.get_by_text("Your order shipped")
    assert (await oldest.bounding_box())["y"] < (await newest.bounding_box())["y"]
    assert await oldest.evaluate(
        "el => { const box = el.closest('.overflow-y-auto').getBoundingClientRect();"
        " const own = el.getBoundingClientRect(); return own.left >= box.left && own.right <= box.right; }"
    )

    await page.get_by_role("button", name="Marketing", exact=True).click()
    second = page.get_by_text(re.compile("You chose a marketing message"))
    await expect(second).to_be_visible()
    await compose.fill("20% off this week, just for you")
    await shoot(page, "audience-compose-warnings")
    await page.get_by_role("button", name="Send", exact=True).click()
    dialog = page.locator(".q-dialog")
    await expect(dialog.get_by_text("Send a marketing message to a contact who opted out?")).to_be_visible()
    await shoot(page, "audience-compose-confirm", full_page=False)
    await dialog.get_by_role("button", name="Send anyway").click()
    await expect(page.get_by_text("Not sent: the contact opted out of marketing", exact=True)).to_be_visible(
        timeout=WAIT_MS
    )
    await expect(page.get_by_text("Your order shipped")).to_be_visible()
    await shoot(page, "audience-compose-not-sent")
    assert page.errors == []
