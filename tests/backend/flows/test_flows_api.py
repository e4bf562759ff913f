"""Flows over the API as the editor and integrators use them: drafts, conflicts, validation, publishing."""

from __future__ import annotations

import asyncio
import copy

import pytest

SIMPLE = {
    "format_version": 1,
    "nodes": [
        {"kind": "start", "id": "start", "label": "Start"},
        {"kind": "send_message", "id": "hello", "label": "Hello", "text": "Hi {{contact.name}}!"},
        {"kind": "end", "id": "done"},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "hello"},
        {"id": "e2", "source": "hello", "target": "done"},
    ],
}


async def _create(client, tenant, graph=SIMPLE, name="Welcome"):
    response = await client.post(
        "/api/v1/flows", json={"name": name, "graph": graph}, headers=tenant.headers("marketer")
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_new_flow_starts_as_a_draft_with_a_start_node(client, tenant):
    response = await client.post("/api/v1/flows", json={"name": "Blank"}, headers=tenant.headers("marketer"))
    flow = response.json()
    assert flow["status"] == "draft"
    assert flow["revision"] == 1
    assert flow["latest_version"] is None
    assert [node["kind"] for node in flow["graph"]["nodes"]] == ["start"]
    assert response.headers["etag"] == '"1"'


async def test_graph_round_trips_with_defaults_filled_in(client, tenant):
    flow = await _create(client, tenant)
    fetched = (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers("viewer"))).json()
    hello = next(node for node in fetched["graph"]["nodes"] if node["id"] == "hello")
    assert hello["text"] == "Hi {{contact.name}}!"
    assert hello["message_kind"] == "marketing"
    assert fetched["graph"]["edges"] == SIMPLE["edges"] or len(fetched["graph"]["edges"]) == 2


@pytest.mark.parametrize(
    ("graph", "fragment"),
    [
        ({"nodes": [{"kind": "teleport", "id": "x"}]}, "graph.nodes[0].kind"),
        ({"nodes": [{"kind": "start"}]}, "id"),
        ({"nodes": [], "edges": [{"source": "a"}]}, "target"),
        ({"format_version": 99}, "format_version"),
        ({"nodes": [{"kind": "start", "id": "s", "colour": "red"}]}, "colour"),
    ],
)
async def test_malformed_graphs_are_400_naming_where(client, tenant, graph, fragment):
    response = await client.post(
        "/api/v1/flows", json={"name": "Bad", "graph": graph}, headers=tenant.headers("marketer")
    )
    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["field"] == "graph"
    assert fragment in body["detail"]
    flows = (await client.get("/api/v1/flows", headers=tenant.headers())).json()["items"]
    assert flows == []


async def test_invalid_drafts_can_be_saved_and_validate_names_the_problems(client, tenant):
    broken = copy.deepcopy(SIMPLE)
    broken["nodes"][1]["text"] = ""
    broken["edges"].pop()  # "hello" now leads nowhere
    flow = await _create(client, tenant, broken)
    result = (
        await client.post(f"/api/v1/flows/{flow['id']}/validate", headers=tenant.headers("viewer"))
    ).json()
    assert result["valid"] is False
    codes = {(problem["node_id"], problem["code"]) for problem in result["errors"]}
    assert ("hello", "missing_field") in codes
    assert ("hello", "unconnected_output") in codes
    assert all(problem["message"] for problem in result["errors"])


async def test_validate_can_check_an_unsaved_graph(client, tenant):
    flow = await _create(client, tenant)
    unsaved = {"nodes": [{"kind": "end", "id": "e"}], "edges": []}
    result = (
        await client.post(
            f"/api/v1/flows/{flow['id']}/validate", json={"graph": unsaved}, headers=tenant.headers()
        )
    ).json()
    assert result["valid"] is False
    assert "no_start" in {problem["code"] for problem in result["errors"]}


