"""``/settings/audit-log``: who changed what, newest first, in words, filtered by action and day, with
older events a click away."""

from __future__ import annotations

import httpx
from nicegui.testing.user import User

from tests.conftest import Tenant
from tests.ui.conftest import log_in_and_wait, only, see
from ui.pages.settings_audit import action_text, details_text, since_param, target_text


async def open_audit(user: User, tenant: Tenant) -> None:
    await log_in_and_wait(
        user, tenant.admin_email, tenant.admin_password, path="/login?next=/settings/audit-log"
    )
    await see(user, marker="audit-list")


def in_page_order(user: User, marker: str) -> list[str]:
    """The texts of the elements with ``marker``, top to bottom (elements are made in drawing order)."""
    return [element.text for element in sorted(user.find(marker=marker).elements, key=lambda e: e.id)]


async def test_events_read_newest_first_in_words(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await client.patch(
        "/api/v1/settings", json={"marketing_unsubscription_days": 45}, headers=tenant.headers()
    )
    await open_audit(user, tenant)

    whats = in_page_order(user, "audit-what")
    assert whats[0] == "Settings changed"
    assert whats[-1] == "Workspace created"  # the oldest event, drawn last
    assert in_page_order(user, "audit-details")[0] == "marketing unsubscription days: 30 → 45"
    assert in_page_order(user, "audit-who")[0].startswith("API key 'Initial admin key'")


async def test_filters_by_action_and_day_and_says_when_nothing_matches(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    created = await client.post(
        "/api/v1/api-keys", json={"name": "Short-lived", "role": "viewer"}, headers=tenant.headers()
    )
    await client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=tenant.headers())
    await open_audit(user, tenant)
    await see(user, marker="audit-what", content="API key revoked")
    await see(user, marker="audit-what", content="Workspace created")

    user.find(marker="audit-action").type("api_key.revoked")
    await see(user, marker="audit-count", content="1 event")
    await see(user, marker="audit-what", content="API key revoked")
    await see(user, marker="audit-details", content="name: Short-lived")
    await user.should_not_see(marker="audit-what", content="Workspace created")

    only(user, marker="audit-since").set_value("2999-01-01")
    await see(user, "No events match")

    only(user, marker="audit-since").set_value(None)
    only(user, marker="audit-action").set_value("")
    await see(user, marker="audit-what", content="Workspace created")


async def test_older_events_load_with_the_cursor(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    for days in range(1, 56):
        await client.patch(
            "/api/v1/settings", json={"marketing_unsubscription_days": days}, headers=tenant.headers()
        )
    await open_audit(user, tenant)
    await see(user, marker="audit-count", content="50 events; older ones to load")
    user.find(marker="load-more").click()
    await see(user, marker="audit-count", content="58 events")  # 55 changes, a workspace and two keys
    await user.should_not_see(marker="load-more")
    await see(user, marker="audit-what", content="Workspace created")


def test_actions_details_and_days_read_as_words() -> None:
    assert action_text("api_key.revoked") == "API key revoked"
    assert action_text("marketing_category.updated") == "Marketing category changed"
    assert action_text("campaign.opted_in_only_off") == "Campaign sent beyond opted-in contacts"
    assert action_text("something_new.happened") == "Something new happened"
    assert details_text({"allow_private_urls": {"from": False, "to": True}}) == "allow private urls: no → yes"
    assert details_text({"events": ["*"], "url": "https://x"}) == "events: * · url: https://x"
    assert details_text({"text": "x" * 500}, limit=20).endswith("…")
    assert len(details_text({"text": "x" * 500}, limit=20)) == 20
    event = {"target_type": "api_key", "target_id": "7"}
    assert target_text(event) == "API key #7"  # type: ignore[arg-type]
    assert since_param("2026-11-20") == "2026-11-20T00:00:00Z"
    assert since_param("") is None
