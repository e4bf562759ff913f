"""The flow editor in a real browser: Debian's Chromium, driven by Playwright, against real api and ui processes.

Needs ``/usr/bin/chromium`` (CI installs it; ``playwright install`` cannot download here) and the built
editor bundle (``make install``). Screenshots go to ``test-output/ui/`` for people to look at.

The journey test does what the issue's "done when" asks of a new user, by mouse alone: a flow with a
message, buttons, a branch and a delay, published, reloaded, and walked in the preview.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flows.examples import load_example
from flows.schema import Position, graph_to_builtins
from tests.conftest import Tenant, flowgate_command, free_port, subprocess_env, wait_for_http
from tests.ui.flow_samples import create_flow
from ui.components.flow_editor import BUNDLE

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "ui"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
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


@pytest.fixture
async def browser_page(live_ui: str):
    """A logged-out Chromium page of 1600x1000 that records page errors in ``page.errors``."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1600, "height": 1000})
            page.errors = []
            page.on("pageerror", lambda error: page.errors.append(str(error)))
            yield page
        finally:
            await browser.close()


async def log_in(page, live_ui: str, tenant: Tenant, path: str) -> None:
    await page.goto(f"{live_ui}/login?next={path}")
    await page.get_by_label("Email").fill(tenant.admin_email)
    await page.get_by_label("Password").fill(tenant.admin_password)
    await page.keyboard.press("Enter")


async def drop(page, kind: str, x: float, y: float) -> None:
    """Drag a palette entry onto the canvas, at (x, y) from the canvas' top left corner."""
    await page.locator(f'.fg-palette-item[data-kind="{kind}"]').drag_to(
        page.locator(".vue-flow__pane"), target_position={"x": x, "y": y}
    )


def node(page, node_id: str):
    return page.locator(f'.vue-flow__node[data-id="{node_id}"]')


async def connect(page, source: str, port: str, target: str) -> None:
    """Press on a node's output dot and release over another node's input dot, as a person does."""
    start = (
        await node(page, source).locator(f'.vue-flow__handle.source[data-handleid="{port}"]').bounding_box()
    )
    end = await node(page, target).locator(".vue-flow__handle.target").bounding_box()
    assert start and end, f"no handle for {source}.{port} or {target}"
    await page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=15)
    await page.mouse.up()
    await page.wait_for_timeout(150)


