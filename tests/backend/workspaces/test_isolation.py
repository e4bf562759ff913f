"""Invariant 5: no key or user reads or changes another workspace's data; foreign objects answer 404."""

from __future__ import annotations

import pytest


@pytest.fixture
async def two_tenants(make_tenant):
    return await make_tenant("Acme"), await make_tenant("Globex")


async def test_foreign_api_keys_are_not_found(client, two_tenants):
    acme, globex = two_tenants
    key = (
        await client.post("/api/v1/api-keys", json={"name": "A", "role": "viewer"}, headers=acme.headers())
    ).json()

    for method in ("GET", "DELETE"):
        response = await client.request(method, f"/api/v1/api-keys/{key['id']}", headers=globex.headers())
        assert response.status_code == 404, method
        assert response.json()["error"] == "not_found"
    still_valid = await client.get("/api/v1/settings", headers={"Authorization": f"Bearer {key['key']}"})
    assert still_valid.status_code == 200

    listed = (await client.get("/api/v1/api-keys", headers=globex.headers())).json()["items"]
    assert key["id"] not in [item["id"] for item in listed]


async def test_foreign_users_are_not_found(client, two_tenants):
    acme, globex = two_tenants
    user = (
        await client.post(
            "/api/v1/users",
            json={"email": "ann@acme.example", "password": "ann-password", "role": "marketer"},
            headers=acme.headers(),
        )
    ).json()
    for method, body in (("GET", None), ("PATCH", {"role": "admin"}), ("DELETE", None)):
        response = await client.request(
            method, f"/api/v1/users/{user['id']}", json=body, headers=globex.headers()
        )
        assert response.status_code == 404, method
    fetched = (await client.get(f"/api/v1/users/{user['id']}", headers=acme.headers())).json()
    assert fetched["role"] == "marketer"
    emails = [
        item["email"]
        for item in (await client.get("/api/v1/users", headers=globex.headers())).json()["items"]
    ]
    assert "ann@acme.example" not in emails


async def test_settings_and_audit_log_are_per_workspace(client, two_tenants):
    acme, globex = two_tenants
    await client.patch("/api/v1/settings", json={"marketing_unsubscription_days": 90}, headers=acme.headers())
    assert (await client.get("/api/v1/settings", headers=globex.headers())).json()[
        "marketing_unsubscription_days"
    ] == 30
    globex_log = (await client.get("/api/v1/audit-log", headers=globex.headers())).json()["items"]
    assert "settings.updated" not in [event["action"] for event in globex_log]


async def test_session_of_one_workspace_sees_only_its_workspace(client, two_tenants):
    acme, globex = two_tenants
    session = (
        await client.post(
            "/api/v1/auth/login", json={"email": globex.admin_email, "password": globex.admin_password}
        )
    ).json()
    me = (await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {session['token']}"})).json()
    assert me["workspace"]["id"] == globex.id != acme.id
