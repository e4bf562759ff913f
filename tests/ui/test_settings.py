"""``/settings``: admins change the workspace's rules and find the public opt-out form's address; everyone
else reads them, and sees only the sections their role may open."""

from __future__ import annotations

import httpx
from nicegui import ui
from nicegui.testing.user import User

from tests.conftest import Tenant
from tests.ui.conftest import log_in_and_wait, only, see


async def open_settings(user: User, email: str, password: str) -> None:
    await log_in_and_wait(user, email, password, path="/login?next=/settings")
    await see(user, marker="settings-card")


async def api_settings(client: httpx.AsyncClient, tenant: Tenant) -> dict:
    response = await client.get("/api/v1/settings", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()


async def test_admin_changes_the_unsubscription_days_and_it_persists(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_settings(user, tenant.admin_email, tenant.admin_password)
    await see(user, marker="unsubscription-days")
    days = user.find(kind=ui.number, marker="unsubscription-days")
    assert only(user, marker="unsubscription-days").value == 30

    days.clear().type("45")
    user.find(marker="save-settings").click()
    await see(user, "Saved: opt-outs from campaign replies now last 45 days.")

    assert (await api_settings(client, tenant))["marketing_unsubscription_days"] == 45
    await user.open("/settings")
    await see(user, marker="unsubscription-days")
    assert only(user, marker="unsubscription-days").value == 45


async def test_region_time_zone_and_private_urls_are_saved_and_used(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_settings(user, tenant.admin_email, tenant.admin_password)
    region = only(user, marker="phone-region")
    assert region.value == ""
    assert region.options["PT"] == "Portugal (PT, +351)"
    region.set_value("PT")
    only(user, marker="timezone").set_value("Europe/Lisbon")
    user.find(marker="allow-private-urls").click()
    user.find(marker="save-settings").click()

    await see(user, "phone numbers without +country code are now read as Portugal (PT) numbers")
    settings = await api_settings(client, tenant)
    assert settings["default_phone_region"] == "PT"
    assert settings["timezone"] == "Europe/Lisbon"
    assert settings["allow_private_urls"] is True
    assert settings["marketing_unsubscription_days"] == 30  # untouched fields are not sent

    # The region is what the API now reads national numbers with.
    contact = await client.post("/api/v1/contacts", json={"phone": "912 345 678"}, headers=tenant.headers())
    assert contact.status_code == 201, contact.text
    assert contact.json()["phone"] == "+351912345678"

    # Saving again with nothing changed says so instead of writing an audit event.
    user.find(marker="save-settings").click()
    await see(user, "Nothing to save: the settings are as they were.")


async def test_a_bad_setting_is_named_under_its_field_in_words(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_settings(user, tenant.admin_email, tenant.admin_password)
    days = user.find(marker="unsubscription-days")
    field = only(user, marker="unsubscription-days")

    days.clear().type("0").trigger("keydown.enter")  # Enter saves too
    await see(user, marker="unsubscription-days", content="Enter a whole number between 1 and 3650 days.")
    assert field.props["error"] is True
    assert (await api_settings(client, tenant))["marketing_unsubscription_days"] == 30

    days.clear().type("60")
    user.find(marker="save-settings").click()
    await see(user, "Saved: opt-outs from campaign replies now last 60 days.")
    assert field.error is None

    days.clear().type("4000")
    user.find(marker="save-settings").click()
    await see(user, marker="unsubscription-days", content="Enter a whole number between 1 and 3650 days.")
    assert (await api_settings(client, tenant))["marketing_unsubscription_days"] == 60


async def test_the_public_opt_out_form_address_is_shown_with_a_copy_button(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_settings(user, tenant.admin_email, tenant.admin_password)
    await see(user, marker="optout-form-card")
    expected = (await api_settings(client, tenant))["optout_form_url"]
    assert "/optout?workspace=" in expected
    assert only(user, marker="optout-form-url").value == expected
    assert only(user, marker="open-optout-form").props["href"] == expected

    user.find(marker="copy-optout-form-url").click()
    await see(user, "Opt-out form address copied to the clipboard.")

    # The address is the real form of this workspace.
    url = httpx.URL(expected)
    form = await client.get(url.path, params=dict(url.params))
    assert form.status_code == 200
    assert "Acme" in form.text  # the form names the workspace it opts out of


async def test_viewer_reads_the_settings_and_sees_no_admin_sections(
    user: User, tenant: Tenant, add_user
) -> None:
    email, password = await add_user(tenant, "viewer")
    await log_in_and_wait(user, email, password)

    await see(user, marker="user-role", content="Viewer")
    await see(user, marker="read-only-note")
    await user.should_not_see(marker="nav-senders")

    user.find(marker="nav-settings").click()
    await see(user, marker="unsubscription-days-text", content="30 days")
    await see(user, marker="phone-region-text", content="None (numbers need their +country code)")
    await see(user, marker="timezone-text", content="UTC")
    await see(user, marker="allow-private-urls-text", content="Not allowed")
    await see(user, "Only workspace admins can change these settings.")
    await see(user, marker="optout-form-url")
    await user.should_not_see(marker="unsubscription-days")
    await user.should_not_see(marker="save-settings")
    await see(user, marker="tab-workspace")
    for tab in ("tab-users", "tab-api-keys", "tab-webhooks", "tab-audit-log"):
        await user.should_not_see(marker=tab)

    # Typing an admin section's address does not open it either.
    for path in ("/settings/users", "/settings/api-keys", "/settings/webhooks", "/settings/audit-log"):
        await user.open(path)
        await see(user, marker="admins-only")
        await user.should_not_see(marker="add-user")
        await user.should_not_see(marker="create-api-key")


async def test_marketer_sees_the_sections_but_not_senders(user: User, tenant: Tenant, add_user) -> None:
    email, password = await add_user(tenant, "marketer")
    await log_in_and_wait(user, email, password)
    for section in ("flows", "campaigns", "audience", "opt-outs", "settings"):
        await see(user, marker=f"nav-{section}")
    await user.should_not_see(marker="nav-senders")
    await user.should_not_see(marker="read-only-note")

    await user.open("/settings")
    await see(user, "Only workspace admins can change these settings.")
    await user.should_not_see(marker="tab-users")


async def test_admin_moves_between_the_sections_by_their_tabs(user: User, tenant: Tenant) -> None:
    await open_settings(user, tenant.admin_email, tenant.admin_password)
    assert only(user, marker="tab-active") is only(user, marker="tab-workspace")
    for marker, shows in (
        ("tab-users", "user-list"),
        ("tab-api-keys", "key-list"),
        ("tab-webhooks", "empty-state"),
        ("tab-audit-log", "audit-list"),
        ("tab-workspace", "settings-card"),
    ):
        user.find(marker=marker).click()
        await see(user, marker=shows)
        assert only(user, marker="tab-active") is only(user, marker=marker)
        await see(user, marker="nav-settings")
        assert only(user, marker="nav-active") is only(user, marker="nav-settings")
