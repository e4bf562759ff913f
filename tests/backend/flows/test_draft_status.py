"""A flow's status and publishing compare the draft's graph with the latest version's, not revisions.

Issue 12: a draft changed and changed back (an undo) still read "Draft ahead of v1", and publishing it
froze a duplicate version. Also checked directly: what :func:`same_graph` treats as the same flow.
"""

from __future__ import annotations

import copy

from backend.flows.service import same_graph

GRAPH = {
    "format_version": 1,
    "nodes": [
        {"kind": "start", "id": "start", "label": "Start", "position": {"x": 0, "y": 0}},
        {
            "kind": "send_message",
            "id": "hello",
            "text": "Hi {{contact.name}}!",
            "position": {"x": 300, "y": 0},
        },
        {"kind": "end", "id": "done", "position": {"x": 600, "y": 0}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "hello"},
        {"id": "e2", "source": "hello", "target": "done"},
    ],
}


async def _published(client, tenant) -> dict:
    created = await client.post(
        "/api/v1/flows", json={"name": "Undo me", "graph": GRAPH}, headers=tenant.headers("marketer")
    )
    assert created.status_code == 201, created.text
    flow = created.json()
    published = await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    assert published.status_code == 201, published.text
    return flow


async def _save(client, tenant, flow_id: int, revision: int, **body) -> dict:
    response = await client.put(
        f"/api/v1/flows/{flow_id}", json={"revision": revision, **body}, headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_draft_changed_and_changed_back_is_published_again(client, tenant):
    flow = await _published(client, tenant)
    edited = copy.deepcopy(GRAPH)
    edited["nodes"][1]["text"] = "Something else"

    ahead = await _save(client, tenant, flow["id"], 1, graph=edited)
    assert ahead["status"] == "draft_ahead"
    back = await _save(client, tenant, flow["id"], ahead["revision"], graph=GRAPH)
    assert back["status"] == "published"
    listed = (await client.get("/api/v1/flows", headers=tenant.headers())).json()["items"]
    assert [item["status"] for item in listed if item["id"] == flow["id"]] == ["published"]

    again = await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    assert again.status_code == 200
    assert again.json()["version"] == 1 and again.json()["created"] is False
    versions = (await client.get(f"/api/v1/flows/{flow['id']}/versions", headers=tenant.headers())).json()
    assert [version["number"] for version in versions] == [1]


async def test_a_rename_leaves_a_published_flow_published(client, tenant):
    flow = await _published(client, tenant)
    renamed = await _save(client, tenant, flow["id"], 1, name="Welcome, renamed")
    assert renamed["status"] == "published"
    again = await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    assert again.json()["created"] is False


async def test_publish_compares_content_even_when_the_status_was_not_refreshed(client, tenant):
    """Drafts saved before this rule existed kept ``draft_ahead``; publishing them heals the status."""
    from backend.flows.tables import Flow

    flow = await _published(client, tenant)
    await Flow.update({Flow.published_revision: None}).where(Flow.id == flow["id"])
    stale = (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).json()
    assert stale["status"] == "draft_ahead"

    again = await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    assert again.status_code == 200 and again.json()["created"] is False
    healed = (await client.get(f"/api/v1/flows/{flow['id']}", headers=tenant.headers())).json()
    assert healed["status"] == "published"


async def test_a_real_change_still_publishes_a_new_version(client, tenant):
    flow = await _published(client, tenant)
    moved = copy.deepcopy(GRAPH)
    moved["nodes"][2]["position"] = {"x": 640, "y": 80}
    saved = await _save(client, tenant, flow["id"], 1, graph=moved)
    assert saved["status"] == "draft_ahead"
    second = await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    assert second.status_code == 201 and second.json()["version"] == 2


def test_edge_ids_and_list_order_do_not_make_a_different_flow():
    reordered = copy.deepcopy(GRAPH)
    reordered["nodes"].reverse()
    reordered["edges"] = [
        {"source": "hello", "source_port": "next", "target": "done"},
        {"id": "e-start-next-hello", "source": "start", "target": "hello"},
    ]
    reordered["nodes"][0]["ends"] = []  # a default written out is the same as one left out
    assert same_graph(GRAPH, reordered)


def test_settings_labels_positions_and_edges_do():
    for change in (
        lambda graph: graph["nodes"][1].update(text="Hi!"),
        lambda graph: graph["nodes"][1].update(label="Greeting"),
        lambda graph: graph["nodes"][2].update(position={"x": 601, "y": 0}),
        lambda graph: graph["edges"].pop(),
        lambda graph: graph["edges"][1].update(source_port="else"),
    ):
        changed = copy.deepcopy(GRAPH)
        change(changed)
        assert not same_graph(GRAPH, changed)


def test_an_unreadable_graph_is_never_the_same():
    assert not same_graph(GRAPH, {"nodes": [{"kind": "teleport", "id": "x"}]})
