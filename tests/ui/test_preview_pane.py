"""The preview simulator: a marketer walks a published flow as a test contact, against the real API.

Most tests use the standalone page ``/flows/{id}/preview``; the editor's hook (``on_progress``) and the
close button are checked on a tiny page that embeds the component the way the editor will.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from nicegui import ui
from nicegui.testing.user import User
from nicegui.testing.user_interaction import UserInteraction

from tests.conftest import Tenant
from tests.fakes.crm import lookup_graph, serve_crm
from tests.ui.conftest import log_in_and_wait, only, see

# start -> offer (two buttons). Yes: tag, code, a one-hour delay, a nudge, end. No: wait for a typed
# reply and thank for it. No tap within two hours: the offer falls through to its end.
PROMO: dict[str, Any] = {
    "format_version": 1,
    "nodes": [
        {"kind": "start", "id": "start"},
        {
            "kind": "send_message",
            "id": "offer",
            "text": 'Hi {{contact.name}}!\nYour plan: {{contact.plan | "none"}}. Want 20% off?',
            "buttons": [{"id": "yes", "title": "Yes please"}, {"id": "no", "title": "No thanks"}],
            "reply_timeout": 7200,
        },
        {"kind": "add_tag", "id": "tag", "tag": "wants-offer"},
        {
            "kind": "send_message",
            "id": "code",
            "text": "Your code is SAVE20",
            "message_kind": "transactional",
        },
        {"kind": "delay", "id": "later", "label": "Wait an hour", "seconds": 3600},
        {"kind": "send_message", "id": "nudge", "text": "Did you use it?"},
        {"kind": "wait_for_reply", "id": "ask", "timeout": 3600, "save_as": "reason"},
        {"kind": "send_message", "id": "bye", "text": "Thanks for telling us: {{vars.reason}}"},
        {"kind": "end", "id": "end"},
    ],
    "edges": [
        {"source": "start", "target": "offer"},
        {"source": "offer", "source_port": "button:yes", "target": "tag"},
        {"source": "offer", "source_port": "button:no", "target": "ask"},
        {"source": "offer", "target": "end"},
        {"source": "tag", "target": "code"},
        {"source": "code", "target": "later"},
        {"source": "later", "target": "nudge"},
        {"source": "nudge", "target": "end"},
        {"source": "ask", "source_port": "reply", "target": "bye"},
        {"source": "ask", "source_port": "timeout", "target": "end"},
        {"source": "bye", "target": "end"},
    ],
}


async def create_flow(client: httpx.AsyncClient, tenant: Tenant, graph: dict[str, Any] = PROMO) -> dict:
    response = await client.post(
        "/api/v1/flows", json={"name": "Summer promo", "graph": graph}, headers=tenant.headers()
    )
    assert response.status_code == 201, response.text
    return response.json()


async def publish(client: httpx.AsyncClient, tenant: Tenant, flow_id: int) -> int:
    response = await client.post(f"/api/v1/flows/{flow_id}/publish", headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()["version"]


async def published_flow(client: httpx.AsyncClient, tenant: Tenant) -> int:
    flow = await create_flow(client, tenant)
    await publish(client, tenant, flow["id"])
    return flow["id"]


async def open_preview(user: User, tenant: Tenant, flow_id: int, query: str = "") -> None:
    await log_in_and_wait(
        user, tenant.admin_email, tenant.admin_password, path=f"/login?next=/flows/{flow_id}/preview{query}"
    )
    await see(user, marker="preview-pane")


def bubbles(user: User, direction: str) -> list[str]:
    """The texts of the chat's ``out``/``in``/``note`` bubbles, top to bottom."""
    found = sorted(user.find(marker=f"bubble-{direction}").elements, key=lambda element: element.id)
    if direction == "note":
        return [element.text for element in found]  # type: ignore[attr-defined]
    return [
        " ".join(child.text for child in element.descendants() if "bubble-text" in child._markers)  # type: ignore[attr-defined]
        for element in found
    ]


def buttons(user: User) -> list[tuple[str, bool]]:
    """Every quick-reply button in the chat with whether it can be tapped."""
    found = sorted(user.find(marker="preview-button").elements, key=lambda element: element.id)
    return [(element.text, element.enabled) for element in found]  # type: ignore[attr-defined]


