"""The settings page: admins change the unsubscription duration, everyone else reads it."""

from __future__ import annotations

import httpx
from nicegui import ui
from nicegui.testing.user import User

from tests.conftest import Tenant
from tests.ui.conftest import log_in_and_wait, only, see


async def test_admin_changes_the_unsubscription_days_and_it_persists(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password, path="/login?next=/settings")
    await see(user, marker="unsubscription-days")
    days = user.find(kind=ui.number, marker="unsubscription-days")
    assert only(user, marker="unsubscription-days").value == 30

    days.clear().type("45")
    user.find(marker="save-settings").click()
    await see(user, "Saved: opt-outs from campaign replies now last 45 days.")

    response = await client.get("/api/v1/settings", headers=tenant.headers())
    assert response.json()["marketing_unsubscription_days"] == 45
    await user.open("/settings")
    await see(user, marker="unsubscription-days")
    assert only(user, marker="unsubscription-days").value == 45


async def test_a_value_the_api_rejects_shows_its_message_under_the_field(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password, path="/login?next=/settings")
    await see(user, marker="unsubscription-days")
    days = user.find(marker="unsubscription-days")

    days.clear().type("0").trigger("keydown.enter")  # Enter saves too
    await see(user, marker="unsubscription-days", content=">= 1")  # the API's own words, under the field
    field = only(user, marker="unsubscription-days")
    assert field.props["error"] is True

    response = await client.get("/api/v1/settings", headers=tenant.headers())
    assert response.json()["marketing_unsubscription_days"] == 30

    days.clear().type("60")
    user.find(marker="save-settings").click()
    await see(user, "Saved: opt-outs from campaign replies now last 60 days.")
    assert field.error is None


async def test_viewer_sees_no_senders_and_cannot_edit_settings(user: User, tenant: Tenant, add_user) -> None:
    email, password = await add_user(tenant, "viewer")
    await log_in_and_wait(user, email, password)

    await see(user, marker="user-role", content="Viewer")
    await see(user, marker="nav-settings")
    await see(user, marker="read-only-note")
    await user.should_not_see(marker="nav-senders")

    user.find(marker="nav-settings").click()
    await see(user, marker="unsubscription-days-text", content="30 days")
    await see(user, "Only workspace admins can change this.")
    await user.should_not_see(marker="unsubscription-days")
    await user.should_not_see(marker="save-settings")

    # Typing the address does not open the admin-only page either.
    await user.open("/senders")
    await see(user, "Admins only")


async def test_marketer_sees_the_sections_but_not_senders(user: User, tenant: Tenant, add_user) -> None:
    email, password = await add_user(tenant, "marketer")
    await log_in_and_wait(user, email, password)
    for section in ("flows", "campaigns", "audience", "opt-outs", "settings"):
        await see(user, marker=f"nav-{section}")
    await user.should_not_see(marker="nav-senders")
    await user.should_not_see(marker="read-only-note")
