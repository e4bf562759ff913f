"""The campaign screens in a real browser: Debian's Chromium, driven by Playwright, against real api and ui
processes, with the scheduler and the worker run in this process on a controlled clock (the worker
publishes its hints on Redis; the live api pushes them over its WebSocket to the ui process).

Needs ``/usr/bin/chromium`` (``playwright install`` cannot download here) and the built editor bundle
(``make install``: the monitor draws the flow with it). NiceGUI's markers live on the server only, so the
browser finds things as a person does: by label, role and text, and by the editor's own classes for the
counts on the graph. Screenshots go to the test's ``tmp_path`` and are copied to ``/tmp/campaign-shots/``
for people to look at.

Three journeys: a campaign created by mouse and keyboard ("990 of 1,000 will receive it"); a monitor whose
numbers and graph counts move while the campaign runs, with no reload; suspend, resume and delete from the
monitor, each behind its confirmation.

Each journey also collects what a person (or the ui's log) would notice without stopping at the first
thing, and fails at its end with all of it.
"""

from __future__ import annotations

import asyncio
import copy
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.backend.campaigns.helpers import (
    TWO_STEP,
    at,
    campaign_messages,
    create_campaign,
    group_of,
    published_flow,
    sandbox_sender,
    start_and_work,
    tap,
    tick,
    work,
)
from tests.conftest import Tenant, flowgate_command, free_port, subprocess_env, wait_for_http
from ui.components.flow_editor import BUNDLE

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path("/tmp/campaign-shots")
WAIT_MS = 15_000
"""How long an expectation waits for the page: the feed pushes at most once a second, refreshes every 3 s."""
NOTICE_MS = 3_000
"""How long a collected check waits: what a person would expect to see at once."""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
    pytest.mark.skipif(
        not (BUNDLE / "index.js").exists(), reason="editor bundle not built: run make install"
    ),
]
playwright_api = pytest.importorskip("playwright.async_api", reason="needs the playwright Python package")
expect = playwright_api.expect

# --- processes, browser, pictures --------------------------------------------------------------------


@pytest.fixture
def ui_log(tmp_path: Path) -> Path:
    """Where the ui process writes its output: the journeys read it for errors and warnings."""
    return tmp_path / "ui-process.log"


