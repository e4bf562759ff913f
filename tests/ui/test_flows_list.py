"""The flows list: what a marketer sees at ``/flows`` and does there, checked through the real API.

Downloads and uploads have no browser in the ``User`` simulation: an export is read from
``user.download`` and an import is handed to the upload element's own handler (``handle_uploads``), the
same call NiceGUI's upload route makes. The parsing behind the import is also tested on its own.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing.user import User

from flows.examples import example_json
from tests.backend.campaigns.helpers import create_campaign, group_of, published_flow, sandbox_sender
from tests.conftest import Tenant, free_port
from tests.ui.conftest import log_in_and_wait, only, see, stored_token
from tests.ui.flow_samples import SAMPLE_GRAPH, create_flow
from ui.pages.flows_list import (
    MAX_IMPORT_BYTES,
    ImportProblem,
    copy_name,
    example_title,
    export_filename,
    name_from_filename,
    parse_import,
    slugify,
    start_options,
)

# --- helpers ------------------------------------------------------------------------------------------


def example(name: str) -> dict[str, Any]:
    return json.loads(example_json(name))


async def add_flow(client: httpx.AsyncClient, tenant: Tenant, name: str, graph: dict[str, Any]) -> dict:
    response = await client.post(
        "/api/v1/flows", json={"name": name, "graph": graph}, headers=tenant.headers()
    )
    assert response.status_code == 201, response.text
    return response.json()


async def publish(client: httpx.AsyncClient, tenant: Tenant, flow_id: int) -> None:
    response = await client.post(f"/api/v1/flows/{flow_id}/publish", json={}, headers=tenant.headers())
    assert response.status_code == 201, response.text


async def api_flows(client: httpx.AsyncClient, tenant: Tenant) -> list[dict]:
    response = await client.get("/api/v1/flows", params={"limit": 200}, headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def api_graph(client: httpx.AsyncClient, tenant: Tenant, flow_id: int) -> dict:
    response = await client.get(f"/api/v1/flows/{flow_id}", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()["graph"]


async def open_list(user: User, email: str, password: str, *, empty: bool = False) -> None:
    """Sign in at ``/flows`` and wait for the list (the heading is drawn before the API answers)."""
    await log_in_and_wait(user, email, password, path="/login?next=/flows")
    await see(user, marker="page-title", content="Flows")
    await see(user, marker="empty-state" if empty else "flow-list")


async def open_as_admin(user: User, tenant: Tenant, *, empty: bool = False) -> None:
    await open_list(user, tenant.admin_email, tenant.admin_password, empty=empty)


async def shows_editor_of(user: User, flow_id: int) -> None:
    await see(user, marker="flow-editor")
    assert user.back_history[-1] == f"/flows/{flow_id}"


def row_names(user: User) -> list[str]:
    """The flow names in the order the rows are drawn (element ids grow in drawing order)."""
    links = sorted(user.find(marker="open-flow-link").elements, key=lambda element: element.id)
    return [link.text for link in links]


async def upload(user: User, filename: str, content: bytes) -> None:
    """What NiceGUI's upload route does once the browser has sent the file."""
    await only(user, marker="import-upload").handle_uploads(
        [SmallFileUpload(name=filename, content_type="application/json", _data=content)]
    )


# --- the list -------------------------------------------------------------------------------------------


