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
from tests.ui.flow_samples import create_flow


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
        {"id": "next", "label": "Next"},
        {"id": "button:yes", "label": "Yes please"},
        {"id": "button:no", "label": "No thanks"},
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