@pytest.fixture
def live_ui(live_api: str, redis_url: str, tmp_path: Path, ui_log: Path) -> Iterator[str]:
    """A real `flowgate ui` process talking to the live api; yields its URL."""
    port = free_port()
    with ui_log.open("w") as log:
        process = subprocess.Popen(
            flowgate_command("ui", "--port", str(port)),
            # Without PYTEST_* variables: with them, NiceGUI would think it runs under its own tests.
            env=subprocess_env(FLOWGATE_API_URL=live_api, FLOWGATE_REDIS_URL=redis_url),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_http(f"{url}/login", process=process)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; its output ends:\n{ui_log.read_text()[-3000:]}") from None
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
async def page(live_ui: str) -> AsyncIterator:
    """A logged-out Chromium page of 1440x900 that records the page's script errors in ``page.errors``."""
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            tab = await browser.new_page(viewport={"width": 1440, "height": 900})
            tab.errors = []
            tab.on("pageerror", lambda error: tab.errors.append(str(error)))
            yield tab
        finally:
            await browser.close()


@pytest.fixture
def shoot(page, tmp_path: Path):
    """``await shoot("name")``: a screenshot in tmp_path, copied to /tmp/campaign-shots/. The whole page
    by default; ``full_page=False`` for what the viewport shows (dialogs); ``of=`` for one element."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    async def _shoot(name: str, *, full_page: bool = True, of=None) -> Path:
        path = tmp_path / f"{name}.png"
        if of is not None:
            await of.screenshot(path=str(path))
        elif full_page:
            # A viewport as tall as the page rather than Playwright's full_page: the shell's header and
            # drawer are fixed to the viewport, and would be drawn mid-page or cut short.
            size = page.viewport_size
            height = await page.evaluate("document.documentElement.scrollHeight")
            await page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
            await page.wait_for_timeout(300)
            await page.screenshot(path=str(path))
            await page.set_viewport_size(size)
        else:
            await page.screenshot(path=str(path))
        shutil.copy(path, SHOTS / path.name)
        return path

    return _shoot


@dataclass
class Noticed:
    """What a person would notice, collected so that one problem does not hide the rest of a journey."""

    ui_log: Path
    items: list[str] = field(default_factory=list)

    async def check(self, expectation: Awaitable[None], what: str) -> bool:
        try:
            await expectation
        except AssertionError:
            self.items.append(what)
            return False
        return True

    def add(self, what: str) -> None:
        self.items.append(what)

    def judge(self) -> None:
        """Fail with everything noticed, the ui process's logged problems included. Call it last."""
        self.items += [f"the ui process logged: {line}" for line in logged_problems(self.ui_log)]
        assert self.items == [], f"noticed: {self.items}"


@pytest.fixture
def noticed(ui_log: Path) -> Noticed:
    return Noticed(ui_log)


def logged_problems(ui_log: Path) -> list[str]:
    """The ui process's errors, warnings and exceptions so far (what a person never sees)."""
    lines = ui_log.read_text(errors="replace").splitlines()
    return [
        line
        for line in lines
        if (
            re.search(r" (ERROR|WARNING|CRITICAL) ", line)
            or re.search(r"\w+(Error|Exception|Warning): ", line)
        )
        and "Enable tracemalloc" not in line  # the second line of a RuntimeWarning
    ]


# --- finding things as a person does -----------------------------------------------------------------


async def log_in(page, live_ui: str, tenant: Tenant, path: str) -> None:
    await page.goto(f"{live_ui}/login?next={path}")
    await page.get_by_label("Email").fill(tenant.admin_email)
    await page.get_by_label("Password").fill(tenant.admin_password)
    await page.keyboard.press("Enter")


def field(page, label: str):
    """The Quasar field (input or select) whose floating label is ``label``."""
    return page.locator(".q-field").filter(has=page.locator(".q-field__label").get_by_text(label, exact=True))


async def pick(page, label: str, option: str) -> None:
    """Open a Quasar select by clicking it and click one of its options, as a person does."""
    await field(page, label).click()
    await page.locator(".q-menu").get_by_role("option", name=option, exact=True).click()
    await expect(page.locator(".q-menu")).to_have_count(0)  # the menu closed on the choice
    await expect(field(page, label)).to_contain_text(option)


def icon_button(scope, icon: str):
    """An icon-only button, found by its Material icon: Quasar hides the icon from the accessibility tree
    and a tooltip is no accessible name, so such buttons have no name to find them by."""
    return scope.locator(f"button:has(i.q-icon:text-is('{icon}'))")


async def settle(page) -> None:
    """Let dialogs and menus finish their transitions before a picture."""
    await page.wait_for_timeout(500)


def kpi(page, label: str):
    """The number on the monitor's KPI card called ``label``."""
    card = page.locator(".q-card").filter(has=page.get_by_text(label, exact=True))
    return card.locator(".tabular-nums")


async def bar_drawn_full(page) -> None:
    """Wait until the progress bar is drawn full: it slides to a new value for about two seconds."""
    await page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.q-linear-progress__model')).transform"
        " === 'matrix(1, 0, 0, 1, 0, 0)'",
        timeout=WAIT_MS,
    )


def status_chip(page):
    return page.locator(".rounded-full", has_text=re.compile(r"^(Scheduled|Running|Paused|Ended)$"))


def toast(page, text: str):
    return page.locator(".q-notification").get_by_text(text, exact=True)


def node_counts(page, node_id: str):
    """The chips under a step of the monitor's graph (``192 in``, ``185 waiting``, ...)."""
    return page.locator(f'.fg-counts[data-counts="{node_id}"] .fg-count')


def edge_count(page, edge_id: str):
    """The number on a path of the monitor's graph (the runs that took it)."""
    return page.locator(f'.fg-edge-count[data-edge="{edge_id}"]')


# --- what the journeys stand on ----------------------------------------------------------------------

PLACES = {
    "start": (0, 130),
    "offer": (240, 60),
    "follow_up": (620, 0),
    "declined": (620, 200),
    "no_reply": (620, 320),
    "done": (960, 20),
}
"""Where the steps of TWO_STEP sit, as the editor would have saved them (without positions, every step
would be drawn at 0,0, on top of each other)."""


def drawn(graph: dict) -> dict:
    placed = copy.deepcopy(graph)
    for step in placed["nodes"]:
        x, y = PLACES[step["id"]]
        step["position"] = {"x": x, "y": y}
    return placed


async def made(client: httpx.AsyncClient, tenant: Tenant, size: int, opted_out: int) -> dict:
    """A published manual flow (a message with two buttons, a follow-up for "Yes please"), a sandbox
    sender, and a group of ``size`` whose first ``opted_out`` sent STOP themselves."""
    return {
        "flow": await published_flow(client, tenant, drawn(TWO_STEP), name="Spring offer flow"),
        "sender": await sandbox_sender(client, tenant),
        "group": await group_of(
            tenant.id, size, opted_out=opted_out, source="keyword", name="Spring customers"
        ),
    }


