"""``/settings/api-keys``: a new key is shown once, with a copy button, and works against the API; revoking
it (after a confirmation) makes the API answer 401; the list shows what identifies a key, never the key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from nicegui.testing.user import User

from tests.backend.webhooks.helpers import run_worker
from tests.conftest import Tenant
from tests.ui.conftest import log_in_and_wait, only, see
from ui.pages.settings_api_keys import expires_at, is_usable, key_state, last_used_text


async def open_keys(user: User, tenant: Tenant) -> None:
    await log_in_and_wait(
        user, tenant.admin_email, tenant.admin_password, path="/login?next=/settings/api-keys"
    )
    await see(user, marker="key-list")


async def create_key_in_ui(user: User, name: str, role: str = "viewer", expiry: int = 0) -> str:
    user.find(marker="create-api-key").click()
    await see(user, marker="create-key-dialog")
    user.find(marker="new-key-name").type(name)
    only(user, marker="new-key-role").set_value(role)
    only(user, marker="new-key-expiry").set_value(expiry)
    user.find(marker="confirm-create-key").click()
    await see(user, marker="new-api-key")
    return only(user, marker="new-api-key").value


def me(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_new_key_is_shown_once_and_works_against_the_api(
    user: User, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    await open_keys(user, tenant)
    key = await create_key_in_ui(user, "CRM opt-out sync", role="viewer")

    assert key.startswith("fgk_")
    await see(user, marker="shown-once")
    await see(
        user,
        "it is shown this once",
    )
    await see(user, marker="copy-new-api-key")
    user.find(marker="copy-new-api-key").click()
    await see(user, "API key copied to the clipboard.")
    assert only(user, marker="create-key-dialog")  # still open: it waits until the admin says so
    answer = await client.get("/api/v1/auth/me", headers=me(key))
    assert answer.status_code == 200
    assert answer.json()["role"] == "viewer"
    assert answer.json()["credential"]["name"] == "CRM opt-out sync"
    assert (await client.get("/api/v1/users", headers=me(key))).status_code == 403  # a viewer key reads only

    user.find(marker="close-new-key").click()
    await user.should_not_see(marker="new-api-key")
    await see(user, marker="key-name", content="CRM opt-out sync")
    prefix = answer.json()["credential"]["prefix"]
    await see(user, marker="key-prefix", content=f"{prefix}_…")

    # Once closed, the key is nowhere on the page, and a reload does not bring it back. The worker
    # records when a key was last used (the API queues that write); run it, then look.
    await run_worker(redis_url)
    await user.open("/settings/api-keys")
    await see(user, marker="key-list")
    secret_part = key.removeprefix(prefix)
    for text in (key, secret_part):
        await user.should_not_see(text, retries=1)
    await see(user, marker="key-last-used", content="just now")


async def test_revoking_a_key_asks_first_and_then_the_api_refuses_it(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_keys(user, tenant)
    key = await create_key_in_ui(user, "Old integration", role="marketer")
    user.find(marker="close-new-key").click()
    await see(user, marker="key-name", content="Old integration")
    key_id = next(
        item["id"]
        for item in (await client.get("/api/v1/api-keys", headers=tenant.headers())).json()["items"]
        if item["name"] == "Old integration"
    )

    with user.scope(marker=f"key-{key_id}"):
        user.find(marker="revoke-key").click()
    await see(user, marker="revoke-dialog")
    await see(
        user,
        "Programs using the key that starts with fgk_",
    )
    user.find("Cancel").click()
    assert (await client.get("/api/v1/auth/me", headers=me(key))).status_code == 200  # cancelled: still works

    with user.scope(marker=f"key-{key_id}"):
        user.find(marker="revoke-key").click()
    user.find(marker="confirm-revoke").click()
    await see(user, "Revoked “Old integration”: it no longer works.")
    assert (await client.get("/api/v1/auth/me", headers=me(key))).status_code == 401
    await see(user, marker=f"key-{key_id}")
    with user.scope(marker=f"key-{key_id}"):
        await see(user, marker="key-state", content="Revoked just now")
        await user.should_not_see(marker="revoke-key")


async def test_a_key_needs_a_name_and_can_expire(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_keys(user, tenant)
    user.find(marker="create-api-key").click()
    await see(user, marker="create-key-dialog")
    user.find(marker="confirm-create-key").click()
    await see(user, marker="new-key-name", content="Enter a name, e.g. the program that will use the key.")

    user.find(marker="new-key-name").type("Quarterly export")
    only(user, marker="new-key-expiry").set_value(30)
    user.find(marker="confirm-create-key").click()
    await see(user, marker="new-api-key")
    user.find(marker="close-new-key").click()
    await see(user, marker="key-state", content="Expires in 29 days")
    made = next(
        item
        for item in (await client.get("/api/v1/api-keys", headers=tenant.headers())).json()["items"]
        if item["name"] == "Quarterly export"
    )
    assert made["expires_at"] is not None


async def test_marketers_cannot_reach_api_keys(user: User, tenant: Tenant, add_user) -> None:
    email, password = await add_user(tenant, "marketer")
    await log_in_and_wait(user, email, password, path="/login?next=/settings/api-keys")
    await see(user, marker="admins-only")
    await user.should_not_see(marker="create-api-key")


def test_key_states_read_as_words() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    base = {
        "id": 1,
        "name": "k",
        "role": "viewer",
        "prefix": "fgk_x",
        "created_at": "2026-04-01T00:00:00Z",
        "expires_at": None,
        "revoked_at": None,
        "last_used_at": None,
        "created_by": None,
    }
    assert key_state(base, now)[0] == "Active"
    assert key_state({**base, "revoked_at": "2026-04-28T12:00:00Z"}, now)[0] == "Revoked 3 days ago"
    assert key_state({**base, "expires_at": "2026-04-30T00:00:00Z"}, now)[0] == "Expired"
    assert key_state({**base, "expires_at": "2026-05-11T12:00:00Z"}, now)[0] == "Expires in 10 days"
    assert key_state({**base, "expires_at": "2026-05-01T18:00:00Z"}, now)[0] == "Expires today"
    assert not is_usable({**base, "expires_at": "2026-04-30T00:00:00Z"}, now)
    assert is_usable(base, now)
    assert last_used_text(base, now) == "Never"
    assert last_used_text({**base, "last_used_at": "2026-05-01T11:00:00Z"}, now) == "1 hour ago"
    assert expires_at(0, now) is None
    assert expires_at(30, now) == (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
