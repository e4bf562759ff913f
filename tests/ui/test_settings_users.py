"""``/settings/users``: an admin adds people, changes roles, sets passwords and removes people; the API's
refusal to leave the workspace without an admin is shown in its own words."""

from __future__ import annotations

import httpx
from nicegui.testing.user import User

from tests.conftest import Tenant
from tests.ui.conftest import log_in_and_wait, only, see
from ui.pages.settings_users import generated_password, initials


async def open_users(user: User, tenant: Tenant) -> None:
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password, path="/login?next=/settings/users")
    await see(user, marker="user-list")


async def users_by_email(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, dict]:
    response = await client.get("/api/v1/users", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return {member["email"]: member for member in response.json()["items"]}


async def test_the_list_marks_who_you_are(user: User, tenant: Tenant, add_user) -> None:
    marketer_email, _ = await add_user(tenant, "marketer")
    await open_users(user, tenant)
    await see(user, marker="member-email", content=tenant.admin_email)
    await see(user, marker="member-email", content=marketer_email)
    await see(user, marker="user-you")
    assert len(user.find(marker="user-you").elements) == 1
    await see(user, marker="user-count", content="2 users")


async def test_admin_adds_a_user_who_can_then_sign_in(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_users(user, tenant)
    user.find(marker="add-user").click()
    await see(user, marker="add-user-dialog")
    user.find(marker="new-user-email").type("Jane.Doe@Example.com")
    user.find(marker="new-user-name").type("Jane Doe")
    only(user, marker="new-user-role").set_value("viewer")
    user.find(marker="new-user-password").type("a long enough password")
    user.find(marker="create-user").click()

    await see(user, "Added jane.doe@example.com as viewer; they can sign in now.")
    await see(user, marker="user-name", content="Jane Doe")
    added = (await users_by_email(client, tenant))["jane.doe@example.com"]
    assert (added["name"], added["role"]) == ("Jane Doe", "viewer")
    login = await client.post(
        "/api/v1/auth/login", json={"email": "jane.doe@example.com", "password": "a long enough password"}
    )
    assert login.status_code == 200
    assert login.json()["user"]["role"] == "viewer"


async def test_bad_input_is_named_under_the_field(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_users(user, tenant)
    user.find(marker="add-user").click()
    await see(user, marker="add-user-dialog")
    user.find(marker="new-user-email").type("not-an-email")
    user.find(marker="new-user-password").type("short")
    user.find(marker="create-user").click()
    await see(user, marker="new-user-password", content="Too short: at least 8 characters.")

    user.find(marker="new-user-password").type(" but now long")
    user.find(marker="create-user").click()
    await see(
        user, marker="new-user-email", content="An email address must have an @-sign."
    )  # the API's words
    assert only(user, marker="new-user-password").error is None

    # An address that is taken: the API's 409 names the email field.
    only(user, marker="new-user-email").set_value(tenant.admin_email)
    user.find(marker="create-user").click()
    await see(user, marker="new-user-email", content="already exists")
    assert len(await users_by_email(client, tenant)) == 1


async def test_a_generated_password_fills_the_field_and_is_long(user: User, tenant: Tenant) -> None:
    await open_users(user, tenant)
    user.find(marker="add-user").click()
    user.find(marker="generate-password").click()
    await see(user, "A new password is in the field and on the clipboard.")
    password = only(user, marker="new-user-password").value
    assert len(password) == 16 and password.isalnum()


async def test_admin_changes_a_role(user: User, tenant: Tenant, client: httpx.AsyncClient, add_user) -> None:
    email, _ = await add_user(tenant, "marketer")
    member = (await users_by_email(client, tenant))[email]
    await open_users(user, tenant)
    await see(user, marker=f"user-{member['id']}")
    with user.scope(marker=f"user-{member['id']}"):
        only(user, marker="user-role-select").set_value("admin")
    await see(user, "is now admin.")
    assert (await users_by_email(client, tenant))[email]["role"] == "admin"


async def test_the_last_admin_cannot_demote_themselves_and_reads_why(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    me = (await users_by_email(client, tenant))[tenant.admin_email]
    await open_users(user, tenant)
    with user.scope(marker=f"user-{me['id']}"):
        only(user, marker="user-role-select").set_value("viewer")
    await see(user, marker="demote-self-dialog")
    await see(
        user,
        "You will lose access to users, API keys, webhooks, senders and the audit log at once",
    )
    user.find(marker="confirm-demote-self").click()

    await see(user, "Role not changed: The workspace's last admin cannot be demoted.")
    with user.scope(marker=f"user-{me['id']}"):
        select = only(user, marker="user-role-select")
    assert select.value == "admin"  # back to what the API still holds
    assert select.error == "The workspace's last admin cannot be demoted."
    assert (await users_by_email(client, tenant))[tenant.admin_email]["role"] == "admin"


async def test_cancelling_your_own_demotion_keeps_your_role(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    me = (await users_by_email(client, tenant))[tenant.admin_email]
    await open_users(user, tenant)
    with user.scope(marker=f"user-{me['id']}"):
        only(user, marker="user-role-select").set_value("marketer")
    await see(user, marker="demote-self-dialog")
    user.find("Cancel").click()
    await user.should_not_see(marker="demote-self-dialog", retries=20)
    with user.scope(marker=f"user-{me['id']}"):
        assert only(user, marker="user-role-select").value == "admin"
    assert (await users_by_email(client, tenant))[tenant.admin_email]["role"] == "admin"


async def test_the_last_admin_cannot_remove_themselves(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    me = (await users_by_email(client, tenant))[tenant.admin_email]
    await open_users(user, tenant)
    with user.scope(marker=f"user-{me['id']}"):
        user.find(marker="remove-user").click()
    await see(user, "Remove yourself from the workspace?")
    user.find(marker="confirm-remove-user").click()
    await see(user, "Not removed: The workspace's last admin cannot be deleted.")
    assert tenant.admin_email in await users_by_email(client, tenant)


async def test_admin_removes_someone_and_their_sign_in_stops(
    user: User, tenant: Tenant, client: httpx.AsyncClient, add_user
) -> None:
    email, password = await add_user(tenant, "marketer")
    member = (await users_by_email(client, tenant))[email]
    await open_users(user, tenant)
    with user.scope(marker=f"user-{member['id']}"):
        user.find(marker="remove-user").click()
    await see(user, marker="remove-user-dialog")
    user.find(marker="confirm-remove-user").click()
    await see(user, f"Removed {email} from the workspace.")
    await user.should_not_see(marker=f"user-{member['id']}")
    assert email not in await users_by_email(client, tenant)
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 401


async def test_admin_sets_a_new_password(
    user: User, tenant: Tenant, client: httpx.AsyncClient, add_user
) -> None:
    email, old_password = await add_user(tenant, "viewer")
    member = (await users_by_email(client, tenant))[email]
    await open_users(user, tenant)
    with user.scope(marker=f"user-{member['id']}"):
        user.find(marker="set-password").click()
    await see(user, marker="password-dialog")
    user.find(marker="new-password").type("short")
    user.find(marker="save-password").click()
    await see(user, marker="new-password", content="Too short: at least 8 characters.")
    only(user, marker="new-password").set_value("a brand new password")
    user.find(marker="save-password").click()
    await see(user, f"New password set for {email}.")
    new = await client.post("/api/v1/auth/login", json={"email": email, "password": "a brand new password"})
    old = await client.post("/api/v1/auth/login", json={"email": email, "password": old_password})
    assert (new.status_code, old.status_code) == (200, 401)


def test_generated_passwords_differ_and_initials_read_names() -> None:
    assert generated_password() != generated_password()
    assert (
        initials({"id": 1, "email": "jane@x.com", "name": "Jane Doe", "role": "admin", "created_at": ""})
        == "JD"
    )
    assert (
        initials({"id": 1, "email": "ana.silva@x.com", "name": "", "role": "admin", "created_at": ""}) == "AS"
    )