# --- 1. create ---------------------------------------------------------------------------------------


async def test_a_marketer_creates_a_campaign_by_mouse_and_keyboard(
    live_ui: str, page, shoot, noticed: Noticed, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    setup = await made(client, tenant, 1000, 10)
    sender = setup["sender"]
    await log_in(page, live_ui, tenant, "/campaigns")
    await expect(page.get_by_text("No campaigns yet")).to_be_visible(timeout=WAIT_MS)
    await page.get_by_role("button", name="New campaign").click()
    await expect(page).to_have_url(re.compile(r"/campaigns/new$"))
    await expect(page.get_by_text("Pick a group and a sender to see who it reaches.")).to_be_visible()

    await field(page, "Name").click()
    await page.keyboard.type("Spring sale")
    await pick(page, "Flow", "Spring offer flow (v1)")
    await pick(page, "Sender", f"Sandbox whatsapp · whatsapp {sender['address']}")
    await pick(page, "Group", "Spring customers")
    audience = page.get_by_text("990 of 1,000 will receive it — 10 opted out", exact=True)
    await expect(audience).to_be_visible(timeout=WAIT_MS)
    await expect(page.get_by_role("button", name="Excluded (CSV)")).to_be_visible()

    # The flow as a contact gets it, in the preview dialog; then closed with its X.
    await page.get_by_role("button", name="Preview", exact=True).click()
    dialog = page.locator(".q-dialog")
    await expect(dialog.get_by_text("Hi Test contact, 20% off this week. Interested?")).to_be_visible(
        timeout=WAIT_MS
    )
    await expect(dialog.get_by_role("button", name="Yes please")).to_be_visible()
    await expect(dialog.get_by_role("button", name="No thanks")).to_be_visible()
    await settle(page)
    await shoot("1-form-flow-preview", full_page=False)
    await icon_button(dialog, "close").click()
    await expect(dialog).to_have_count(0)

    # When: tomorrow 09:00 to three days later, every 12 hours, typed into the inputs.
    start = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1)
    end = start + timedelta(days=3)
    await field(page, "Starts").locator("input").fill(start.strftime("%Y-%m-%dT%H:%M"))
    await field(page, "Ends").locator("input").fill(end.strftime("%Y-%m-%dT%H:%M"))
    every = field(page, "A trigger every").locator("input")
    await every.click()
    await every.press("Control+a")
    await page.keyboard.type("12")
    await page.keyboard.press("Tab")
    # The unit's select has no label of its own: it is the one showing "days".
    days = page.locator(".q-field__native", has_text=re.compile(r"^days$"))
    await page.locator(".q-select").filter(has=days).click()
    await page.locator(".q-menu").get_by_role("option", name="hours", exact=True).click()
    words = f"{start:%-d %b %Y %H:%M} to {end:%-d %b %Y %H:%M} (UTC)"
    plan = f"Plan: every 12 hours from {words}, 6 triggers."
    await expect(page.get_by_text(plan, exact=True)).to_be_visible(timeout=WAIT_MS)
    await expect(audience).to_be_visible()
    await shoot("1-form-filled")

    await page.get_by_role("button", name="Create campaign").click()
    await expect(page).to_have_url(re.compile(r"/campaigns/\d+$"), timeout=WAIT_MS)
    campaigns = (await client.get("/api/v1/campaigns", headers=tenant.headers())).json()["items"]
    assert [(c["name"], c["every"], c["planned_triggers"], c["opted_in_only"]) for c in campaigns] == [
        ("Spring sale", {"unit": "hour", "count": 12}, 6, True)
    ]
    assert page.url.endswith(f"/campaigns/{campaigns[0]['id']}")
    await expect(page.locator(".text-2xl", has_text="Spring sale")).to_be_visible()
    await expect(status_chip(page)).to_have_text("Scheduled")
    await expect(kpi(page, "Audience")).to_have_text("1,000", timeout=WAIT_MS)
    await expect(kpi(page, "Eligible now")).to_have_text("990")
    await expect(page.get_by_text(plan, exact=True)).to_be_visible()
    await expect(page.get_by_text("0 of 990 contacts reached")).to_be_visible()
    await expect(page.locator(".vue-flow__node")).to_have_count(6, timeout=WAIT_MS)
    await expect(page.locator(".fg-edge-count")).to_have_count(5)  # every path, at 0 so far
    await page.wait_for_timeout(400)  # fitView's first frame
    await shoot("1-monitor-new")

    # On a phone the list keeps the name clear of its status (the pill once covered it).
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"{live_ui}/campaigns")
    name = page.get_by_role("link", name="Spring sale")
    await expect(name).to_be_visible(timeout=WAIT_MS)
    pill = page.locator(".rounded-full", has_text="Scheduled").first
    cell_box = await name.locator("xpath=..").bounding_box()  # the name's column in the row
    name_box, pill_box = await name.bounding_box(), await pill.bounding_box()
    assert name_box["x"] + name_box["width"] <= pill_box["x"]
    assert cell_box["width"] >= 120, cell_box  # room for a name, not a sliver its text spills out of
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await shoot("1-list-phone", full_page=False)
    assert page.errors == []
    noticed.judge()