async def test_a_new_user_builds_publishes_and_previews_a_flow_by_mouse(
    live_ui: str, browser_page, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    page = browser_page
    expect = playwright_api.expect
    await log_in(page, live_ui, tenant, "/flows")
    await page.get_by_role("button", name="New flow").first.click()
    await page.get_by_label("Name").fill("Spring offer")
    await page.get_by_role("button", name="Create").click()
    await page.wait_for_selector('.vue-flow__node[data-id="start"]', timeout=15_000)
    await page.wait_for_timeout(300)

    # Four steps from the palette; a new message is marked at once: nothing leads to it yet.
    start = await node(page, "start").bounding_box()
    pane = await page.locator(".vue-flow__pane").bounding_box()
    x0, y0 = start["x"] - pane["x"] + start["width"], start["y"] - pane["y"]
    await drop(page, "send_message", x0 + 160, y0 + 30)
    await expect(node(page, "message-1").locator(".fg-mark")).to_contain_text("No path from the start")
    await drop(page, "branch", x0 + 420, y0 + 260)
    await drop(page, "delay", x0 + 420, y0 - 120)
    await drop(page, "end", x0 + 690, y0 + 60)
    await expect(page.locator(".vue-flow__node")).to_have_count(5)

    # The message's settings: text, two buttons (each becomes a port on the canvas).
    await node(page, "message-1").click()
    await page.get_by_label("Text").fill("Hi {{contact.name}}, spring is here: 20% off this week. Want it?")
    for number, title in ((1, "Yes please"), (2, "No thanks")):
        await page.get_by_role("button", name="Add button").click()
        await page.get_by_label(f"Button {number}").fill(title)
    await expect(node(page, "message-1").locator(".vue-flow__handle.source")).to_have_count(3)
    # The branch's rule: a reply containing "yes".
    await node(page, "branch-1").click()
    await page.get_by_label("Value").fill("yes")

    await connect(page, "start", "next", "message-1")
    await expect(node(page, "message-1").locator(".fg-mark")).not_to_contain_text("No path")
    await connect(page, "message-1", "button:b1", "delay-1")
    await connect(page, "message-1", "button:b2", "end-1")
    await connect(page, "message-1", "next", "branch-1")
    await connect(page, "branch-1", "rule:r1", "delay-1")
    await connect(page, "branch-1", "else", "end-1")
    await connect(page, "delay-1", "next", "end-1")
    assert await page.locator(".vue-flow__edge").count() == 7

    # Every mark clears once the flow is whole; then Publish is offered and names the version.
    await expect(page.locator(".fg-mark")).to_have_count(0, timeout=10_000)
    await expect(page.get_by_role("button", name="No problems")).to_be_visible()
    publish = page.get_by_role("button", name="Publish")
    await expect(publish).to_be_enabled()
    await page.locator(".vue-flow__pane").click(position={"x": 20, "y": 20})  # nothing selected
    await page.get_by_role("button", name="Fit the flow on screen").click()
    await page.wait_for_timeout(400)
    await page.screenshot(path=str(OUTPUT / "journey-built.png"))
    await publish.click()
    await expect(page.get_by_text("Published v1")).to_be_visible()
    await expect(publish).to_be_disabled()  # nothing new to publish until the draft changes

    # A reload shows the same graph: it was saved as it was drawn.
    await page.reload()
    await page.wait_for_selector('.vue-flow__node[data-id="end-1"]', timeout=15_000)
    assert await page.locator(".vue-flow__node").count() == 5
    assert await page.locator(".vue-flow__edge").count() == 7
    flows = (
        await client.get("/api/v1/flows", params={"name": "Spring offer"}, headers=tenant.headers())
    ).json()
    saved = (await client.get(f"/api/v1/flows/{flows['items'][0]['id']}", headers=tenant.headers())).json()
    assert saved["status"] == "published"
    assert {(e["source"], e["source_port"], e["target"]) for e in saved["graph"]["edges"]} >= {
        ("start", "next", "message-1"),
        ("message-1", "button:b1", "delay-1"),
        ("branch-1", "rule:r1", "delay-1"),
    }

    # The preview: the message with its buttons; a tap takes the "Yes" path into the delay; skip it.
    await page.get_by_role("button", name="Preview", exact=True).click()
    await expect(page.get_by_text("Hi Test contact, spring is here")).to_be_visible(timeout=10_000)
    await page.get_by_role("button", name="Yes please").click()
    await expect(node(page, "delay-1").locator(".fg-node")).to_have_class(re.compile("fg-active"))
    await page.get_by_role("button", name=re.compile("Skip")).click()
    await expect(page.get_by_text("Flow finished")).to_be_visible()
    await expect(page.locator(".vue-flow__edge.fg-path")).to_have_count(3)  # start → message → delay → end
    await page.screenshot(path=str(OUTPUT / "journey-preview.png"))
    assert page.errors == []


async def test_edges_keys_and_the_variable_picker_work_in_the_browser(
    live_ui: str, browser_page, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    page = browser_page
    expect = playwright_api.expect
    flow = await create_flow(client, tenant)

    async def saved() -> dict:
        return (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).json()["graph"]

    async def eventually(check, attempts: int = 100) -> None:
        for _ in range(attempts):
            if check(await saved()):
                return
            await page.wait_for_timeout(100)
        raise AssertionError("the draft never reached the expected state")

    await log_in(page, live_ui, tenant, f"/flows/{flow['id']}")
    await page.wait_for_selector(".vue-flow__edge", timeout=15_000)

    # Click an edge, then its disconnect button: gone from the canvas and the draft.
    await page.locator('.vue-flow__edge[data-id="e2"]').click()
    await page.get_by_role("button", name="Disconnect these steps").click()
    await expect(page.locator(".vue-flow__edge")).to_have_count(1)
    await eventually(lambda graph: [edge["id"] for edge in graph["edges"]] == ["e1"])
    # Ctrl+Z on the canvas brings it back.
    await page.locator(".vue-flow__pane").click(position={"x": 30, "y": 30})
    await page.keyboard.press("Control+z")
    await expect(page.locator(".vue-flow__edge")).to_have_count(2)
    await eventually(lambda graph: len(graph["edges"]) == 2)

    # Copy a step, paste it under the pointer, delete the copy with the Delete key.
    await node(page, "done").click()
    await page.keyboard.press("Control+c")
    pane = await page.locator(".vue-flow__pane").bounding_box()
    await page.mouse.move(pane["x"] + 120, pane["y"] + pane["height"] - 120)
    await page.keyboard.press("Control+v")
    await expect(node(page, "end-1")).to_be_visible()
    await eventually(lambda graph: "end-1" in {n["id"] for n in graph["nodes"]})
    await page.keyboard.press("Delete")
    await expect(node(page, "end-1")).to_have_count(0)
    await eventually(lambda graph: "end-1" not in {n["id"] for n in graph["nodes"]})

    # The variable picker puts the variable where the caret is, not at the end.
    await node(page, "welcome").click()
    text = page.get_by_label("Text")
    await text.fill("Hi , want our news?")
    await text.click()
    await page.keyboard.press("Home")
    for _ in range(3):
        await page.keyboard.press("ArrowRight")
    await page.get_by_role("button", name="Insert a variable").click()
    await page.get_by_text("contact.name", exact=True).click()
    await expect(text).to_have_value("Hi {{contact.name}}, want our news?")
    await eventually(lambda graph: graph["nodes"][1]["text"] == "Hi {{contact.name}}, want our news?")
    await page.screenshot(path=str(OUTPUT / "flow-editor-settings.png"))
    assert page.errors == []


async def test_tidy_up_lays_an_example_out_without_overlaps_in_one_undo_step(
    live_ui: str, browser_page, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    page = browser_page
    expect = playwright_api.expect
    crowded = load_example("promotion_follow_up")
    for index, step in enumerate(crowded.nodes):  # everything piled into two columns
        step.position = Position(x=(index % 2) * 120.0, y=(index // 2) * 40.0)
    created = await client.post(
        "/api/v1/flows",
        json={"name": "Crowded", "graph": graph_to_builtins(crowded)},
        headers=tenant.headers(),
    )
    flow = created.json()

    async def positions() -> dict[str, tuple[float, float]]:
        graph = (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).json()["graph"]
        return {n["id"]: (n["position"]["x"], n["position"]["y"]) for n in graph["nodes"]}

    before = await positions()
    await log_in(page, live_ui, tenant, f"/flows/{flow['id']}")
    await page.wait_for_selector(".vue-flow__node", timeout=15_000)
    await page.get_by_role("button", name="Tidy up the layout").click()
    await expect(page.get_by_text("Saved", exact=True)).to_be_visible()
    await page.wait_for_timeout(1200)  # the save after the pause

    boxes = [await box.bounding_box() for box in await page.locator(".vue-flow__node").all()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = (
                a["x"] + a["width"] <= b["x"]
                or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"]
                or b["y"] + b["height"] <= a["y"]
            )
            assert apart, f"two steps overlap after tidying: {a} {b}"
    tidied = await positions()
    assert tidied != before
    await page.screenshot(path=str(OUTPUT / "flow-editor-tidied.png"))

    await page.keyboard.press("Control+z")
    for _ in range(50):
        if await positions() == before:
            break
        await page.wait_for_timeout(100)
    assert await positions() == before
    assert page.errors == []


# --- issue 12: the flow builder's rough edges, where only a browser can show them -------------------


def _inside(box: dict, width: int, height: int) -> bool:
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width
        and box["y"] + box["height"] <= height
    )


async def test_the_conflict_banner_leaves_the_zoom_controls_in_view(
    live_ui: str, browser_page, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    page = browser_page
    expect = playwright_api.expect
    flow = await create_flow(client, tenant)
    await log_in(page, live_ui, tenant, f"/flows/{flow['id']}")
    await page.wait_for_selector('.vue-flow__node[data-id="done"]', timeout=15_000)
    # Another tab saves first; then a drag here cannot be saved.
    other = await client.put(
        f"/api/v1/flows/{flow['id']}",
        json={"name": "Renamed elsewhere", "revision": 1},
        headers=tenant.headers(),
    )
    assert other.status_code == 200
    box = await node(page, "done").bounding_box()
    await page.mouse.move(box["x"] + 60, box["y"] + 20)
    await page.mouse.down()
    await page.mouse.move(box["x"] + 140, box["y"] + 60, steps=8)
    await page.mouse.up()

    await expect(page.get_by_role("button", name="Reload")).to_be_visible(timeout=10_000)
    viewport = page.viewport_size
    for selector in (".vue-flow__controls", ".vue-flow__minimap"):
        placed = await page.locator(selector).bounding_box()
        assert placed and _inside(placed, viewport["width"], viewport["height"]), (selector, placed, viewport)
    # The page itself does not scroll: the canvas shrank by the banner's height instead.
    assert await page.evaluate("document.scrollingElement.scrollHeight <= window.innerHeight + 1")
    await page.screenshot(path=str(OUTPUT / "flow-editor-conflict.png"))
    assert page.errors == []


async def test_palette_clicks_place_steps_apart_and_the_preview_tab_starts_itself(
    live_ui: str, browser_page, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    page = browser_page
    expect = playwright_api.expect
    flow = await create_flow(client, tenant)
    await log_in(page, live_ui, tenant, f"/flows/{flow['id']}")
    await page.wait_for_selector('.vue-flow__node[data-id="done"]', timeout=15_000)
    await page.wait_for_timeout(300)

    for kind in ("end", "end", "send_message", "delay"):
        await page.locator(f'.fg-palette-item[data-kind="{kind}"]').click()
        await page.wait_for_timeout(250)
    await expect(page.locator(".vue-flow__node")).to_have_count(8)
    boxes = [await box.bounding_box() for box in await page.locator(".vue-flow__node").all()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = (
                a["x"] + a["width"] <= b["x"]
                or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"]
                or b["y"] + b["height"] <= a["y"]
            )
            assert apart, f"two steps overlap after palette clicks: {a} {b}"
    await page.screenshot(path=str(OUTPUT / "flow-editor-palette-clicks.png"))

    # Never published: the Preview tab says so instead of staying blank.
    await page.get_by_role("tab", name="Preview").click()
    await expect(page.get_by_text("Not published yet")).to_be_visible()
    await expect(page.get_by_text(re.compile(r"First fix the \d+ problems"))).to_be_visible()
    await expect(page.get_by_role("button", name="Publish and preview")).to_be_disabled()
    await page.screenshot(path=str(OUTPUT / "flow-editor-preview-unpublished.png"))
    assert page.errors == []


async def test_a_nine_step_example_fits_readably_and_consent_steps_have_their_own_colours(
    live_ui: str, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    created = await client.post(
        "/api/v1/flows",
        json={"name": "Nine steps", "graph": graph_to_builtins(load_example("welcome_opt_in"))},
        headers=tenant.headers(),
    )
    flow = created.json()
    assert (
        await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    ).status_code == 201
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            # A laptop screen: the whole flow fitted would be drawn at about a third of its size.
            page = await browser.new_page(viewport={"width": 1280, "height": 760})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await log_in(page, live_ui, tenant, f"/flows/{flow['id']}")
            await page.wait_for_selector('.vue-flow__node[data-id="no_answer"]', timeout=15_000)
            await page.get_by_role("button", name="Fit the flow on screen").click()
            await page.wait_for_timeout(500)
            zoom = await page.locator(".vue-flow__viewport").evaluate(
                "element => new DOMMatrixReadOnly(getComputedStyle(element).transform).a"
            )
            assert zoom >= 0.6 - 1e-6, f"fitted at {zoom:.2f}: text would be unreadably small"
            label = (
                await node(page, "welcome")
                .locator(".fg-node-summary")
                .evaluate("element => parseFloat(getComputedStyle(element).fontSize)")
            )
            assert label * zoom >= 7.5
            tones = {
                step: await node(page, step)
                .locator(".fg-node")
                .evaluate("element => getComputedStyle(element).borderTopColor")
                for step in ("opt_in", "opt_out")
            }
            assert tones["opt_out"] == "rgb(239, 68, 68)"  # alarm red
            assert tones["opt_in"] == "rgb(22, 163, 74)"  # a positive green
            await page.screenshot(path=str(OUTPUT / "flow-editor-nine-steps.png"))

            # Published and unchanged: the panel says so, and the Preview tab walks v1 by itself.
            await expect_text(page, "Published as version 1 and up to date")
            await page.get_by_role("tab", name="Preview").click()
            await expect_text(page, "Welcome")
            await page.wait_for_selector(".fg-active", timeout=10_000)
            await page.screenshot(path=str(OUTPUT / "flow-editor-preview-tab.png"))
            assert errors == []
        finally:
            await browser.close()


async def expect_text(page, text: str) -> None:
    await playwright_api.expect(page.get_by_text(text).first).to_be_visible(timeout=10_000)


async def test_an_unknown_address_shows_a_page_inside_the_app_with_a_way_back(
    live_ui: str, browser_page, tenant: Tenant
) -> None:
    page = browser_page
    expect = playwright_api.expect
    response = await page.goto(f"{live_ui}/no/such/page")
    assert response is not None and response.status == 404
    await expect(page.get_by_text("Page not found")).to_be_visible()
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await page.screenshot(path=str(OUTPUT / "not-found-signed-out.png"))

    await log_in(page, live_ui, tenant, "/flows")
    await page.wait_for_url(f"{live_ui}/flows", timeout=15_000)
    response = await page.goto(f"{live_ui}/flows/1/nowhere")
    assert response is not None and response.status == 404
    await expect(page.get_by_text("Page not found")).to_be_visible()
    await expect(page.get_by_text("Acme")).to_be_visible()  # inside the app: its header and navigation
    await page.screenshot(path=str(OUTPUT / "not-found.png"))
    await page.get_by_role("button", name="Go to Flows").click()
    await page.wait_for_url(f"{live_ui}/flows", timeout=10_000)
    assert page.errors == []
