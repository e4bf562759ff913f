"""The flow editor page: the draft drawn on the canvas, and canvas edits saved back through the API.

Canvas events are injected as the browser component would emit them (``User`` has no browser); the
real drawing is covered by ``test_flow_editor_browser.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
from nicegui.testing.user import User

from tests.conftest import Tenant
from tests.ui.conftest import log_in_and_wait, only, see
from tests.ui.flow_samples import create_flow, create_valid_flow
from ui.components.flow_editor import FlowEditor


async def eventually(check: Callable[[], Awaitable[bool]], attempts: int = 100) -> None:
    for _ in range(attempts):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the expected state was never reached")


async def open_editor(user: User, tenant: Tenant, flow_id: int, email: str = "", password: str = "") -> None:
    await log_in_and_wait(
        user,
        email or tenant.admin_email,
        password or tenant.admin_password,
        path=f"/login?next=/flows/{flow_id}",
    )
    await see(user, marker="flow-editor")


async def test_the_draft_is_drawn_with_typed_ports_and_its_edges(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    await open_editor(user, tenant, flow["id"])

    await see(user, marker="flow-name", content="Welcome series")
    await see(user, marker="flow-status", content="Draft")
    editor = only(user, marker="flow-editor")
    nodes = {node["id"]: node for node in editor.props["nodes"]}
    assert [(node["id"], node["type"]) for node in editor.props["nodes"]] == [
        ("start", "start"),
        ("welcome", "send_message"),
        ("ask", "wait_for_reply"),
        ("done", "end"),
    ]
    # One handle per port the interpreter knows, labelled for people; start has no input.
    assert nodes["welcome"]["data"]["ports"] == [
        {"id": "next", "label": "Next", "ended": False},
        {"id": "button:yes", "label": "Yes please", "ended": False},
        {"id": "button:no", "label": "No thanks", "ended": False},
    ]
    assert [port["id"] for port in nodes["ask"]["data"]["ports"]] == ["reply", "timeout"]
    assert nodes["done"]["data"]["ports"] == []
    assert nodes["start"]["data"]["target"] is False
    assert nodes["done"]["data"]["target"] is True
    assert nodes["welcome"]["position"] == {"x": 280, "y": 40}
    # Message text goes to the canvas as plain text for Vue to escape, markup and all.
    assert nodes["welcome"]["data"]["summary"] == "Hi {{contact.first_name}} <b>not bold</b>, want our news?"
    assert editor.props["edges"] == [
        {"id": "e1", "source": "start", "sourceHandle": "next", "target": "welcome", "targetHandle": "in"},
        {
            "id": "e2",
            "source": "welcome",
            "sourceHandle": "button:yes",
            "target": "ask",
            "targetHandle": "in",
        },
    ]
    assert editor.props["readonly"] is False


async def test_a_connection_on_the_canvas_is_saved_in_the_draft(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    await open_editor(user, tenant, flow["id"])
    editor = user.find(marker="flow-editor")

    editor.trigger(
        "edgeConnected",
        {"id": "e-welcome-button:no-done", "source": "welcome", "source_port": "button:no", "target": "done"},
    )

    async def saved() -> bool:
        draft = (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).json()
        return {"source": "welcome", "source_port": "button:no", "target": "done"} in [
            {key: edge[key] for key in ("source", "source_port", "target")}
            for edge in draft["graph"]["edges"]
        ]

    await eventually(saved)
    await see(user, marker="save-state", content="Saved")
    assert only(user, marker="flow-editor").props["edges"][-1]["sourceHandle"] == "button:no"

    # Moving a node and connecting an already used port (it replaces that port's edge) save too.
    editor.trigger("nodesMoved", [{"id": "ask", "x": 700, "y": -20}])
    editor.trigger(
        "edgeConnected", {"id": "", "source": "welcome", "source_port": "button:yes", "target": "done"}
    )

    async def moved_and_replaced() -> bool:
        draft = (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).json()["graph"]
        ask = next(node for node in draft["nodes"] if node["id"] == "ask")
        yes_targets = [edge["target"] for edge in draft["edges"] if edge["source_port"] == "button:yes"]
        return ask["position"] == {"x": 700.0, "y": -20.0} and yes_targets == ["done"]

    await eventually(moved_and_replaced)


async def test_deleting_a_node_drops_its_edges_from_the_draft(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    await open_editor(user, tenant, flow["id"])

    user.find(marker="flow-editor").trigger("nodesDeleted", {"ids": ["ask"]})

    async def deleted() -> bool:
        draft = (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).json()["graph"]
        return [node["id"] for node in draft["nodes"]] == ["start", "welcome", "done"] and [
            edge["id"] for edge in draft["edges"]
        ] == ["e1"]

    await eventually(deleted)


async def test_a_draft_saved_elsewhere_is_not_overwritten(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    await open_editor(user, tenant, flow["id"])
    # Another tab saves first.
    other = await client.put(
        f"/api/v1/flows/{flow['id']}",
        json={"name": "Renamed elsewhere", "revision": flow["revision"]},
        headers=tenant.headers(),
    )
    assert other.status_code == 200, other.text

    user.find(marker="flow-editor").trigger("nodesMoved", [{"id": "done", "x": 10, "y": 10}])

    await see(user, marker="save-state", content="changed elsewhere")
    await see(user, marker="conflict-banner")
    await see(user, marker="reload-flow")
    assert only(user, marker="flow-editor").props["readonly"] is True
    draft = (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).json()
    done = next(node for node in draft["graph"]["nodes"] if node["id"] == "done")
    assert done["position"] == {"x": 620.0, "y": 240.0}


async def test_viewers_get_a_read_only_canvas(
    user: User, tenant: Tenant, client: httpx.AsyncClient, add_user
) -> None:
    flow = await create_flow(client, tenant)
    email, password = await add_user(tenant, "viewer")
    await open_editor(user, tenant, flow["id"], email, password)
    await see(user, marker="read-only")
    assert only(user, marker="flow-editor").props["readonly"] is True
    assert only(user, marker="nav-active") is only(user, marker="nav-flows")


async def test_an_unknown_flow_says_so(user: User, tenant: Tenant) -> None:
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password, path="/login?next=/flows/999999")
    await see(user, marker="flow-missing")
    await see(user, "There is no such flow in this workspace.")


async def saved_graph(client: httpx.AsyncClient, tenant: Tenant, flow_id: int) -> dict:
    return (await client.get(f"/api/v1/flows/{flow_id}", headers=tenant.headers())).json()["graph"]


def canvas(user: User) -> FlowEditor:
    return only(user, marker="flow-editor")


async def test_a_step_from_the_palette_is_added_selected_and_saved(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    await open_editor(user, tenant, flow["id"])
    assert [kind["kind"] for kind in canvas(user).props["kinds"]][:3] == [
        "start",
        "send_message",
        "wait_for_reply",
    ]

    user.find(marker="flow-editor").trigger("nodeAdd", {"kind": "delay", "x": 40, "y": 400})

    await see(user, marker="settings-kind", content="Delay")
    shape = next(node for node in canvas(user).props["nodes"] if node["id"] == "delay-1")
    assert shape["selected"] is True and shape["position"] == {"x": 40, "y": 400}

    async def stored() -> bool:
        nodes = (await saved_graph(client, tenant, flow["id"]))["nodes"]
        return {"kind": "delay", "id": "delay-1", "seconds": 3600} in [
            {key: node.get(key) for key in ("kind", "id", "seconds")} for node in nodes
        ]

    await eventually(stored)
    # Validation marks it at once: nothing leads to the new step yet.
    await eventually(lambda: _true(canvas(user).props["marks"].get("delay-1", "").startswith("No path")))


async def _true(value: bool) -> bool:
    return value


async def test_settings_typed_in_the_panel_reach_the_canvas_the_draft_and_the_marks(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    await open_editor(user, tenant, flow["id"])
    editor = user.find(marker="flow-editor")
    editor.trigger("selectionChanged", {"ids": ["welcome"]})
    await see(user, marker="settings-kind", content="Send message")
    # The sample's text names {{contact.first_name}}, which nothing defines: shown under the text field,
    # and counted in the node's mark (whose first problem is the open Next port).
    await eventually(
        lambda: _true("first_name" in only(user, marker="message-text").props.get("error-message", ""))
    )
    assert canvas(user).props["marks"]["welcome"].endswith("(+1 more)")

    user.find(marker="message-text").clear().type("Hello {{contact.name}}, fancy a coffee?")
    await see(user, marker="message-counter", content="39 characters · SMS 1 segment (GSM-7)")
    assert canvas(user).props["nodes"][1]["data"]["summary"] == "Hello {{contact.name}}, fancy a coffee?"

    async def saved_and_clean() -> bool:
        welcome = (await saved_graph(client, tenant, flow["id"]))["nodes"][1]
        text_field = only(user, marker="message-text")
        return (
            welcome["text"] == "Hello {{contact.name}}, fancy a coffee?"
            and not text_field.props.get("error")
            and canvas(user).props["marks"]["welcome"].startswith('The "next" output is not connected')
        )

    await eventually(saved_and_clean)

    # A third button becomes a third button port on the canvas; a fourth cannot be added.
    user.find(marker="add-button").click()
    await eventually(lambda: _true(len(canvas(user).props["nodes"][1]["data"]["ports"]) == 4))
    await see(user, marker="button-title")
    await user.should_not_see(marker="add-button", retries=20)


async def test_removing_a_button_in_the_panel_removes_its_connection(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    await open_editor(user, tenant, flow["id"])
    user.find(marker="flow-editor").trigger("selectionChanged", {"ids": ["welcome"]})
    await see(user, marker="remove-button")
    user.find(marker="remove-button").click()  # "Yes please", whose port led to "ask"

    async def gone() -> bool:
        graph = await saved_graph(client, tenant, flow["id"])
        return [b["title"] for b in graph["nodes"][1]["buttons"]] == ["No thanks"] and [
            edge["target"] for edge in graph["edges"]
        ] == ["welcome"]

    await eventually(gone)
    assert [edge["id"] for edge in canvas(user).props["edges"]] == ["e1"]


async def test_undo_and_redo_from_the_keyboard_and_the_toolbar(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    await open_editor(user, tenant, flow["id"])
    editor = user.find(marker="flow-editor")
    editor.trigger("nodesDeleted", {"ids": ["ask"]})
    await eventually(lambda: _true("ask" not in {node["id"] for node in canvas(user).props["nodes"]}))

    editor.trigger("shortcut", {"action": "undo", "x": 0, "y": 0})
    await eventually(lambda: _true("ask" in {node["id"] for node in canvas(user).props["nodes"]}))

    async def restored() -> bool:
        graph = await saved_graph(client, tenant, flow["id"])
        return "ask" in {node["id"] for node in graph["nodes"]} and len(graph["edges"]) == 2

    await eventually(restored)
    user.find(marker="redo").click()
    await eventually(lambda: _true("ask" not in {node["id"] for node in canvas(user).props["nodes"]}))


async def test_copied_steps_paste_with_new_ids_where_the_pointer_is(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    await open_editor(user, tenant, flow["id"])
    editor = user.find(marker="flow-editor")
    editor.trigger("selectionChanged", {"ids": ["welcome", "ask"]})
    await see(user, marker="selection-settings")
    await see(user, "2 steps selected")
    editor.trigger("shortcut", {"action": "copy"})
    editor.trigger("shortcut", {"action": "paste", "x": 900, "y": 300})

    async def pasted() -> bool:
        graph = await saved_graph(client, tenant, flow["id"])
        copies = {node["id"]: node for node in graph["nodes"] if node["id"] in ("message-1", "wait-1")}
        return (
            len(copies) == 2
            and copies["message-1"]["position"] == {"x": 900.0, "y": 340.0}
            and {"source": "message-1", "source_port": "button:yes", "target": "wait-1"}
            in [{k: e[k] for k in ("source", "source_port", "target")} for e in graph["edges"]]
        )

    await eventually(pasted)
    assert [node["id"] for node in canvas(user).props["nodes"] if node["selected"]] == ["message-1", "wait-1"]


async def test_publish_is_offered_once_valid_and_names_the_new_version(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_valid_flow(client, tenant)
    await open_editor(user, tenant, flow["id"])
    await see(user, marker="problems-chip", content="No problems")
    await eventually(lambda: _true(only(user, marker="publish").enabled))

    user.find(marker="publish").click()
    await see(user, "Published as version 1")
    await see(user, marker="flow-status", content="Published v1")

    # An edit puts the draft ahead of v1; an edit that breaks it disables Publish.
    user.find(marker="flow-editor").trigger("edgesRemoved", {"ids": ["e2"]})
    await see(user, marker="flow-status", content="Draft ahead of v1")
    await see(user, marker="problems-chip", content="2 problems")
    assert not only(user, marker="publish").enabled


async def test_a_published_version_opens_read_only_and_can_be_restored_as_the_draft(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_valid_flow(client, tenant)
    published = await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    assert published.status_code == 201
    changed = await client.put(
        f"/api/v1/flows/{flow['id']}",
        json={"graph": {"nodes": [{"kind": "start", "id": "start"}]}, "revision": flow["revision"]},
        headers=tenant.headers(),
    )
    assert changed.status_code == 200
    await open_editor(user, tenant, flow["id"])
    user.find(marker="versions").click()
    await see(user, marker="version-row")
    await see(user, "Version 1")
    user.find(marker="open-version-1").click()

    await see(user, marker="version-number", content="Version 1")
    assert canvas(user).props["readonly"] is True
    assert [node["id"] for node in canvas(user).props["nodes"]] == ["start", "hello", "done"]
    user.find(marker="restore-version").click()
    await see(user, "they will be replaced")
    user.find(marker="confirm-restore").click()

    await see(user, marker="save-state", content="Saved")
    graph = await saved_graph(client, tenant, flow["id"])
    assert [node["id"] for node in graph["nodes"]] == ["start", "hello", "done"]


async def test_viewers_see_settings_but_cannot_change_them(
    user: User, tenant: Tenant, client: httpx.AsyncClient, add_user
) -> None:
    flow = await create_flow(client, tenant)
    email, password = await add_user(tenant, "viewer")
    await open_editor(user, tenant, flow["id"], email, password)
    user.find(marker="flow-editor").trigger("selectionChanged", {"ids": ["welcome"]})
    await see(user, marker="settings-kind", content="Send message")
    assert only(user, marker="message-text").props.get("readonly") is True
    await user.should_not_see(marker="add-button")
    await user.should_not_see(marker="publish")
    user.find(marker="flow-editor").trigger("nodeAdd", {"kind": "end", "x": 0, "y": 0})
    await asyncio.sleep(0.3)
    assert len(canvas(user).props["nodes"]) == 4


async def test_the_preview_says_when_the_draft_is_ahead_of_what_it_shows(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_valid_flow(client, tenant)
    assert (
        await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    ).status_code == 201
    await open_editor(user, tenant, flow["id"])
    user.find(marker="flow-editor").trigger("nodesMoved", [{"id": "done", "x": 640, "y": 80}])
    await see(user, marker="flow-status", content="Draft ahead of v1")

    user.find(marker="preview").click()
    await see(user, marker="preview-note", content="This previews version 1")
    await see(user, "Hi Test contact!")
    # The run's position is drawn on the draft's canvas.
    await eventually(lambda: _true(canvas(user).props["activeNode"] == "done"))