async def test_save_with_current_revision_then_stale_revision_conflicts(client, tenant):
    flow = await _create(client, tenant)
    edited = copy.deepcopy(SIMPLE)
    edited["nodes"][1]["text"] = "Hello again"
    first = await client.put(
        f"/api/v1/flows/{flow['id']}",
        json={"graph": edited, "revision": 1},
        headers=tenant.headers("marketer"),
    )
    assert first.status_code == 200, first.text
    assert first.json()["revision"] == 2

    other_tab = copy.deepcopy(SIMPLE)
    other_tab["nodes"][1]["text"] = "Overwrite!"
    stale = await client.put(
        f"/api/v1/flows/{flow['id']}",
        json={"graph": other_tab, "revision": 1},
        headers=tenant.headers("marketer"),
    )
    assert stale.status_code == 409
    assert "revision" in stale.json()["detail"]
    current = (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).json()
    assert current["graph"]["nodes"][1]["text"] == "Hello again"


async def test_if_match_header_works_like_revision(client, tenant):
    flow = await _create(client, tenant)
    ok = await client.put(
        f"/api/v1/flows/{flow['id']}",
        json={"name": "Renamed"},
        headers={**tenant.headers(), "If-Match": '"1"'},
    )
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"2"'
    stale = await client.put(
        f"/api/v1/flows/{flow['id']}", json={"name": "Again"}, headers={**tenant.headers(), "If-Match": '"1"'}
    )
    assert stale.status_code == 409


async def test_save_without_revision_is_refused_not_silently_applied(client, tenant):
    flow = await _create(client, tenant)
    response = await client.put(
        f"/api/v1/flows/{flow['id']}", json={"name": "Blind"}, headers=tenant.headers()
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "revision"


async def test_concurrent_saves_of_one_revision_let_exactly_one_win(client, tenant):
    flow = await _create(client, tenant)
    responses = await asyncio.gather(
        *(
            client.put(
                f"/api/v1/flows/{flow['id']}",
                json={"name": f"Tab {n}", "revision": 1},
                headers=tenant.headers(),
            )
            for n in range(5)
        )
    )
    assert sorted(response.status_code for response in responses) == [200, 409, 409, 409, 409]


async def test_publish_freezes_numbered_versions(client, tenant):
    flow = await _create(client, tenant)
    first = await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers("marketer"))
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1

    again = await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers("marketer"))
    assert again.status_code == 200
    assert again.json() == {**first.json(), "created": False}

    edited = copy.deepcopy(SIMPLE)
    edited["nodes"][1]["text"] = "Version two"
    await client.put(
        f"/api/v1/flows/{flow['id']}", json={"graph": edited, "revision": 1}, headers=tenant.headers()
    )
    assert (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).json()[
        "status"
    ] == "draft_ahead"
    second = await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    assert second.json()["version"] == 2

    versions = (
        await client.get(f"/api/v1/flows/{flow['id']}/versions", headers=tenant.headers("viewer"))
    ).json()
    assert [version["number"] for version in versions] == [2, 1]
    v1 = (await client.get(f"/api/v1/flows/{flow['id']}/versions/1", headers=tenant.headers("viewer"))).json()
    assert v1["graph"]["nodes"][1]["text"] == "Hi {{contact.name}}!"
    assert (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).json()[
        "status"
    ] == "published"


async def test_publishing_an_invalid_draft_is_422_with_the_problems(client, tenant):
    broken = copy.deepcopy(SIMPLE)
    broken["nodes"][1]["text"] = ""
    flow = await _create(client, tenant, broken)
    response = await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    assert response.status_code == 422
    body = response.json()
    assert any(error["node_id"] == "hello" and error["code"] == "missing_field" for error in body["errors"])
    assert (await client.get(f"/api/v1/flows/{flow['id']}/versions", headers=tenant.headers())).json() == []


async def test_publish_with_a_stale_revision_conflicts(client, tenant):
    flow = await _create(client, tenant)
    await client.put(
        f"/api/v1/flows/{flow['id']}", json={"name": "New name", "revision": 1}, headers=tenant.headers()
    )
    response = await client.post(
        f"/api/v1/flows/{flow['id']}/publish", json={"revision": 1}, headers=tenant.headers()
    )
    assert response.status_code == 409