# --- 2. watch ----------------------------------------------------------------------------------------


async def test_the_monitor_and_its_graph_move_while_the_campaign_runs(
    live_ui: str, page, shoot, noticed: Noticed, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    setup = await made(client, tenant, 200, 8)
    sender = setup["sender"]
    campaign = await create_campaign(
        client, tenant, setup["flow"]["id"], setup["group"]["id"], sender["id"], name="Spring sale"
    )
    await log_in(page, live_ui, tenant, f"/campaigns/{campaign['id']}")
    await expect(page.get_by_text("● Live")).to_be_visible(timeout=WAIT_MS)
    await expect(kpi(page, "Eligible now")).to_have_text("192")
    await expect(kpi(page, "Sent")).to_have_text("0")
    await expect(page.locator(".fg-count")).to_have_count(0)  # nobody in the flow yet
    await page.evaluate("window.sameDocument = true")  # gone if the page reloads

    # Start it (the scheduler's tick at its start) and work the queue while the browser watches.
    await tick(redis_url, at(campaign["start_at"], seconds=1))
    worker = asyncio.create_task(work(redis_url))
    sent, reached = kpi(page, "Sent"), page.get_by_text(re.compile(r"contacts reached$"))
    seen: list[str] = []  # each value the Sent card showed, in order
    progress: list[str] = []  # and each progress sentence
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        text, sentence = await sent.inner_text(), await reached.inner_text()
        if seen[-1:] != [text]:
            seen.append(text)
        if progress[-1:] != [sentence]:
            progress.append(sentence)
        if worker.done() and text == "192":
            break
        await page.wait_for_timeout(100)
    await worker
    print("Sent, as the monitor showed it:", " → ".join(seen))
    print("Progress, as the monitor showed it:", " → ".join(progress))
    assert seen[0] == "0" and seen[-1] == "192", seen
    for sentence in progress:
        if not re.fullmatch(r"\d+ of 192 contacts reached", sentence):
            noticed.add(f"the progress said {sentence!r} (192 are eligible)")

    await expect(status_chip(page)).to_have_text("Running")
    await expect(page.get_by_text("192 of 192 contacts reached")).to_be_visible(timeout=WAIT_MS)
    await expect(node_counts(page, "start")).to_have_text(["192 in"])
    await expect(node_counts(page, "offer")).to_have_text(["192 in", "192 waiting", "192 sent"])
    await expect(edge_count(page, "e-start-next-offer")).to_have_text("192")
    await expect(edge_count(page, "e-offer-button:yes-follow_up")).to_have_text("0")

    # Five tap "Yes please", two "No thanks": the counts follow on the paths they took.
    messages = await campaign_messages(campaign["id"])
    for message in messages[:5]:
        await tap(client, tenant, sender["id"], message, "yes")
    for message in messages[5:7]:
        await tap(client, tenant, sender["id"], message, "no")
    await work(redis_url)
    await expect(edge_count(page, "e-offer-button:yes-follow_up")).to_have_text("5", timeout=WAIT_MS)
    await expect(edge_count(page, "e-offer-button:no-declined")).to_have_text("2")
    await expect(edge_count(page, "e-offer-next-no_reply")).to_have_text("0")
    await expect(edge_count(page, "e-follow_up-next-done")).to_have_text("5")
    await expect(node_counts(page, "offer")).to_have_text(["192 in", "185 waiting", "192 sent", "7 replied"])
    await expect(node_counts(page, "follow_up")).to_have_text(["5 in", "5 sent"])
    await expect(kpi(page, "Replied")).to_have_text("7")
    await expect(kpi(page, "Completed")).to_have_text("7")
    await expect(kpi(page, "Sent")).to_have_text("197")  # and the five follow-ups
    assert await page.evaluate("window.sameDocument === true"), "the monitor reloaded"
    await noticed.check(
        expect(page.get_by_text("● Live")).to_be_visible(timeout=NOTICE_MS),
        "the '● Live' sign is gone once the campaign runs",
    )
    await noticed.check(
        expect(page.get_by_text("· version 1, pinned")).to_be_visible(timeout=NOTICE_MS),
        "the graph does not say its version is pinned once the campaign runs",
    )
    await bar_drawn_full(page)
    await shoot("2-monitor-running")
    await shoot("2-graph", of=page.locator(".vue-flow"))
    assert page.errors == []
    noticed.judge()


# --- 3. suspend, resume, delete ----------------------------------------------------------------------


async def test_suspend_resume_and_delete_from_the_monitor(
    live_ui: str, page, shoot, noticed: Noticed, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    setup = await made(client, tenant, 20, 2)
    ids = setup["flow"]["id"], setup["group"]["id"], setup["sender"]["id"]
    campaign = await create_campaign(client, tenant, *ids, name="Spring sale")
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    await create_campaign(client, tenant, *ids, name="Winter news", start_at=later)
    await start_and_work(redis_url, campaign)

    await log_in(page, live_ui, tenant, f"/campaigns/{campaign['id']}")
    chip = status_chip(page)
    await expect(chip).to_have_text("Running", timeout=WAIT_MS)
    await expect(kpi(page, "Sent")).to_have_text("18", timeout=WAIT_MS)
    await expect(page.get_by_text("18 of 18 contacts reached")).to_be_visible()
    await bar_drawn_full(page)
    await expect(page.get_by_role("button", name="Delete")).to_have_count(0)  # not while it runs

    await page.get_by_role("button", name="Suspend").click()
    dialog = page.locator(".q-dialog")
    await expect(dialog.get_by_text("Suspend “Spring sale”?")).to_be_visible()
    await settle(page)
    await shoot("3-suspend-dialog", full_page=False)
    await dialog.get_by_role("button", name="Suspend").click()
    await expect(dialog).to_have_count(0)
    await expect(chip).to_have_text("Paused", timeout=WAIT_MS)
    await noticed.check(
        expect(toast(page, "“Spring sale” is paused.")).to_be_visible(timeout=NOTICE_MS),
        "no toast after Suspend",
    )
    await noticed.check(
        expect(page.get_by_text("● Live")).to_be_visible(timeout=NOTICE_MS),
        "the '● Live' sign is gone after Suspend",
    )
    await expect(page.get_by_text("Paused: nothing is sent until it is resumed")).to_be_visible()
    await expect(page.get_by_role("button", name="Resume")).to_be_visible()
    await shoot("3-monitor-paused")

    await page.get_by_role("button", name="Resume").click()
    await expect(dialog.get_by_text("Resume “Spring sale”")).to_be_visible()
    await settle(page)
    await shoot("3-resume-dialog", full_page=False)
    await dialog.get_by_role("button", name="Resume").click()  # at the start it offers
    await expect(dialog).to_have_count(0)
    await expect(chip).to_have_text("Scheduled", timeout=WAIT_MS)
    await noticed.check(
        expect(toast(page, "“Spring sale” is scheduled to resume.")).to_be_visible(timeout=NOTICE_MS),
        "no toast after Resume",
    )
    resumed = (await client.get(f"/api/v1/campaigns/{campaign['id']}", headers=tenant.headers())).json()
    assert resumed["status"] == "scheduled"
    assert datetime.fromisoformat(resumed["start_at"]) > datetime.now(UTC)
    await shoot("3-monitor-resumed")

    await page.get_by_role("button", name="Delete").click()
    await expect(dialog.get_by_text("Delete “Spring sale”?")).to_be_visible()
    await expect(dialog.get_by_text("This cannot be undone.", exact=False)).to_be_visible()
    await settle(page)
    await shoot("3-delete-dialog", full_page=False)
    await dialog.get_by_role("button", name="Delete").click()
    landed = await noticed.check(
        expect(page).to_have_url(re.compile(r"/campaigns$"), timeout=NOTICE_MS),
        "still on the deleted campaign's monitor after Delete",
    )
    if not landed:
        await expect(page.get_by_text("This campaign was deleted")).to_be_visible()
        await shoot("3-monitor-after-delete")
        await icon_button(page, "arrow_back").click()  # the way back a person would take
        await expect(page).to_have_url(re.compile(r"/campaigns$"), timeout=WAIT_MS)
    await expect(page.get_by_role("link", name="Winter news")).to_be_visible(timeout=WAIT_MS)
    await expect(page.get_by_role("link", name="Spring sale")).to_have_count(0)
    await expect(page.get_by_text("1 campaign", exact=True)).to_be_visible()
    await shoot("3-list-after-delete")
    response = await client.get(f"/api/v1/campaigns/{campaign['id']}", headers=tenant.headers())
    assert response.status_code == 404
    assert page.errors == []
    noticed.judge()
