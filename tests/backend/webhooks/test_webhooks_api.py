"""The webhooks API: registration with a secret shown once, URL refusals (SSRF), roles, the delivery log,
audit, and isolation between workspaces."""

from __future__ import annotations

import base64

import pytest

from tests.backend.webhooks.helpers import allow_private_urls, create_endpoint, emit_event

PUBLIC_URL = "https://93.184.215.14/hooks/consent"
"""A global address written as an IP literal, so no DNS is needed to accept it."""


async def test_create_shows_the_secret_once(client, tenant):
    response = await client.post(
        "/api/v1/webhooks",
        json={"url": PUBLIC_URL, "events": ["consent.opted_out"], "description": "CRM"},
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) >= 24
    assert created["url"] == PUBLIC_URL
    assert created["events"] == ["consent.opted_out"]
    assert created["enabled"] is True

    one = await client.get(f"/api/v1/webhooks/{created['id']}", headers=tenant.headers())
    listed = await client.get("/api/v1/webhooks", headers=tenant.headers())
    assert one.status_code == 200
    assert "secret" not in one.json()
    assert one.json() == {key: value for key, value in created.items() if key != "secret"}
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    assert created["secret"] not in listed.text + one.text


async def test_every_endpoint_gets_its_own_secret(client, tenant):
    secrets = set()
    for _ in range(3):
        response = await client.post("/api/v1/webhooks", json={"url": PUBLIC_URL}, headers=tenant.headers())
        assert response.json()["events"] == ["*"]
        secrets.add(response.json()["secret"])
    assert len(secrets) == 3


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8080/hook",
        "http://[::1]/hook",
    ],
)
async def test_private_addresses_are_refused_unless_allowed(client, tenant, url):
    response = await client.post("/api/v1/webhooks", json={"url": url}, headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "url"
    assert "private" in response.json()["detail"]
    assert (await client.get("/api/v1/webhooks", headers=tenant.headers())).json()["items"] == []

    await allow_private_urls(client, tenant)
    allowed = await client.post("/api/v1/webhooks", json={"url": url}, headers=tenant.headers())
    assert allowed.status_code == 201, allowed.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://93.184.215.14/hook"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": ""}, "url"),
        ({"url": PUBLIC_URL, "events": []}, "events"),
        ({"url": PUBLIC_URL, "events": ["consent.deleted"]}, "events[0]"),
        ({"url": PUBLIC_URL, "description": "x" * 501}, "description"),
        ({"url": PUBLIC_URL, "secret": "whsec_mine"}, "secret"),
    ],
)
async def test_bad_input_names_the_field(client, tenant, body, field):
    response = await client.post("/api/v1/webhooks", json=body, headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == field
    assert (await client.get("/api/v1/webhooks", headers=tenant.headers())).json()["items"] == []


async def test_a_missing_url_is_named(client, tenant):
    response = await client.post("/api/v1/webhooks", json={"events": ["*"]}, headers=tenant.headers())
    assert response.status_code == 400
    assert "`url`" in response.json()["detail"]


async def test_wildcard_swallows_other_events_and_duplicates_go(client, tenant):
    both = await client.post(
        "/api/v1/webhooks",
        json={"url": PUBLIC_URL, "events": ["consent.opted_in", "consent.opted_in", "consent.opted_out"]},
        headers=tenant.headers(),
    )
    star = await client.post(
        "/api/v1/webhooks",
        json={"url": PUBLIC_URL, "events": ["consent.opted_in", "*"]},
        headers=tenant.headers(),
    )
    assert both.json()["events"] == ["consent.opted_in", "consent.opted_out"]
    assert star.json()["events"] == ["*"]


@pytest.mark.parametrize("role", ["marketer", "viewer"])
async def test_only_admins_see_or_change_webhooks(client, tenant, role):
    created = (
        await client.post("/api/v1/webhooks", json={"url": PUBLIC_URL}, headers=tenant.headers())
    ).json()
    for method, path in [
        ("POST", "/api/v1/webhooks"),
        ("GET", "/api/v1/webhooks"),
        ("GET", f"/api/v1/webhooks/{created['id']}"),
        ("GET", f"/api/v1/webhooks/{created['id']}/deliveries"),
        ("POST", f"/api/v1/webhooks/{created['id']}/enable"),
        ("DELETE", f"/api/v1/webhooks/{created['id']}"),
    ]:
        body = {"url": PUBLIC_URL} if method == "POST" else None
        response = await client.request(method, path, json=body, headers=tenant.headers(role))
        assert response.status_code == 403, (method, path)
    assert len((await client.get("/api/v1/webhooks", headers=tenant.headers())).json()["items"]) == 1
    assert (await client.get("/api/v1/webhooks")).status_code == 401


async def test_delete_removes_the_endpoint_and_its_log_and_is_audited(client, tenant):
    created = (
        await client.post("/api/v1/webhooks", json={"url": PUBLIC_URL}, headers=tenant.headers())
    ).json()
    await emit_event(tenant.id, None)
    response = await client.delete(f"/api/v1/webhooks/{created['id']}", headers=tenant.headers())
    assert response.status_code == 204
    assert (
        await client.get(f"/api/v1/webhooks/{created['id']}", headers=tenant.headers())
    ).status_code == 404
    assert (
        await client.delete(f"/api/v1/webhooks/{created['id']}", headers=tenant.headers())
    ).status_code == 404

    from backend.webhooks.tables import WebhookDelivery

    assert await WebhookDelivery.count() == 0
    actions = [
        event["action"]
        for event in (await client.get("/api/v1/audit-log", headers=tenant.headers())).json()["items"]
    ]
    assert "webhook.created" in actions
    assert "webhook.deleted" in actions


async def test_delivery_log_pages_and_filters(client, tenant):
    created = (
        await client.post("/api/v1/webhooks", json={"url": PUBLIC_URL}, headers=tenant.headers())
    ).json()
    ids = [delivery for n in range(3) for delivery in await emit_event(tenant.id, None, f"+35191200000{n}")]
    from backend.webhooks.tables import WebhookDelivery

    await WebhookDelivery.update({WebhookDelivery.status: "succeeded"}).where(WebhookDelivery.id == ids[0])
    path = f"/api/v1/webhooks/{created['id']}/deliveries"

    first = (await client.get(path, params={"limit": 2}, headers=tenant.headers())).json()
    assert [item["id"] for item in first["items"]] == ids[:2]
    second = (
        await client.get(path, params={"limit": 2, "cursor": first["next_cursor"]}, headers=tenant.headers())
    ).json()
    assert [item["id"] for item in second["items"]] == ids[2:]
    assert second["next_cursor"] is None

    item = first["items"][1]
    assert item["endpoint_id"] == created["id"]
    assert item["status"] == "pending"
    assert item["attempts"] == 0
    assert item["event_type"] == "consent.opted_out"
    assert item["message_id"].startswith("msg_")
    assert item["payload"]["data"]["address"] == "+351912000001"
    assert {"last_status_code", "last_error", "next_attempt_at", "created_at", "delivered_at"} <= item.keys()

    pending = (await client.get(path, params={"status": "pending"}, headers=tenant.headers())).json()
    assert [item["id"] for item in pending["items"]] == ids[1:]
    bad = await client.get(path, params={"status": "lost"}, headers=tenant.headers())
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "status"


async def test_another_workspace_sees_none_of_it(client, make_tenant):
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    created = await create_endpoint(client, acme, "http://127.0.0.1:9/hook")
    await emit_event(acme.id, None)
    base = f"/api/v1/webhooks/{created['id']}"
    for method, path in [
        ("GET", base),
        ("GET", f"{base}/deliveries"),
        ("POST", f"{base}/enable"),
        ("DELETE", base),
    ]:
        response = await client.request(method, path, headers=globex.headers())
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == "not_found"
    assert (await client.get("/api/v1/webhooks", headers=globex.headers())).json()["items"] == []
    assert (await client.get(base, headers=acme.headers())).status_code == 200
    log = (await client.get(f"{base}/deliveries", headers=acme.headers())).json()["items"]
    assert len(log) == 1


async def test_events_of_one_workspace_reach_only_its_endpoints(client, make_tenant):
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    ours = await create_endpoint(client, acme, "http://127.0.0.1:9/acme")
    theirs = await create_endpoint(client, globex, "http://127.0.0.1:9/globex")
    await emit_event(acme.id, None)
    acme_log = (await client.get(f"/api/v1/webhooks/{ours['id']}/deliveries", headers=acme.headers())).json()
    globex_log = (
        await client.get(f"/api/v1/webhooks/{theirs['id']}/deliveries", headers=globex.headers())
    ).json()
    assert len(acme_log["items"]) == 1
    assert globex_log["items"] == []