async def test_concurrent_publishes_make_one_version(client, tenant):
    flow = await _create(client, tenant)
    responses = await asyncio.gather(
        *(client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers()) for _ in range(4))
    )
    assert sum(response.status_code == 201 for response in responses) == 1
    assert all(response.status_code in (200, 201, 409) for response in responses)
    versions = (await client.get(f"/api/v1/flows/{flow['id']}/versions", headers=tenant.headers())).json()
    assert [version["number"] for version in versions] == [1]


async def test_viewers_read_but_do_not_write(client, tenant):
    flow = await _create(client, tenant)
    assert (
        await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers("viewer"))
    ).status_code == 200
    for method, path, body in [
        ("POST", "/api/v1/flows", {"name": "x"}),
        ("PUT", f"/api/v1/flows/{flow['id']}", {"name": "x", "revision": 1}),
        ("POST", f"/api/v1/flows/{flow['id']}/publish", None),
        ("DELETE", f"/api/v1/flows/{flow['id']}", None),
    ]:
        response = await client.request(method, path, json=body, headers=tenant.headers("viewer"))
        assert response.status_code == 403, (method, path)


async def test_flows_of_another_workspace_are_not_found(client, tenant, make_tenant):
    other = await make_tenant("Globex")
    flow = await _create(client, tenant)
    await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    for method, path, body in [
        ("GET", f"/api/v1/flows/{flow['id']}", None),
        ("PUT", f"/api/v1/flows/{flow['id']}", {"name": "mine", "revision": 1}),
        ("DELETE", f"/api/v1/flows/{flow['id']}", None),
        ("POST", f"/api/v1/flows/{flow['id']}/validate", None),
        ("POST", f"/api/v1/flows/{flow['id']}/publish", None),
        ("GET", f"/api/v1/flows/{flow['id']}/versions", None),
        ("GET", f"/api/v1/flows/{flow['id']}/versions/1", None),
    ]:
        response = await client.request(method, path, json=body, headers=other.headers())
        assert response.status_code == 404, (method, path)
    assert (await client.get("/api/v1/flows", headers=other.headers())).json()["items"] == []
    assert (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).json()[
        "name"
    ] == "Welcome"


async def test_list_filters_by_name_and_delete_removes_versions(client, tenant):
    welcome = await _create(client, tenant, name="Welcome series")
    await _create(client, tenant, name="Black Friday")
    await client.post(f"/api/v1/flows/{welcome['id']}/publish", headers=tenant.headers())
    listed = (await client.get("/api/v1/flows", params={"name": "friday"}, headers=tenant.headers())).json()[
        "items"
    ]
    assert [flow["name"] for flow in listed] == ["Black Friday"]
    assert "graph" not in listed[0]

    assert (
        await client.delete(f"/api/v1/flows/{welcome['id']}", headers=tenant.headers())
    ).status_code == 204
    assert (
        await client.get(f"/api/v1/flows/{welcome['id']}/versions/1", headers=tenant.headers())
    ).status_code == 404


async def test_graph_schema_is_served(client, tenant):
    schema = (await client.get("/api/v1/flows/graph-schema", headers=tenant.headers("viewer"))).json()
    assert "FlowGraph" in str(schema)
    assert "send_message" in str(schema)


async def test_name_filter_takes_wildcards_literally(client, tenant):
    await _create(client, tenant, name="50% off")
    await _create(client, tenant, name="500 club")
    listed = (await client.get("/api/v1/flows", params={"name": "0%"}, headers=tenant.headers())).json()[
        "items"
    ]
    assert [flow["name"] for flow in listed] == ["50% off"]
    assert (await client.get("/api/v1/flows", params={"name": "_"}, headers=tenant.headers())).json()[
        "items"
    ] == []


async def test_the_list_shows_each_flow_trigger(client, tenant):
    keyword = copy.deepcopy(SIMPLE)
    keyword["nodes"][0] = {"kind": "start", "id": "start", "trigger": "keyword", "keywords": ["HELP"]}
    await _create(client, tenant, keyword, name="Help bot")
    await _create(client, tenant, name="Campaign flow")
    listed = (await client.get("/api/v1/flows", headers=tenant.headers())).json()["items"]
    assert {flow["name"]: flow["trigger"] for flow in listed} == {
        "Help bot": "keyword",
        "Campaign flow": "manual",
    }


