"""Walking a published flow in the preview, as a marketer does before a campaign uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.crm import lookup_graph, serve_crm

PROMO = {
    "nodes": [
        {"kind": "start", "id": "start"},
        {
            "kind": "send_message",
            "id": "offer",
            "label": "Offer",
            "text": "Hi {{contact.name}}, 20% off today?",
            "buttons": [{"id": "yes", "title": "Yes please"}, {"id": "no", "title": "No thanks"}],
        },
        {
            "kind": "send_message",
            "id": "code",
            "text": "Your code is SAVE20",
            "message_kind": "transactional",
        },
        {"kind": "wait_for_reply", "id": "ask", "timeout": 3600, "save_as": "reason"},
        {"kind": "send_message", "id": "bye", "text": "Thanks for telling us: {{vars.reason}}"},
        {"kind": "delay", "id": "later", "seconds": 86400},
        {"kind": "send_message", "id": "nudge", "text": "Last chance!"},
        {"kind": "end", "id": "end"},
    ],
    "edges": [
        {"source": "start", "target": "offer"},
        {"source": "offer", "source_port": "button:yes", "target": "code"},
        {"source": "offer", "source_port": "button:no", "target": "ask"},
        {"source": "offer", "target": "later"},
        {"source": "code", "target": "end"},
        {"source": "ask", "source_port": "reply", "target": "bye"},
        {"source": "ask", "source_port": "timeout", "target": "end"},
        {"source": "bye", "target": "end"},
        {"source": "later", "target": "nudge"},
        {"source": "nudge", "target": "end"},
    ],
}


async def _publish(client, tenant, graph=PROMO) -> int:
    flow = (
        await client.post("/api/v1/flows", json={"name": "Promo", "graph": graph}, headers=tenant.headers())
    ).json()
    published = await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    assert published.status_code == 201, published.text
    return flow["id"]


async def _start(client, tenant, flow_id, **extra):
    body = {"flow_id": flow_id, "contact": {"name": "Ana"}, **extra}
    response = await client.post("/api/v1/previews", json=body, headers=tenant.headers("viewer"))
    assert response.status_code == 201, response.text
    return response.json()


def _texts(preview, direction="out"):
    return [bubble["text"] for bubble in preview["transcript"] if bubble["direction"] == direction]


async def test_tapping_a_button_follows_its_path(client, tenant):
    preview = await _start(client, tenant, await _publish(client, tenant))
    assert _texts(preview) == ["Hi Ana, 20% off today?"]
    assert [button["title"] for button in preview["transcript"][0]["buttons"]] == ["Yes please", "No thanks"]
    assert preview["status"] == "waiting"
    assert preview["active_node"] == "offer"
    assert preview["waiting"]["kind"] == "buttons"

    tapped = (
        await client.post(
            f"/api/v1/previews/{preview['id']}/reply", json={"button_id": "yes"}, headers=tenant.headers()
        )
    ).json()
    assert _texts(tapped, "in") == ["Yes please"]
    assert _texts(tapped)[-1] == "Your code is SAVE20"
    assert tapped["status"] == "completed"
    assert [step["node_id"] for step in tapped["path"]] == ["start", "offer", "code", "end"]
    assert tapped["path"][1]["port"] == "button:yes"


async def test_typed_reply_is_saved_and_used(client, tenant):
    preview = await _start(client, tenant, await _publish(client, tenant))
    url = f"/api/v1/previews/{preview['id']}/reply"
    after_no = (await client.post(url, json={"button_id": "no"}, headers=tenant.headers())).json()
    assert after_no["active_node"] == "ask"
    answered = (await client.post(url, json={"text": "too expensive"}, headers=tenant.headers())).json()
    assert _texts(answered)[-1] == "Thanks for telling us: too expensive"
    assert answered["variables"] == {"reason": "too expensive"}


async def test_skip_wait_fires_the_timeout_and_then_the_delay(client, tenant):
    preview = await _start(client, tenant, await _publish(client, tenant))
    skip = f"/api/v1/previews/{preview['id']}/skip-wait"
    after_timeout = (await client.post(skip, headers=tenant.headers())).json()
    assert after_timeout["active_node"] == "later"
    assert after_timeout["waiting"]["kind"] == "timer"
    after_delay = (await client.post(skip, headers=tenant.headers())).json()
    assert _texts(after_delay)[-1] == "Last chance!"
    assert after_delay["status"] == "completed"
    # The preview's clock moved forward by the button timeout and the one-day delay.
    assert after_delay["clock"] > after_timeout["clock"] > preview["clock"]
    again = await client.post(skip, headers=tenant.headers())
    assert again.status_code == 409


async def test_random_split_is_repeatable_with_a_seed(client, tenant):
    graph = {
        "nodes": [
            {"kind": "start", "id": "start"},
            {
                "kind": "branch",
                "id": "ab",
                "mode": "random",
                "rules": [{"id": "a", "percent": 50}, {"id": "b", "percent": 50}],
            },
            {"kind": "send_message", "id": "va", "text": "Variant A"},
            {"kind": "send_message", "id": "vb", "text": "Variant B"},
            {"kind": "end", "id": "end"},
        ],
        "edges": [
            {"source": "start", "target": "ab"},
            {"source": "ab", "source_port": "rule:a", "target": "va"},
            {"source": "ab", "source_port": "rule:b", "target": "vb"},
            {"source": "va", "target": "end"},
            {"source": "vb", "target": "end"},
        ],
    }
    flow_id = await _publish(client, tenant, graph)
    outcomes = {seed: _texts(await _start(client, tenant, flow_id, seed=seed)) for seed in range(12)}
    assert {tuple(texts) for texts in outcomes.values()} == {("Variant A",), ("Variant B",)}
    for seed in (0, 5):
        assert _texts(await _start(client, tenant, flow_id, seed=seed)) == outcomes[seed]


async def test_bad_replies_are_400_and_ended_previews_409(client, tenant):
    preview = await _start(client, tenant, await _publish(client, tenant))
    url = f"/api/v1/previews/{preview['id']}/reply"
    both = await client.post(url, json={"text": "hi", "button_id": "yes"}, headers=tenant.headers())
    assert both.status_code == 400
    neither = await client.post(url, json={}, headers=tenant.headers())
    assert neither.status_code == 400
    unknown = await client.post(url, json={"button_id": "maybe"}, headers=tenant.headers())
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "button_id"

    await client.post(url, json={"button_id": "yes"}, headers=tenant.headers())
    ended = await client.post(url, json={"text": "hello?"}, headers=tenant.headers())
    assert ended.status_code == 409


async def test_only_published_versions_can_be_previewed(client, tenant):
    flow = (await client.post("/api/v1/flows", json={"name": "Draft"}, headers=tenant.headers())).json()
    response = await client.post("/api/v1/previews", json={"flow_id": flow["id"]}, headers=tenant.headers())
    assert response.status_code == 404
    assert "publish" in response.json()["detail"]
    missing = await client.post(
        "/api/v1/previews", json={"flow_id": flow["id"], "version": 7}, headers=tenant.headers()
    )
    assert missing.status_code == 404


async def test_bad_test_contact_timezone_names_the_field(client, tenant):
    flow_id = await _publish(client, tenant)
    response = await client.post(
        "/api/v1/previews",
        json={"flow_id": flow_id, "contact": {"timezone": "Mars/Olympus"}},
        headers=tenant.headers(),
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "contact.timezone"


async def test_previews_of_another_workspace_are_not_found(client, tenant, make_tenant):
    other = await make_tenant("Globex")
    preview = await _start(client, tenant, await _publish(client, tenant))
    for method, path, body in [
        ("GET", f"/api/v1/previews/{preview['id']}", None),
        ("POST", f"/api/v1/previews/{preview['id']}/reply", {"text": "hi"}),
        ("POST", f"/api/v1/previews/{preview['id']}/skip-wait", None),
    ]:
        assert (await client.request(method, path, json=body, headers=other.headers())).status_code == 404


# --- HTTP request nodes ---------------------------------------------------------------------------


@pytest.fixture
def crm() -> Iterator[str]:
    """A local JSON endpoint standing in for a customer's CRM."""
    with serve_crm() as url:
        yield url


async def test_http_to_a_private_address_is_refused_by_default(client, tenant, crm):
    preview = await _start(client, tenant, await _publish(client, tenant, lookup_graph(crm)))
    assert _texts(preview) == ["Lookup failed"]
    notes = _texts(preview, "note")
    assert any("private address" in note for note in notes)


async def test_http_request_saves_response_fields_when_allowed(client, tenant, crm):
    await client.patch("/api/v1/settings", json={"allow_private_urls": True}, headers=tenant.headers())
    preview = await _start(client, tenant, await _publish(client, tenant, lookup_graph(crm)))
    assert _texts(preview) == ["You are gold"]
    assert preview["variables"]["tier"] == "gold"
