"""The audit log answers "who changed what": keys, users and settings, with the actor named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


async def test_key_and_user_changes_are_recorded_with_their_actor(client, tenant):
    key = (
        await client.post(
            "/api/v1/api-keys", json={"name": "CRM", "role": "viewer"}, headers=tenant.headers()
        )
    ).json()
    await client.delete(f"/api/v1/api-keys/{key['id']}", headers=tenant.headers())
    await client.post(
        "/api/v1/users",
        json={"email": "kim@example.com", "password": "kim-password", "role": "viewer"},
        headers=tenant.headers(),
    )
    events = (await client.get("/api/v1/audit-log", headers=tenant.headers())).json()["items"]
    actions = [event["action"] for event in events]
    assert actions[0] == "workspace.created"
    assert {"api_key.created", "api_key.revoked", "user.created"} <= set(actions)
    revoked = next(event for event in events if event["action"] == "api_key.revoked")
    assert revoked["target_id"] == str(key["id"])
    assert revoked["actor"].startswith("API key 'Initial admin key'")
    assert "key" not in revoked["data"]  # never the secret


async def test_filters_by_action_and_time(client, tenant):
    await client.post("/api/v1/api-keys", json={"name": "CRM", "role": "viewer"}, headers=tenant.headers())
    created = (await client.get("/api/v1/audit-log?action=api_key.created", headers=tenant.headers())).json()[
        "items"
    ]
    # The tenant fixture made two keys before this test's one.
    assert len(created) == 3
    future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    later = (await client.get("/api/v1/audit-log", params={"since": future}, headers=tenant.headers())).json()
    assert later["items"] == []


async def test_login_session_actions_name_the_user(client, tenant):
    session = (
        await client.post(
            "/api/v1/auth/login", json={"email": tenant.admin_email, "password": tenant.admin_password}
        )
    ).json()
    headers = {"Authorization": f"Bearer {session['token']}"}
    await client.patch("/api/v1/settings", json={"marketing_unsubscription_days": 60}, headers=headers)
    event = (await client.get("/api/v1/audit-log?action=settings.updated", headers=headers)).json()["items"][
        0
    ]
    assert event["actor"] == tenant.admin_email
    assert event["actor_user_id"] == session["user"]["id"]