async def test_flows_are_listed_with_their_status_trigger_and_last_edit(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    draft = await create_flow(client, tenant, "Welcome series")
    live = await add_flow(client, tenant, "Spring promo", example("welcome_opt_in"))
    await publish(client, tenant, live["id"])
    ahead = await add_flow(client, tenant, "Help desk", example("faq_keyword_bot"))
    await publish(client, tenant, ahead["id"])
    # Renamed and changed since v1 (a rename alone leaves it published: versions have no name).
    changed = example("faq_keyword_bot")
    changed["nodes"][-1]["label"] = "Handed over"
    renamed = await client.put(
        f"/api/v1/flows/{ahead['id']}",
        json={"name": "Help desk bot", "graph": changed, "revision": ahead["revision"]},
        headers=tenant.headers(),
    )
    assert renamed.status_code == 200, renamed.text

    await open_as_admin(user, tenant)

    assert row_names(user) == ["Welcome series", "Spring promo", "Help desk bot"]  # the API's order
    expected = {
        draft["id"]: ("Draft", "Manual or campaign"),
        live["id"]: ("Published v1", "Manual or campaign"),
        ahead["id"]: ("Draft ahead of v1", "Keyword"),
    }
    for flow_id, (status, trigger) in expected.items():
        with user.scope(marker=f"flow-{flow_id}"):
            assert only(user, marker="flow-status").text == status
            assert only(user, marker="flow-trigger").text == trigger
            assert only(user, marker="flow-edited").text == "just now"
            await see(user, kind=ui.tooltip, content="Last edited")
            await see(user, kind=ui.tooltip, content="UTC")
    await see(user, marker="flow-count", content="3 flows")
    await user.should_not_see(marker="load-more")
    await user.should_not_see(marker="empty-state")

    # The name opens the flow in the editor.
    user.find(marker="open-flow-link", content="Spring promo").click()
    await shows_editor_of(user, live["id"])


async def test_search_filters_by_name_and_load_more_fetches_the_next_page(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    for number in range(1, 52):  # one more than a page of 50
        await add_flow(client, tenant, f"Newsletter {number:02d}", SAMPLE_GRAPH)
    await add_flow(client, tenant, "Summer PROMO", SAMPLE_GRAPH)
    await add_flow(client, tenant, "Winter promo", SAMPLE_GRAPH)

    await open_as_admin(user, tenant)
    assert len(row_names(user)) == 50
    await see(user, marker="flow-count", content="more to load")

    user.find(marker="load-more").click()
    await see(user, marker="open-flow-link", content="Winter promo")
    assert len(row_names(user)) == 53
    await user.should_not_see(marker="load-more")

    user.find(marker="flow-search").type("promo")
    await user.should_not_see(marker="open-flow-link", content="Newsletter", retries=100)
    assert row_names(user) == ["Summer PROMO", "Winter promo"]  # case does not matter

    user.find(marker="flow-search").clear().type("nothing like this")
    await see(user, marker="no-match", content="nothing like this")

    user.find(marker="flow-search").clear()
    await see(user, marker="open-flow-link", content="Newsletter 01")
    assert len(row_names(user)) == 50


async def test_an_empty_workspace_offers_a_new_flow_to_marketers(
    user: User, tenant: Tenant, add_user
) -> None:
    email, password = await add_user(tenant, "marketer")
    await open_list(user, email, password, empty=True)
    await see(user, marker="empty-state")
    with user.scope(marker="empty-state"):
        await see(user, "No flows yet")
        await see(user, marker="new-flow")
    await user.should_not_see(marker="flow-list")


# --- creating ---------------------------------------------------------------------------------------------


async def test_a_new_blank_flow_is_created_and_opened(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_as_admin(user, tenant, empty=True)
    user.find(marker="new-flow").click()
    await see(user, marker="new-flow-dialog")
    user.find(marker="new-flow-name").type("  Autumn welcome  ")
    user.find(marker="create-flow").click()

    await see(user, marker="flow-editor")
    [flow] = await api_flows(client, tenant)
    assert flow["name"] == "Autumn welcome"
    await shows_editor_of(user, flow["id"])
    graph = await api_graph(client, tenant, flow["id"])
    assert [node["kind"] for node in graph["nodes"]] == ["start"]  # the API's default
    assert graph["edges"] == []


async def test_a_new_flow_from_an_example_copies_the_example(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_as_admin(user, tenant, empty=True)
    user.find(marker="new-flow").click()
    await see(user, marker="new-flow-dialog")
    user.find(start_options()["faq_keyword_bot"]).click()
    # The example's title is offered as the name until the marketer types their own.
    assert only(user, marker="new-flow-name").value == "FAQ keyword bot"
    user.find(marker="new-flow-name").clear().type("Support bot")
    user.find(marker="new-flow-name").trigger("keydown.enter")  # Enter creates too

    await see(user, marker="flow-editor")
    [flow] = await api_flows(client, tenant)
    assert (flow["name"], flow["trigger"]) == ("Support bot", "keyword")
    await shows_editor_of(user, flow["id"])
    graph = await api_graph(client, tenant, flow["id"])
    shipped = example("faq_keyword_bot")
    assert [(node["id"], node["kind"]) for node in graph["nodes"]] == [
        (node["id"], node["kind"]) for node in shipped["nodes"]
    ]
    assert len(graph["edges"]) == len(shipped["edges"])


async def test_a_blank_or_too_long_name_is_refused_under_the_field(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_as_admin(user, tenant, empty=True)
    user.find(marker="new-flow").click()
    await see(user, marker="new-flow-dialog")

    user.find(marker="create-flow").click()
    await see(user, marker="new-flow-name", content="Enter a name for the flow.")
    user.find(marker="new-flow-name").type("    ")  # spaces only: the API would store an empty name
    user.find(marker="create-flow").click()
    await see(user, marker="new-flow-name", content="Enter a name for the flow.")

    # A rule only the API knows comes back in its own words, under the field.
    user.find(marker="new-flow-name").clear().type("x" * 201)
    user.find(marker="create-flow").click()
    await see(user, marker="new-flow-name", content="length <= 200")

    assert await api_flows(client, tenant) == []
    await see(user, marker="new-flow-dialog")  # still open, nothing lost


# --- actions on a flow --------------------------------------------------------------------------------


async def test_duplicate_creates_a_copy_with_the_same_graph(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    original = await create_flow(client, tenant, "Welcome series")
    await open_as_admin(user, tenant)

    with user.scope(marker=f"flow-{original['id']}"):
        user.find(marker="duplicate-flow").click()
    await see(user, "Duplicated as “Welcome series (copy)”.")
    await see(user, marker="open-flow-link", content="Welcome series (copy)")

    flows = await api_flows(client, tenant)
    assert [flow["name"] for flow in flows] == ["Welcome series", "Welcome series (copy)"]
    assert await api_graph(client, tenant, flows[1]["id"]) == await api_graph(client, tenant, original["id"])


async def test_delete_asks_first_naming_the_flow_and_its_versions(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await add_flow(client, tenant, "Spring promo", example("welcome_opt_in"))
    await publish(client, tenant, flow["id"])
    await open_as_admin(user, tenant)

    with user.scope(marker=f"flow-{flow['id']}"):
        user.find(marker="delete-flow").click()
    await see(user, marker="delete-dialog")
    await see(user, "Delete “Spring promo”?")
    await see(user, marker="delete-consequence", content="1 published version are deleted too")
    user.find(marker="cancel-delete").click()
    await user.should_not_see(marker="delete-dialog", retries=100)
    assert (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).status_code == 200

    with user.scope(marker=f"flow-{flow['id']}"):
        user.find(marker="delete-flow").click()
    await see(user, marker="confirm-delete")
    user.find(marker="confirm-delete").click()

    await see(user, "Deleted “Spring promo”.")
    await see(user, marker="empty-state")
    await user.should_not_see(marker=f"flow-{flow['id']}")
    assert (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).status_code == 404


async def test_a_flow_a_campaign_uses_is_not_deleted_and_the_campaign_is_named(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await published_flow(client, tenant, name="Spring promo")
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 2, name="Spring customers")
    await create_campaign(client, tenant, flow["id"], group["id"], sender["id"], name="Spring sale")
    await open_as_admin(user, tenant)

    with user.scope(marker=f"flow-{flow['id']}"):
        user.find(marker="delete-flow").click()
    await see(user, marker="confirm-delete")
    user.find(marker="confirm-delete").click()
    await see(
        user,
        "Not deleted: the campaign “Spring sale” uses this flow. Delete it or give it another flow first.",
    )
    assert (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).status_code == 200


# --- export and import -----------------------------------------------------------------------------------


async def test_an_exported_flow_imports_back_as_the_same_flow(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    original = await create_flow(client, tenant, "Welcome series")
    await open_as_admin(user, tenant)

    with user.scope(marker=f"flow-{original['id']}"):
        user.find(marker="export-flow").click()
    download = await user.download.next(timeout=5)
    exported = json.loads(download.content)
    assert exported == {"name": "Welcome series", "graph": await api_graph(client, tenant, original["id"])}

    user.find(marker="import-flow").click()
    await see(user, marker="import-dialog")
    await upload(user, "welcome-series.flow.json", download.content)

    await see(user, "Imported “Welcome series”.")
    await see(user, marker="flow-editor")
    flows = await api_flows(client, tenant)
    assert [flow["name"] for flow in flows] == ["Welcome series", "Welcome series"]
    await shows_editor_of(user, flows[1]["id"])
    assert await api_graph(client, tenant, flows[1]["id"]) == exported["graph"]


async def test_a_bare_graph_imports_under_the_file_name(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_as_admin(user, tenant, empty=True)
    user.find(marker="import-flow").click()
    await see(user, marker="import-dialog")
    await upload(user, "summer_sale.json", json.dumps(SAMPLE_GRAPH).encode())

    await see(user, marker="flow-editor")
    [flow] = await api_flows(client, tenant)
    assert flow["name"] == "summer sale"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"name": "Broken", "graph": ', "The file is not valid JSON"),
        (b"[1, 2, 3]", "The file holds a list, not a JSON object"),
        (b'{"hello": "world"}', "neither a Flowgate export"),
        (
            json.dumps(
                {
                    "name": "Bad",
                    "graph": {"format_version": 1, "nodes": [{"kind": "bogus", "id": "a"}], "edges": []},
                }
            ).encode(),
            "$.graph.nodes[0].kind",  # the API's message, naming the field
        ),
    ],
)
async def test_a_malformed_import_says_what_is_wrong_and_creates_nothing(
    user: User, tenant: Tenant, client: httpx.AsyncClient, content: bytes, message: str
) -> None:
    await open_as_admin(user, tenant, empty=True)
    user.find(marker="import-flow").click()
    await see(user, marker="import-dialog")
    await upload(user, "broken.json", content)

    await see(user, marker="import-error", content=message)
    await see(user, marker="import-dialog")
    assert await api_flows(client, tenant) == []


# --- roles and failures ----------------------------------------------------------------------------------


async def test_viewers_can_open_and_export_but_not_change_anything(
    user: User, tenant: Tenant, client: httpx.AsyncClient, add_user
) -> None:
    flow = await create_flow(client, tenant, "Welcome series")
    email, password = await add_user(tenant, "viewer")
    await open_list(user, email, password)

    await see(user, marker="open-flow-link", content="Welcome series")
    await see(user, marker="open-flow")
    await see(user, marker="export-flow")
    for write_action in ("new-flow", "import-flow", "duplicate-flow", "delete-flow"):
        await user.should_not_see(marker=write_action)

    user.find(marker="export-flow").click()
    exported = json.loads((await user.download.next(timeout=5)).content)
    assert exported["name"] == "Welcome series"

    user.find(marker="open-flow").click()
    await shows_editor_of(user, flow["id"])


async def test_a_viewer_in_an_empty_workspace_is_not_offered_a_new_flow(
    user: User, tenant: Tenant, add_user
) -> None:
    email, password = await add_user(tenant, "viewer")
    await open_list(user, email, password, empty=True)
    await see(user, marker="empty-state")
    await see(user, "No flows yet")
    await user.should_not_see(marker="new-flow")


async def test_an_api_that_stops_answering_is_reported(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant, "Welcome series")
    await open_as_admin(user, tenant)
    from ui.backend import api  # the UI process's own client (a fresh module per test)

    closed_url = f"http://127.0.0.1:{free_port()}"
    await api.close()
    api.configure(closed_url)

    with user.scope(marker=f"flow-{flow['id']}"):
        user.find(marker="duplicate-flow").click()
    await see(user, f"Not duplicated: Flowgate's API at {closed_url} is not answering.")

    user.find(marker="flow-search").type("welcome")
    await see(user, marker="inline-problem", content=f"Flowgate's API at {closed_url} is not answering")
    await see(user, marker="retry-list")


async def test_an_ended_session_sends_to_the_login(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    flow = await create_flow(client, tenant, "Welcome series")
    await open_as_admin(user, tenant)
    token = stored_token(user)
    revoked = await client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code in (200, 204), revoked.text

    with user.scope(marker=f"flow-{flow['id']}"):
        user.find(marker="duplicate-flow").click()
    await see(user, marker="login-card")
    assert len(await api_flows(client, tenant)) == 1


# --- the functions behind the page --------------------------------------------------------------------


def test_import_reads_our_export_and_bare_graphs() -> None:
    exported = parse_import("anything.json", json.dumps({"name": " Promo ", "graph": SAMPLE_GRAPH}).encode())
    assert (exported.name, exported.graph) == ("Promo", SAMPLE_GRAPH)
    # No name in the export, or a bare graph: named after the file.
    assert parse_import("big-sale.flow.json", json.dumps({"graph": SAMPLE_GRAPH}).encode()).name == "big sale"
    bare = parse_import("C:\\Users\\me\\Winter_Promo.JSON", json.dumps(SAMPLE_GRAPH).encode())
    assert (bare.name, bare.graph) == ("Winter Promo", SAMPLE_GRAPH)
    # A byte-order mark (some Windows editors write one) is not an error.
    assert parse_import("x.json", b"\xef\xbb\xbf" + json.dumps(SAMPLE_GRAPH).encode()).graph == SAMPLE_GRAPH
    # Names longer than the API allows are trimmed to 200 characters.
    long_name = parse_import("x.json", json.dumps({"name": "n" * 300, "graph": SAMPLE_GRAPH}).encode())
    assert long_name.name == "n" * 200


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
        (b'"just text"', "The file holds a string, not a JSON object"),
        (b"null", "The file holds null, not a JSON object"),
        (b'{"name": "x", "graph": [1]}', '"graph" is a list'),
        (b'{"name": 5, "graph": {}}', '"name" is a number; it must be a string'),
        (b'{"nodes": NaN}', "NaN is not a JSON value"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        (b'{"flows": []}', "neither a Flowgate export"),
        (b" " * (MAX_IMPORT_BYTES + 1), "imports are limited to 1 MiB"),
    ],
)
def test_import_refuses_files_that_are_not_flows(content: bytes, message: str) -> None:
    with pytest.raises(ImportProblem) as refused:
        parse_import("flow.json", content)
    assert message in str(refused.value)


def test_names_of_copies_and_exported_files() -> None:
    assert copy_name("Welcome") == "Welcome (copy)"
    assert copy_name("x" * 200) == "x" * 193 + " (copy)"
    assert len(copy_name("x" * 200)) == 200
    assert slugify("Été: 30% off — Summer Sale!") == "ete-30-off-summer-sale"
    assert slugify("🎉🎉") == "flow"
    assert export_filename("Welcome series") == "welcome-series.flow.json"
    assert name_from_filename(".json") == "Imported flow"


def test_examples_have_readable_titles() -> None:
    options = start_options()
    assert next(iter(options)) == "blank"
    assert options["faq_keyword_bot"].startswith("FAQ keyword bot: ")
    assert example_title("seasonal_discount_v2") == "Seasonal discount v2"
