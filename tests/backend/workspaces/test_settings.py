"""Workspace settings: defaults, validation that names the field, partial updates, audit."""

from __future__ import annotations

import pytest


async def test_defaults_to_thirty_days(client, tenant):
    response = await client.get("/api/v1/settings", headers=tenant.headers("viewer"))
    assert response.status_code == 200
    settings = response.json()
    form_url = settings.pop("optout_form_url")
    assert settings == {
        "marketing_unsubscription_days": 30,
        "allow_private_urls": False,
        "default_phone_region": "",
        "timezone": "UTC",
    }
    assert f"/optout?workspace={tenant.id}-" in form_url


async def test_patch_changes_and_persists(client, tenant):
    response = await client.patch(
        "/api/v1/settings", json={"marketing_unsubscription_days": 14}, headers=tenant.headers()
    )
    assert response.json()["marketing_unsubscription_days"] == 14
    assert (await client.get("/api/v1/settings", headers=tenant.headers())).json()[
        "marketing_unsubscription_days"
    ] == 14


async def test_empty_patch_keeps_values(client, tenant):
    await client.patch(
        "/api/v1/settings", json={"marketing_unsubscription_days": 7}, headers=tenant.headers()
    )
    response = await client.patch("/api/v1/settings", json={}, headers=tenant.headers())
    assert response.status_code == 200
    assert response.json()["marketing_unsubscription_days"] == 7


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"marketing_unsubscription_days": 0}, "marketing_unsubscription_days", ">= 1"),
        ({"marketing_unsubscription_days": 3651}, "marketing_unsubscription_days", "<= 3650"),
        ({"marketing_unsubscription_days": "thirty"}, "marketing_unsubscription_days", "Expected `int`"),
        ({"marketing_unsubscription_days": None}, "marketing_unsubscription_days", "got `null`"),
        ({"marketing_unsubscription_day": 5}, "marketing_unsubscription_day", "unknown field"),
        ({"default_phone_region": "XX"}, "default_phone_region", "ISO 3166"),
        ({"default_phone_region": "Portugal"}, "default_phone_region", "such as PT"),
        ({"timezone": "Mars/Olympus"}, "timezone", "IANA"),
    ],
)
async def test_bad_values_name_the_field_and_change_nothing(client, tenant, body, field, fragment):
    response = await client.patch("/api/v1/settings", json=body, headers=tenant.headers())
    assert response.status_code == 400
    error = response.json()
    assert error["error"] == "validation_error"
    assert error["errors"][0]["field"] == field
    assert fragment in error["errors"][0]["message"]
    assert field in error["detail"]
    assert (await client.get("/api/v1/settings", headers=tenant.headers())).json()[
        "marketing_unsubscription_days"
    ] == 30


async def test_malformed_json_is_a_400_in_the_same_shape(client, tenant):
    response = await client.patch(
        "/api/v1/settings",
        content=b'{"marketing_unsubscription_days": ',
        headers={**tenant.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert set(response.json()) == {"status_code", "error", "detail", "errors"}


async def test_changes_are_audited_with_before_and_after(client, tenant):
    await client.patch(
        "/api/v1/settings", json={"marketing_unsubscription_days": 45}, headers=tenant.headers()
    )
    events = (await client.get("/api/v1/audit-log?action=settings.updated", headers=tenant.headers())).json()[
        "items"
    ]
    assert len(events) == 1
    assert events[0]["data"] == {"marketing_unsubscription_days": {"from": 30, "to": 45}}
    assert events[0]["actor"].startswith("API key 'Initial admin key'")
