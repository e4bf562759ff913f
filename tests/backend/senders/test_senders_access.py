"""Who may do what with senders: admins write, everyone reads; another workspace's sender is not there."""

from __future__ import annotations

import pytest

from tests.backend.senders.helpers import body, create_sender


async def test_another_workspaces_sender_is_404_on_every_route(client, make_tenant):
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    sender = await create_sender(client, acme, "sms_http")
    url = f"/api/v1/senders/{sender['id']}"
    for method, payload in (("GET", None), ("PATCH", {"name": "Hijacked"}), ("DELETE", None)):
        response = await client.request(method, url, json=payload, headers=globex.headers())
        assert response.status_code == 404, method
        assert response.json()["error"] == "not_found"
    listed = (await client.get("/api/v1/senders", headers=globex.headers())).json()["items"]
    assert listed == []
    assert (await client.get(url, headers=acme.headers())).json() == sender


async def test_a_foreign_address_does_not_conflict_and_is_not_revealed(client, make_tenant):
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    await create_sender(client, acme, "sandbox")
    response = await client.post("/api/v1/senders", json=body("sandbox"), headers=globex.headers())
    assert response.status_code == 201


@pytest.mark.parametrize("role", ["marketer", "viewer"])
async def test_only_admins_write(client, tenant, role):
    sender = await create_sender(client, tenant, "sandbox")
    url = f"/api/v1/senders/{sender['id']}"
    attempts = [
        await client.post(
            "/api/v1/senders", json=body("sandbox", address="+351912345679"), headers=tenant.headers(role)
        ),
        await client.patch(url, json={"name": "Mine now"}, headers=tenant.headers(role)),
        await client.delete(url, headers=tenant.headers(role)),
    ]
    assert [response.status_code for response in attempts] == [403, 403, 403]
    assert (await client.get(url, headers=tenant.headers(role))).json() == sender
    listed = (await client.get("/api/v1/senders", headers=tenant.headers(role))).json()["items"]
    assert [item["id"] for item in listed] == [sender["id"]]


async def test_no_key_no_senders(client, tenant):
    await create_sender(client, tenant, "sandbox")
    assert (await client.get("/api/v1/senders")).status_code == 401