async def test_groups_and_categories_are_checked_against_the_workspace(client, tenant, make_tenant):
    """A node naming a deleted group, or another workspace's category, cannot publish."""
    other = await make_tenant("Other")
    theirs = (
        await client.post(
            "/api/v1/marketing-categories",
            json={"name": "Their news", "unsubscribe_days": 30},
            headers=other.headers(),
        )
    ).json()
    group = (await client.post("/api/v1/groups", json={"name": "VIP"}, headers=tenant.headers())).json()
    graph = copy.deepcopy(SIMPLE)
    graph["nodes"].insert(2, {"kind": "add_to_group", "id": "vip", "group_id": group["id"]})
    graph["nodes"][1]["category_id"] = theirs["id"]
    graph["edges"][1] = {"id": "e2", "source": "hello", "target": "vip"}
    graph["edges"].append({"id": "e3", "source": "vip", "target": "done"})
    flow = await _create(client, tenant, graph)

    async def problems() -> set[tuple[str, str, str]]:
        result = (await client.post(f"/api/v1/flows/{flow['id']}/validate", headers=tenant.headers())).json()
        return {(p["node_id"], p["code"], p["field"]) for p in result["errors"]}

    assert await problems() == {("hello", "unknown_reference", "category_id")}
    assert (await client.delete(f"/api/v1/groups/{group['id']}", headers=tenant.headers())).status_code == 204
    assert await problems() == {
        ("hello", "unknown_reference", "category_id"),
        ("vip", "unknown_reference", "group_id"),
    }
    published = await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    assert published.status_code == 422
    assert {problem["code"] for problem in published.json()["errors"]} == {"unknown_reference"}


# --- found by the API fuzzer (tests/backend/test_api_fuzz.py) ---------------------------------------------


@pytest.mark.parametrize("revision", [0, -(2**63) + 1, 2**31, 2**63 - 1])
async def test_a_revision_out_of_range_is_refused_naming_it_not_a_server_error(client, tenant, revision):
    """Revisions live in an integer column: PostgreSQL refused a larger one with a server error."""
    flow = await _create(client, tenant)
    url = f"/api/v1/flows/{flow['id']}"
    saved = await client.put(url, json={"revision": revision}, headers=tenant.headers())
    assert saved.status_code == 400, saved.text
    assert saved.json()["errors"][0]["field"] == "revision"
    published = await client.post(f"{url}/publish", json={"revision": revision}, headers=tenant.headers())
    assert published.status_code == 400, published.text
    if revision > 0:
        header = await client.put(
            url, json={"name": "Again"}, headers={**tenant.headers(), "If-Match": f'"{revision}"'}
        )
        assert header.status_code == (409 if revision < 2**31 else 400), header.text


async def test_a_version_number_beyond_any_stored_one_is_not_found(client, tenant):
    """Version numbers live in an integer column too: 2^31 was a server error on PostgreSQL, not a 404."""
    flow = await _create(client, tenant)
    await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    for number in (2**31, 2**63 - 1):
        response = await client.get(f"/api/v1/flows/{flow['id']}/versions/{number}", headers=tenant.headers())
        assert response.status_code == 404, response.text


async def test_publishing_an_unchanged_draft_answers_the_documented_200(client, tenant):
    flow = await _create(client, tenant)
    url = f"/api/v1/flows/{flow['id']}/publish"
    assert (await client.post(url, headers=tenant.headers())).status_code == 201
    again = await client.post(url, headers=tenant.headers())
    assert again.status_code == 200, again.text
    assert again.json()["created"] is False
    schema = (await client.get("/schema/openapi.json")).json()
    documented = schema["paths"]["/api/v1/flows/{flow_id}/publish"]["post"]["responses"]
    assert (
        documented["200"]["content"]["application/json"]["schema"]
        == documented["201"]["content"]["application/json"]["schema"]
    )
