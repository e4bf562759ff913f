"""``POST /api/v1/webhooks/{id}/test``: a signed test event through the real delivery path (worker, retries,
log), and the delivery log and audit log read newest first."""

from __future__ import annotations

import pytest

from tests.backend.webhooks.helpers import create_endpoint, delivery_row, emit_event, run_worker


async def test_a_test_event_reaches_the_receiver_signed_and_is_logged(client, tenant, receiver, redis_url):
    # Subscribed to opt-ins only: a test is sent anyway, since the admin asked for this endpoint.
    created = await create_endpoint(client, tenant, receiver.url, events=["consent.opted_in"])
    receiver.secret = created["secret"]

    response = await client.post(f"/api/v1/webhooks/{created['id']}/test", headers=tenant.headers())
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["status"] == "pending"
    assert queued["event_type"] == "webhook.test"
    assert queued["endpoint_id"] == created["id"]
    assert queued["payload"]["data"]["webhook_id"] == created["id"]

    await run_worker(redis_url)  # the api enqueued the job; a real worker sends it

    [request] = receiver.received
    assert request.verified, request.problem
    assert request.headers["webhook-id"] == queued["message_id"]
    assert request.json()["type"] == "webhook.test"
    log = (await client.get(f"/api/v1/webhooks/{created['id']}/deliveries", headers=tenant.headers())).json()[
        "items"
    ]
    assert [(item["id"], item["status"], item["attempts"], item["last_status_code"]) for item in log] == [
        (queued["id"], "succeeded", 1, 200)
    ]


async def test_a_failing_receiver_is_retried_and_the_log_says_why(client, tenant, receiver, redis_url):
    created = await create_endpoint(client, tenant, receiver.url)
    receiver.secret = created["secret"]
    receiver.default = 503

    queued = (await client.post(f"/api/v1/webhooks/{created['id']}/test", headers=tenant.headers())).json()
    await run_worker(redis_url, retry_delays_s=[0.05])

    row = await delivery_row(queued["id"])
    assert row["status"] == "failed"
    assert row["attempts"] == 2
    assert row["last_status_code"] == 503
    assert "HTTP 503" in row["last_error"]


async def test_a_disabled_endpoint_is_refused_with_a_sentence(client, tenant):
    created = await create_endpoint(client, tenant, "http://127.0.0.1:9/hook")
    from backend.webhooks.tables import WebhookEndpoint

    await WebhookEndpoint.update(
        {WebhookEndpoint.enabled: False, WebhookEndpoint.disabled_reason: "the endpoint answered 410 Gone"}
    ).where(WebhookEndpoint.id == created["id"])
    response = await client.post(f"/api/v1/webhooks/{created['id']}/test", headers=tenant.headers())
    assert response.status_code == 409
    assert "410 Gone" in response.json()["detail"]
    assert "enable it" in response.json()["detail"]


@pytest.mark.parametrize("role", ["marketer", "viewer"])
async def test_only_admins_send_tests(client, tenant, role):
    created = await create_endpoint(client, tenant, "http://127.0.0.1:9/hook")
    response = await client.post(f"/api/v1/webhooks/{created['id']}/test", headers=tenant.headers(role))
    assert response.status_code == 403


async def test_another_workspace_cannot_test_it_and_tests_are_audited(client, make_tenant):
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    created = await create_endpoint(client, acme, "http://127.0.0.1:9/hook")
    assert (
        await client.post(f"/api/v1/webhooks/{created['id']}/test", headers=globex.headers())
    ).status_code == 404
    assert (
        await client.post(f"/api/v1/webhooks/{created['id']}/test", headers=acme.headers())
    ).status_code == 202

    tested = (
        await client.get("/api/v1/audit-log", params={"action": "webhook.tested"}, headers=acme.headers())
    ).json()["items"]
    assert [(event["target_id"], event["data"]["url"]) for event in tested] == [
        (str(created["id"]), "http://127.0.0.1:9/hook")
    ]
    assert (
        await client.get("/api/v1/audit-log", params={"action": "webhook.tested"}, headers=globex.headers())
    ).json()["items"] == []


async def test_the_delivery_log_reads_newest_first_with_a_cursor(client, tenant):
    created = await create_endpoint(client, tenant, "http://127.0.0.1:9/hook")
    ids = [delivery for n in range(3) for delivery in await emit_event(tenant.id, None, f"+35191200000{n}")]
    path = f"/api/v1/webhooks/{created['id']}/deliveries"

    first = (await client.get(path, params={"order": "newest", "limit": 2}, headers=tenant.headers())).json()
    assert [item["id"] for item in first["items"]] == [ids[2], ids[1]]
    second = (
        await client.get(
            path,
            params={"order": "newest", "limit": 2, "cursor": first["next_cursor"]},
            headers=tenant.headers(),
        )
    ).json()
    assert [item["id"] for item in second["items"]] == [ids[0]]
    assert second["next_cursor"] is None
    oldest = (await client.get(path, headers=tenant.headers())).json()
    assert [item["id"] for item in oldest["items"]] == ids
    bad = await client.get(path, params={"order": "latest"}, headers=tenant.headers())
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "order"


async def test_the_audit_log_reads_newest_first_with_a_cursor(client, tenant):
    for days in (10, 20, 40):
        await client.patch(
            "/api/v1/settings", json={"marketing_unsubscription_days": days}, headers=tenant.headers()
        )
    params = {"action": "settings.updated", "order": "newest", "limit": 2}
    first = (await client.get("/api/v1/audit-log", params=params, headers=tenant.headers())).json()
    assert [event["data"]["marketing_unsubscription_days"]["to"] for event in first["items"]] == [40, 20]
    rest = (
        await client.get(
            "/api/v1/audit-log", params={**params, "cursor": first["next_cursor"]}, headers=tenant.headers()
        )
    ).json()
    assert [event["data"]["marketing_unsubscription_days"]["to"] for event in rest["items"]] == [10]
    assert rest["next_cursor"] is None