async def test_the_first_message_and_its_buttons_appear(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow_id = await published_flow(client, tenant)
    await open_preview(user, tenant, flow_id)

    await see(user, marker="bubble-text", content="Hi Test contact!")
    assert bubbles(user, "out") == ["Hi Test contact!\nYour plan: none. Want 20% off?"]
    assert buttons(user) == [("Yes please", True), ("No thanks", True)]
    await see(user, marker="preview-title", content="Summer promo · v1")
    await see(user, marker="preview-contact-name", content="Test contact")
    assert only(user, marker="preview-version").value == 1
    # A tap or a typed reply both answer the offer; its two-hour timeout can be skipped.
    assert only(user, marker="preview-reply").enabled
    await see(user, marker="preview-skip-wait", content="Times out in 2 h")
    await user.should_not_see(marker="preview-status")
    await see(user, marker="nav-flows")


async def test_tapping_a_button_shows_the_reply_then_skip_wait_moves_past_the_delay(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow_id = await published_flow(client, tenant)
    await open_preview(user, tenant, flow_id)
    await see(user, marker="preview-button", content="Yes please")

    user.find(marker="preview-button", content="Yes please").click()

    await see(user, marker="bubble-text", content="Your code is SAVE20")
    assert bubbles(user, "in") == ["Yes please"]
    assert bubbles(user, "note") == ["Tagged the contact 'wants-offer'."]
    await see(user, marker="bubble-caption", content="Transactional")
    # The run moved on: the offer's buttons are history now, and a delay takes no replies.
    assert buttons(user) == [("Yes please", False), ("No thanks", False)]
    assert not only(user, marker="preview-reply").enabled
    await see(user, marker="preview-skip-wait", content="Waiting 1 h — Skip")

    user.find(marker="preview-skip-wait").click()

    await see(user, marker="bubble-text", content="Did you use it?")
    await see(user, marker="preview-status", content="Flow finished")
    await user.should_not_see(marker="preview-skip-wait")
    assert bubbles(user, "note")[1] == "Skipped the wait at “Wait an hour”."


async def test_a_typed_reply_is_sent_with_enter(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow_id = await published_flow(client, tenant)
    await open_preview(user, tenant, flow_id)
    await see(user, marker="preview-button", content="No thanks")
    user.find(marker="preview-button", content="No thanks").click()
    await see(user, marker="bubble-in")  # drawn from the API's answer: the run now waits for a reply
    assert only(user, marker="preview-reply").enabled
    user.find(marker="preview-reply").type("Too expensive\nfor me").trigger("keydown.enter")

    await see(user, marker="bubble-text", content="Thanks for telling us: Too expensive")
    assert bubbles(user, "in") == ["No thanks", "Too expensive\nfor me"]
    assert only(user, marker="preview-reply").value == ""
    await see(user, marker="preview-status", content="Flow finished")


async def test_restart_starts_over(user: User, tenant: Tenant, client: httpx.AsyncClient) -> None:
    flow_id = await published_flow(client, tenant)
    await open_preview(user, tenant, flow_id)
    await see(user, marker="preview-button", content="Yes please")
    user.find(marker="preview-button", content="Yes please").click()
    await see(user, marker="bubble-text", content="Your code is SAVE20")

    user.find(marker="preview-restart").click()

    await user.should_not_see(marker="bubble-in", retries=100)
    assert bubbles(user, "out") == ["Hi Test contact!\nYour plan: none. Want 20% off?"]
    assert buttons(user) == [("Yes please", True), ("No thanks", True)]


async def test_the_test_contact_and_its_attributes_fill_the_message(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow_id = await published_flow(client, tenant)
    await open_preview(user, tenant, flow_id)
    await see(user, marker="bubble-out")

    only(user, marker="contact-name").value = "Ana Lima"
    user.find(marker="preview-add-attribute").click()
    user.find(marker="attribute-key").type("plan")
    user.find(marker="attribute-value").type("gold")
    # An empty row is ignored; a removed row is not sent.
    user.find(marker="preview-add-attribute").click()
    user.find(marker="preview-add-attribute").click()
    rows = sorted(user.find(marker="attribute-key").elements, key=lambda element: element.id)
    rows[2].value = "plan"
    removers = sorted(user.find(marker="preview-remove-attribute").elements, key=lambda element: element.id)
    UserInteraction(user, {removers[2]}, None).click()
    assert len(user.find(marker="attribute-key").elements) == 2
    user.find(marker="preview-contact-apply").click()

    await see(user, marker="bubble-text", content="Hi Ana Lima!\nYour plan: gold.")
    await see(user, marker="preview-contact-name", content="Ana Lima")
    await see(user, marker="preview-title", content="v1")


async def test_a_bad_time_zone_is_shown_at_its_field(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow_id = await published_flow(client, tenant)
    await open_preview(user, tenant, flow_id)
    await see(user, marker="bubble-out")

    only(user, marker="contact-timezone").value = "Mars/Olympus"
    user.find(marker="preview-restart").click()

    await see(user, marker="preview-notice", content="Check the test contact")
    timezone = only(user, marker="contact-timezone")
    assert timezone.error is not None
    assert "IANA" in timezone.error
    assert only(user, marker="preview-contact").value is True  # opened to show the field

    timezone.value = "Europe/Lisbon"
    user.find(marker="preview-restart").click()
    await see(user, marker="bubble-out")
    assert only(user, marker="contact-timezone").error is None


async def test_the_version_comes_from_the_query_and_the_picker(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    await publish(client, tenant, flow["id"])
    changed = {**PROMO, "nodes": [dict(node) for node in PROMO["nodes"]]}
    changed["nodes"][1]["text"] = "Hello again {{contact.name}}"
    draft = (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).json()
    saved = await client.put(
        f"/api/v1/flows/{flow['id']}",
        json={"graph": changed, "revision": draft["revision"]},
        headers=tenant.headers(),
    )
    assert saved.status_code == 200, saved.text
    assert await publish(client, tenant, flow["id"]) == 2

    await open_preview(user, tenant, flow["id"], "?version=1")
    await see(user, marker="bubble-text", content="Hi Test contact!")
    picker = only(user, marker="preview-version")
    assert picker.value == 1
    assert picker.options == {2: "v2 (latest)", 1: "v1"}

    picker.value = 2

    await see(user, marker="bubble-text", content="Hello again Test contact")
    await see(user, marker="preview-title", content="v2")
    assert len(bubbles(user, "out")) == 1


async def test_an_unpublished_flow_asks_to_publish_first(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    await open_preview(user, tenant, flow["id"])

    await see(user, marker="preview-notice", content="Publish the flow to preview it")
    assert not only(user, marker="preview-reply").enabled
    await user.should_not_see(marker="preview-bubble")

    # Published meanwhile: Restart picks it up.
    await publish(client, tenant, flow["id"])
    user.find(marker="preview-restart").click()
    await see(user, marker="bubble-text", content="Hi Test contact!")


async def test_an_unknown_flow_says_so(user: User, tenant: Tenant) -> None:
    await open_preview(user, tenant, 999_999)
    await see(user, marker="preview-notice", content="Preview not available")
    await see(user, "There is no such flow in this workspace.")
    await see(user, marker="preview-back")


async def test_the_embedding_page_hears_the_active_node_and_the_path(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    """The editor's use: highlight the node the run is at and draw its path; clear both on close."""
    from ui.components.preview_pane import PreviewPane
    from ui.session import Session

    flow_id = await published_flow(client, tenant)
    progress: list[tuple[str | None, list[str]]] = []
    closed: list[bool] = []

    async def on_progress(active: str | None, path: list[str]) -> None:
        progress.append((active, path))

    @ui.page("/embedded-preview")
    async def embedded() -> None:
        session = Session(tenant.keys["viewer"], "viewer@example.com", "Viewer", "viewer", "Acme")
        pane = PreviewPane(session, flow_id, on_progress=on_progress, on_close=lambda: closed.append(True))
        await pane.start()

    await user.open("/embedded-preview")
    await see(user, marker="bubble-out")
    assert progress == [(None, []), ("offer", ["start", "offer"])]

    user.find(marker="preview-button", content="Yes please").click()
    await see(user, marker="bubble-text", content="Your code is SAVE20")
    assert progress[-1] == ("later", ["start", "offer", "tag", "code", "later"])

    user.find(marker="preview-close").click()
    for _ in range(100):  # the click's handler runs as a task of its own
        if closed:
            break
        await asyncio.sleep(0.05)
    assert closed == [True]
    assert progress[-1] == (None, [])


def test_waits_read_as_people_say_them_and_only_web_links_are_links() -> None:
    from ui.components.preview_pane import format_duration, is_web_link

    assert [format_duration(s) for s in (45, 300, 3600, 5400, 86_400, 97_200, 172_800)] == [
        "45 s",
        "5 min",
        "1 h",
        "1 h 30 min",
        "1 day",
        "1 day 3 h",
        "2 days",
    ]
    assert is_web_link("https://example.com/a.jpg")
    assert not is_web_link("javascript:alert(1)")


@pytest.fixture
def slow_crm() -> Iterator[str]:
    """The CRM taking 6 s to answer: longer than the UI's usual patience with the API."""
    with serve_crm(delay=6) as url:
        yield url


async def test_a_slow_http_step_is_waited_for_like_the_flow_would(
    user: User, tenant: Tenant, client: httpx.AsyncClient, slow_crm: str
) -> None:
    await client.patch("/api/v1/settings", json={"allow_private_urls": True}, headers=tenant.headers())
    flow = await create_flow(client, tenant, lookup_graph(slow_crm))
    await publish(client, tenant, flow["id"])
    await open_preview(user, tenant, flow["id"])
    await user.should_see("You are gold", retries=150)
    await user.should_not_see("did not answer")
