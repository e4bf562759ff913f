"""Authentication and roles: who may call what, as an integrator or a UI session would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest


async def test_missing_key_is_401_with_a_bearer_challenge(client):
    response = await client.get("/api/v1/settings")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["error"] == "unauthorized"
    assert "Authorization: Bearer" in body["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer fgk_000000000000_notarealsecret",
        "Bearer not-a-key",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
    ],
)
async def test_wrong_keys_are_401(client, tenant, header):
    response = await client.get("/api/v1/settings", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


async def test_a_real_lookup_with_a_forged_secret_is_401(client, tenant):
    real = tenant.keys["admin"]
    forged = real[: real.rindex("_") + 1] + "A" * 43
    response = await client.get("/api/v1/settings", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_revoked_key_stops_working_at_once(client, tenant):
    created = await client.post(
        "/api/v1/api-keys", json={"name": "CRM sync", "role": "marketer"}, headers=tenant.headers()
    )
    key = created.json()
    headers = {"Authorization": f"Bearer {key['key']}"}
    assert (await client.get("/api/v1/settings", headers=headers)).status_code == 200

    revoked = await client.delete(f"/api/v1/api-keys/{key['id']}", headers=tenant.headers())
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None

    response = await client.get("/api/v1/settings", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


async def test_expired_key_is_401(client, tenant):
    from backend.workspaces.tables import Credential

    created = await client.post(
        "/api/v1/api-keys",
        json={
            "name": "temp",
            "role": "viewer",
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
        headers=tenant.headers(),
    )
    assert created.status_code == 201, created.text
    key = created.json()
    await Credential.update({Credential.expires_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
        Credential.id == key["id"]
    )
    response = await client.get("/api/v1/settings", headers={"Authorization": f"Bearer {key['key']}"})
    assert response.status_code == 401


async def test_api_key_is_shown_once_and_stored_hashed(client, tenant):
    from backend.workspaces.tables import Credential

    created = (
        await client.post(
            "/api/v1/api-keys", json={"name": "CRM", "role": "viewer"}, headers=tenant.headers()
        )
    ).json()
    assert created["key"].startswith("fgk_")
    assert created["key"].startswith(created["prefix"] + "_")

    listed = (await client.get("/api/v1/api-keys", headers=tenant.headers())).json()["items"]
    assert all("key" not in item for item in listed)
    assert created["prefix"] in [item["prefix"] for item in listed]
    fetched = (await client.get(f"/api/v1/api-keys/{created['id']}", headers=tenant.headers())).json()
    assert "key" not in fetched

    stored = await Credential.select().where(Credential.id == created["id"]).first()
    assert created["key"] not in str(stored)


async def test_api_key_validation_names_the_field(client, tenant):
    response = await client.post(
        "/api/v1/api-keys", json={"name": "x", "role": "owner"}, headers=tenant.headers()
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "role"

    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    response = await client.post(
        "/api/v1/api-keys", json={"name": "x", "role": "viewer", "expires_at": past}, headers=tenant.headers()
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "expires_at"


@pytest.mark.parametrize(
    ("role", "method", "path", "body", "allowed"),
    [
        ("viewer", "GET", "/api/v1/settings", None, True),
        ("viewer", "PATCH", "/api/v1/settings", {"marketing_unsubscription_days": 10}, False),
        ("marketer", "PATCH", "/api/v1/settings", {"marketing_unsubscription_days": 10}, False),
        ("admin", "PATCH", "/api/v1/settings", {"marketing_unsubscription_days": 10}, True),
        ("marketer", "GET", "/api/v1/api-keys", None, False),
        ("viewer", "POST", "/api/v1/api-keys", {"name": "mine", "role": "admin"}, False),
        ("marketer", "GET", "/api/v1/users", None, False),
        ("viewer", "GET", "/api/v1/audit-log", None, False),
        ("admin", "GET", "/api/v1/audit-log", None, True),
        ("viewer", "GET", "/api/v1/auth/me", None, True),
    ],
)
async def test_role_limits(client, tenant, role, method, path, body, allowed):
    response = await client.request(method, path, json=body, headers=tenant.headers(role))
    if allowed:
        assert response.status_code < 400, response.text
    else:
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"
        assert role in response.json()["detail"]


async def test_login_session_acts_as_the_user_and_logout_ends_it(client, tenant):
    response = await client.post(
        "/api/v1/auth/login", json={"email": tenant.admin_email.upper(), "password": tenant.admin_password}
    )
    assert response.status_code == 200, response.text
    session = response.json()
    assert session["token"].startswith("fgs_")
    assert session["user"]["email"] == tenant.admin_email
    assert session["workspace"]["id"] == tenant.id
    headers = {"Authorization": f"Bearer {session['token']}"}

    me = (await client.get("/api/v1/auth/me", headers=headers)).json()
    assert me["role"] == "admin"
    assert me["credential"]["kind"] == "session"

    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401


async def test_wrong_password_and_unknown_email_look_the_same(client, tenant):
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": tenant.admin_email, "password": "nope-nope"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "who@example.com", "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_demoting_a_user_limits_their_open_session_at_once(client, tenant):
    created = await client.post(
        "/api/v1/users",
        json={"email": "mia@example.com", "password": "mia-password", "role": "admin"},
        headers=tenant.headers(),
    )
    assert created.status_code == 201, created.text
    token = (
        await client.post("/api/v1/auth/login", json={"email": "mia@example.com", "password": "mia-password"})
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/users", headers=headers)).status_code == 200

    await client.patch(
        f"/api/v1/users/{created.json()['id']}", json={"role": "viewer"}, headers=tenant.headers()
    )
    assert (await client.get("/api/v1/users", headers=headers)).status_code == 403


async def test_login_is_rate_limited(client, tenant):
    statuses = []
    for _ in range(12):
        response = await client.post(
            "/api/v1/auth/login", json={"email": tenant.admin_email, "password": "wrong-pass"}
        )
        statuses.append(response.status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[-1] == 429
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"] == "rate_limited"


async def test_failed_logins_lock_only_that_account_and_success_resets(client, make_tenant):
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    for _ in range(9):
        await client.post("/api/v1/auth/login", json={"email": acme.admin_email, "password": "wrong-pass"})
    good = await client.post(
        "/api/v1/auth/login", json={"email": acme.admin_email, "password": acme.admin_password}
    )
    assert good.status_code == 200  # nine failures, then the right password: in, and the count starts over

    for _ in range(10):
        await client.post("/api/v1/auth/login", json={"email": acme.admin_email, "password": "wrong-pass"})
    locked = await client.post(
        "/api/v1/auth/login", json={"email": acme.admin_email, "password": acme.admin_password}
    )
    assert locked.status_code == 429  # even the right password waits out the lock
    other = await client.post(
        "/api/v1/auth/login", json={"email": globex.admin_email, "password": globex.admin_password}
    )
    assert other.status_code == 200
