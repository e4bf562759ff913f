"""Users: admins manage them; emails are unique and normalised; the last admin is protected."""

from __future__ import annotations


async def _create(client, tenant, **body):
    payload = {"email": "sam@example.com", "password": "sam-password", "role": "marketer", **body}
    return await client.post("/api/v1/users", json=payload, headers=tenant.headers())


async def test_create_normalises_email_and_hides_the_password(client, tenant):
    response = await _create(client, tenant, email="  Sam@Example.COM ")
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["email"] == "sam@example.com"
    assert "password" not in user and "password_hash" not in user


async def test_duplicate_email_is_a_conflict(client, tenant):
    await _create(client, tenant)
    response = await _create(client, tenant, email="SAM@example.com")
    assert response.status_code == 409
    assert "email" in response.json()["detail"]


async def test_bad_inputs_name_the_field(client, tenant):
    cases = [
        ({"email": "not-an-email"}, "email"),
        ({"password": "short"}, "password"),
        ({"role": "owner"}, "role"),
    ]
    for body, field in cases:
        response = await _create(client, tenant, **body)
        assert response.status_code == 400, body
        assert response.json()["errors"][0]["field"] == field
    assert len((await client.get("/api/v1/users", headers=tenant.headers())).json()["items"]) == 1


async def test_new_password_works_and_ends_other_sessions(client, tenant):
    user = (await _create(client, tenant)).json()
    old_session = (
        await client.post("/api/v1/auth/login", json={"email": "sam@example.com", "password": "sam-password"})
    ).json()["token"]
    response = await client.patch(
        f"/api/v1/users/{user['id']}", json={"password": "a-new-password"}, headers=tenant.headers()
    )
    assert response.status_code == 200
    assert (
        await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {old_session}"})
    ).status_code == 401
    login = await client.post(
        "/api/v1/auth/login", json={"email": "sam@example.com", "password": "a-new-password"}
    )
    assert login.status_code == 200


async def test_last_admin_cannot_be_demoted_or_deleted(client, tenant):
    admin = (await client.get("/api/v1/users", headers=tenant.headers())).json()["items"][0]
    demote = await client.patch(
        f"/api/v1/users/{admin['id']}", json={"role": "viewer"}, headers=tenant.headers()
    )
    assert demote.status_code == 409
    delete = await client.delete(f"/api/v1/users/{admin['id']}", headers=tenant.headers())
    assert delete.status_code == 409

    second = (await _create(client, tenant, email="second@example.com", role="admin")).json()
    assert (
        await client.patch(f"/api/v1/users/{admin['id']}", json={"role": "viewer"}, headers=tenant.headers())
    ).status_code == 200
    assert (await client.delete(f"/api/v1/users/{second['id']}", headers=tenant.headers())).status_code == 409


async def test_deleting_a_user_ends_their_sessions(client, tenant):
    user = (await _create(client, tenant)).json()
    token = (
        await client.post("/api/v1/auth/login", json={"email": "sam@example.com", "password": "sam-password"})
    ).json()["token"]
    assert (await client.delete(f"/api/v1/users/{user['id']}", headers=tenant.headers())).status_code == 204
    assert (
        await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 401


async def test_listing_pages_with_a_cursor(client, tenant):
    for n in range(5):
        await _create(client, tenant, email=f"user{n}@example.com")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/users", params=params, headers=tenant.headers())).json()
        assert len(page["items"]) <= 2
        seen += [item["email"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 6 == len(set(seen))


async def test_bad_cursor_and_limit_name_the_parameter(client, tenant):
    response = await client.get("/api/v1/users", params={"cursor": "garbage!"}, headers=tenant.headers())
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"
    response = await client.get("/api/v1/users", params={"limit": 0}, headers=tenant.headers())
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "limit"


async def test_an_admin_may_delete_their_own_user_and_the_audit_log_keeps_who_did_it(client, tenant):
    """Found by the API fuzzer: the audit record was written after the delete and named the deleted user,
    a foreign key error (a 500) on PostgreSQL."""
    from backend.audit.tables import AuditEvent

    me = (await client.get("/api/v1/auth/me", headers=tenant.headers())).json()
    assert (await _create(client, tenant, email="second@example.com", role="admin")).status_code == 201
    deleted = await client.delete(f"/api/v1/users/{me['user']['id']}", headers=tenant.headers())
    assert deleted.status_code == 204, deleted.text
    event = await AuditEvent.select().where(AuditEvent.action == "user.deleted").first()
    assert event["target_id"] == str(me["user"]["id"])
    assert event["actor_user"] is None  # the user is gone; the label still says who it was
    assert event["actor_label"]
