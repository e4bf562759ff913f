"""The login page and the session check every other page makes."""

from __future__ import annotations

import httpx
import pytest
from nicegui import ui
from nicegui.testing.user import User

from tests.conftest import Tenant
from tests.ui.conftest import log_in, log_in_and_wait, only, see


async def test_wrong_password_says_so_and_stays_on_login(user: User, tenant: Tenant) -> None:
    await log_in(user, tenant.admin_email, "not the password")

    await see(user, "Wrong email or password.")
    await user.should_not_see(marker="workspace-name")
    assert only(user, marker="password").value == ""


async def test_empty_form_asks_for_both_fields_without_calling_the_api(user: User) -> None:
    await user.open("/login")
    user.find(marker="sign-in").click()
    await see(user, "Enter your email and password.")


async def test_login_shows_the_shell_with_workspace_user_and_navigation(user: User, tenant: Tenant) -> None:
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password)

    await see(user, marker="workspace-name", content="Acme")
    await see(user, marker="user-email", content=tenant.admin_email)
    await see(user, marker="user-role", content="Admin")
    for section in ("flows", "campaigns", "audience", "opt-outs", "senders", "settings"):
        await see(user, marker=f"nav-{section}")
    # "/" is the default target, and it leads to Flows, highlighted in the navigation.
    await see(user, marker="page-title", content="Flows")
    assert only(user, marker="nav-active") is only(user, marker="nav-flows")
    await see(user, marker="empty-state")


async def test_pages_need_a_session_and_login_returns_to_the_page_asked_for(
    user: User, tenant: Tenant
) -> None:
    await user.open("/campaigns")
    await see(user, marker="login-card")  # redirected, nothing of the page leaked
    await user.should_not_see(marker="page-title")

    user.find(marker="email").type(tenant.admin_email)
    user.find(marker="password").type(tenant.admin_password)
    user.find(marker="sign-in").click()

    await see(user, marker="page-title", content="Campaigns")
    assert user.back_history[-1] == "/campaigns"


async def test_navigation_moves_between_pages_and_highlights_the_current_one(
    user: User, tenant: Tenant
) -> None:
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password)
    user.find(marker="nav-opt-outs").click()
    await see(user, marker="page-title", content="Opt-outs")
    assert only(user, marker="nav-active") is only(user, marker="nav-opt-outs")


async def test_too_many_attempts_are_explained(user: User, tenant: Tenant, live_api: str) -> None:
    # Use up the account's ten failed attempts directly, then try once more through the UI.
    async with httpx.AsyncClient(base_url=live_api) as direct:
        for _ in range(10):
            response = await direct.post(
                "/api/v1/auth/login", json={"email": tenant.admin_email, "password": "wrong password"}
            )
            assert response.status_code == 401
    await log_in(user, tenant.admin_email, tenant.admin_password)
    await see(user, "Too many sign-in attempts.")
    await user.should_not_see(marker="workspace-name")


async def test_user_text_is_rendered_as_text(user: User, make_tenant) -> None:
    name = '<img src=x onerror="alert(1)"> & Co'
    tenant = await make_tenant(name)
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password)

    label = only(user, marker="workspace-name")
    assert isinstance(label, ui.label)  # a text node in the browser, never parsed as HTML
    assert label.text == name


async def test_logout_ends_the_session_at_the_api(user: User, tenant: Tenant, live_api: str) -> None:
    from tests.ui.conftest import stored_token

    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password)
    token = stored_token(user)
    async with httpx.AsyncClient(base_url=live_api) as direct:
        me = await direct.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200

        user.find(marker="logout").click()
        await see(user, marker="login-card")

        after = await direct.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert after.status_code == 401
    # And the UI forgot it: a protected page asks for the login again.
    await user.open("/flows")
    await see(user, marker="login-card")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/settings", "/settings"),
        ("/flows?x=1", "/flows?x=1"),
        (None, "/"),
        ("", "/"),
        ("//evil.example.com/", "/"),
        ("https://evil.example.com/", "/"),
        ("/\\evil.example.com", "/"),
        ("/login?next=/flows", "/"),
    ],
)
def test_next_only_leads_to_pages_of_this_site(target: str | None, expected: str) -> None:
    from ui.session import safe_next

    assert safe_next(target) == expected
