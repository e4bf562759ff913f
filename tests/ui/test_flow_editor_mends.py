"""The flow builder's rough edges from issue 12, as a marketer and a viewer meet them.

The Preview tab starts a preview by itself (or offers to publish first), a clicked palette step lands
clear of the others, an undo back to the published graph reads as published, the panel says what
publishing would do (and nothing about it to viewers), and a setting the API refuses is explained in
words under its field.
"""

from __future__ import annotations

import httpx
from nicegui.testing.user import User

from tests.conftest import Tenant
from tests.ui.conftest import log_in_and_wait, only, see
from tests.ui.flow_samples import create_flow, create_valid_flow
from tests.ui.test_flow_editor import _true, canvas, eventually, open_editor, saved_graph
from ui.components.placement import NEW_STEP_SIZE, Box


async def _publish(client: httpx.AsyncClient, tenant: Tenant, flow_id: int) -> None:
    response = await client.post(f"/api/v1/flows/{flow_id}/publish", headers=tenant.headers())
    assert response.status_code in (200, 201), response.text


async def test_the_preview_tab_walks_the_latest_version_by_itself(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_valid_flow(client, tenant)
    await _publish(client, tenant, flow["id"])
    await open_editor(user, tenant, flow["id"])

    user.find(marker="tab-preview").click()
    await see(user, "Hi Test contact!")
    await see(user, marker="preview-title", content="v1")
    await eventually(lambda: _true(canvas(user).props["activeNode"] == "done"))


async def test_an_unpublished_flow_says_so_in_the_preview_tab_and_publishes_from_there(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_valid_flow(client, tenant)
    await open_editor(user, tenant, flow["id"])
    await see(user, marker="problems-chip", content="No problems")

    user.find(marker="tab-preview").click()
    await see(user, marker="preview-unpublished")
    await see(user, "Not published yet")
    user.find(marker="preview-publish").click()

    await see(user, "Published as version 1")
    await see(user, "Hi Test contact!")
    await user.should_not_see(marker="preview-unpublished")


async def test_a_draft_with_problems_says_to_fix_them_before_publishing_from_the_preview_tab(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    await open_editor(user, tenant, flow["id"])
    await see(user, marker="problems-chip", content="5 problems")
    user.find(marker="tab-preview").click()
    await see(user, marker="preview-blocked", content="First fix the 5 problems listed under Step.")
    assert not only(user, marker="preview-publish").enabled


async def test_viewers_are_told_who_can_publish_instead_of_a_blank_tab(
    user: User, tenant: Tenant, client: httpx.AsyncClient, add_user
) -> None:
    flow = await create_valid_flow(client, tenant)
    email, password = await add_user(tenant, "viewer")
    await open_editor(user, tenant, flow["id"], email, password)

    user.find(marker="tab-preview").click()
    await see(user, "A marketer or an admin can publish it.")
    await user.should_not_see(marker="preview-publish")


async def test_a_versions_preview_tab_walks_that_version(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_valid_flow(client, tenant)
    await _publish(client, tenant, flow["id"])
    await log_in_and_wait(
        user, tenant.admin_email, tenant.admin_password, path=f"/login?next=/flows/{flow['id']}/versions/1"
    )
    await see(user, marker="version-number", content="Version 1")
    user.find(marker="tab-preview").click()
    await see(user, "Hi Test contact!")


async def test_a_clicked_palette_step_lands_clear_of_the_step_at_the_centre(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    await open_editor(user, tenant, flow["id"])
    # The browser sends the view's centre and the measured boxes; "welcome" sits right at the centre.
    drawn = [
        {"x": 0, "y": 80, "width": 190, "height": 60},
        {"x": 280, "y": 40, "width": 240, "height": 150},
        {"x": 620, "y": 0, "width": 190, "height": 110},
        {"x": 620, "y": 240, "width": 190, "height": 60},
    ]
    user.find(marker="flow-editor").trigger("nodeAdd", {"kind": "end", "x": 400, "y": 115, "boxes": drawn})

    await see(user, marker="settings-kind", content="End")
    shape = next(node for node in canvas(user).props["nodes"] if node["id"] == "end-1")
    new = Box(shape["position"]["x"], shape["position"]["y"], *NEW_STEP_SIZE)
    assert not any(new.overlaps(Box(**box), 0) for box in drawn)

    async def stored() -> bool:
        nodes = (await saved_graph(client, tenant, flow["id"]))["nodes"]
        return any(node["id"] == "end-1" and node["position"] == shape["position"] for node in nodes)

    await eventually(stored)


async def test_undo_back_to_the_published_graph_reads_as_published(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_valid_flow(client, tenant)
    await _publish(client, tenant, flow["id"])
    await open_editor(user, tenant, flow["id"])
    await see(user, marker="flow-status", content="Published v1")
    await see(user, marker="problems-headline", content="Published as version 1 and up to date")
    editor = user.find(marker="flow-editor")

    editor.trigger("nodesMoved", [{"id": "done", "x": 640, "y": 80}])
    await see(user, marker="flow-status", content="Draft ahead of v1")
    await see(user, marker="problems-headline", content="can be published as version 2")
    await eventually(lambda: _true(only(user, marker="publish").enabled))

    user.find(marker="undo").click()
    await see(user, marker="flow-status", content="Published v1")
    await see(user, marker="problems-headline", content="Published as version 1 and up to date")
    await eventually(lambda: _true(not only(user, marker="publish").enabled))
    versions = (await client.get(f"/api/v1/flows/{flow['id']}/versions", headers=tenant.headers())).json()
    assert [version["number"] for version in versions] == [1]


async def test_viewers_read_nothing_about_publishing_in_the_panel(
    user: User, tenant: Tenant, client: httpx.AsyncClient, add_user
) -> None:
    flow = await create_valid_flow(client, tenant)
    email, password = await add_user(tenant, "viewer")
    await open_editor(user, tenant, flow["id"], email, password)
    await see(user, marker="problems-headline", content="No problems found in this draft.")
    await user.should_not_see("can be published")


async def test_a_setting_the_api_refuses_is_explained_in_words_under_its_field(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant)
    await open_editor(user, tenant, flow["id"])
    user.find(marker="flow-editor").trigger("selectionChanged", {"ids": ["welcome"]})
    await see(user, marker="settings-kind", content="Send message")

    user.find(marker="message-text").clear().type("x" * 4100)
    await see(user, marker="save-state", content="Not saved: Welcome: Too long: at most 4096 characters.")
    await eventually(
        lambda: _true(
            "Too long: at most 4096 characters." in only(user, marker="message-text").props["error-message"]
        )
    )
    assert "Expected" not in only(user, marker="save-state").text

    user.find(marker="message-text").clear().type("Hello {{contact.name}}")
    await see(user, marker="save-state", content="Saved")
    await eventually(
        lambda: _true("Too long" not in only(user, marker="message-text").props.get("error-message", ""))
    )
