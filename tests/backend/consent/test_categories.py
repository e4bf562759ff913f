"""Marketing categories (seed 000): names, unsubscribe days, and a delete that never frees an opt-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.consent.rules import Target, entry_blocks
from backend.consent.tables import OptOutEntry

URL = "/api/v1/marketing-categories"
PERSON = "+351934567890"


async def _create(client, tenant, **fields) -> dict:
    response = await client.post(URL, json={"name": "Promotions", **fields}, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()


def _field(response) -> str:
    assert response.json()["errors"], response.json()
    return response.json()["errors"][0]["field"]


async def test_unsubscribe_days_default_to_the_workspace_setting(client, tenant):
    first = await _create(client, tenant, description="Sales and offers")
    assert first["unsubscribe_days"] == 30
    assert first["description"] == "Sales and offers"
    await client.patch(
        "/api/v1/settings", json={"marketing_unsubscription_days": 90}, headers=tenant.headers()
    )
    second = await _create(client, tenant, name="Newsletter")
    assert second["unsubscribe_days"] == 90
    explicit = await _create(client, tenant, name="Events", unsubscribe_days=7)
    assert explicit["unsubscribe_days"] == 7
    # A later settings change does not rewrite existing categories.
    assert (await client.get(f"{URL}/{first['id']}", headers=tenant.headers())).json()[
        "unsubscribe_days"
    ] == 30


async def test_list_read_and_filter_for_every_role(client, tenant):
    promotions = await _create(client, tenant)
    newsletter = await _create(client, tenant, name="Newsletter")
    for role in ("admin", "marketer", "viewer"):
        listed = (await client.get(URL, headers=tenant.headers(role))).json()
        assert [item["id"] for item in listed["items"]] == [promotions["id"], newsletter["id"]]
        one = (await client.get(f"{URL}/{newsletter['id']}", headers=tenant.headers(role))).json()
        assert one == newsletter
    found = (await client.get(f"{URL}?name=news", headers=tenant.headers())).json()["items"]
    assert [item["id"] for item in found] == [newsletter["id"]]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "Ok", "unsubscribe_days": 0}, "unsubscribe_days"),
        ({"name": "Ok", "unsubscribe_days": 3651}, "unsubscribe_days"),
        ({"name": "Ok", "unsubscribe_days": "ten"}, "unsubscribe_days"),
        ({"name": "Ok", "description": "d" * 501}, "description"),
        ({"name": "Ok", "colour": "red"}, "colour"),
    ],
)
async def test_bad_input_is_400_naming_the_field(client, tenant, payload, field):
    response = await client.post(URL, json=payload, headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert _field(response) == field
    assert (await client.get(URL, headers=tenant.headers())).json()["items"] == []


async def test_a_missing_name_is_400_naming_it(client, tenant):
    response = await client.post(URL, json={"unsubscribe_days": 5}, headers=tenant.headers())
    assert response.status_code == 400
    assert "`name`" in response.json()["detail"]


async def test_limits_are_inclusive(client, tenant):
    short = await _create(client, tenant, name="x" * 100, unsubscribe_days=3650)
    assert short["unsubscribe_days"] == 3650
    one = await _create(client, tenant, name="One day", unsubscribe_days=1)
    assert one["unsubscribe_days"] == 1


async def test_names_are_unique_per_workspace_ignoring_case(client, make_tenant):
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    await _create(client, acme)
    for name in ("Promotions", "promotions", "  PROMOTIONS "):
        response = await client.post(URL, json={"name": name}, headers=acme.headers())
        assert response.status_code == 409, name
        assert _field(response) == "name"
    await _create(client, globex)  # another workspace may use the name


async def test_patch_changes_only_what_was_sent(client, tenant):
    category = await _create(client, tenant, description="Offers", unsubscribe_days=14)
    response = await client.patch(
        f"{URL}/{category['id']}", json={"unsubscribe_days": 60}, headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    assert response.json() == {**category, "unsubscribe_days": 60}
    renamed = await client.patch(f"{URL}/{category['id']}", json={"name": "Deals"}, headers=tenant.headers())
    assert renamed.json()["name"] == "Deals"
    assert renamed.json()["description"] == "Offers"


@pytest.mark.parametrize(
    ("payload", "field", "status"),
    [
        ({"unsubscribe_days": 0}, "unsubscribe_days", 400),
        ({"name": ""}, "name", 400),
        ({"name": "NEWSLETTER"}, "name", 409),
        ({"days": 3}, "days", 400),
    ],
)
async def test_bad_patches_change_nothing(client, tenant, payload, field, status):
    category = await _create(client, tenant)
    await _create(client, tenant, name="Newsletter")
    response = await client.patch(f"{URL}/{category['id']}", json=payload, headers=tenant.headers())
    assert response.status_code == status, response.text
    assert _field(response) == field
    assert (await client.get(f"{URL}/{category['id']}", headers=tenant.headers())).json() == category


async def test_renaming_to_its_own_name_in_another_case_is_fine(client, tenant):
    category = await _create(client, tenant)
    response = await client.patch(
        f"{URL}/{category['id']}", json={"name": "PROMOTIONS"}, headers=tenant.headers()
    )
    assert response.status_code == 200
    assert response.json()["name"] == "PROMOTIONS"


@pytest.mark.parametrize("role", ["marketer", "viewer"])
async def test_only_admins_write(client, tenant, role):
    category = await _create(client, tenant)
    attempts = [
        await client.post(URL, json={"name": "Mine"}, headers=tenant.headers(role)),
        await client.patch(
            f"{URL}/{category['id']}", json={"unsubscribe_days": 1}, headers=tenant.headers(role)
        ),
        await client.delete(f"{URL}/{category['id']}", headers=tenant.headers(role)),
    ]
    assert [response.status_code for response in attempts] == [403, 403, 403]
    assert (await client.get(f"{URL}/{category['id']}", headers=tenant.headers())).json() == category


async def test_another_workspaces_category_is_404_on_every_route(client, make_tenant):
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    category = await _create(client, acme)
    for method, payload in (("GET", None), ("PATCH", {"name": "Mine"}), ("DELETE", None)):
        response = await client.request(
            method, f"{URL}/{category['id']}", json=payload, headers=globex.headers()
        )
        assert response.status_code == 404, method
    assert (await client.get(URL, headers=globex.headers())).json()["items"] == []
    assert (await client.get(f"{URL}/{category['id']}", headers=acme.headers())).json() == category


async def _opt_out(workspace_id: int, category_id: int | None, **extra) -> int:
    row = await OptOutEntry.insert(
        OptOutEntry(
            workspace=workspace_id,
            channel="sms",
            address=extra.pop("address", PERSON),
            category=category_id,
            source="manual",
            created_by="test",
            updated_at=datetime.now(UTC) - timedelta(days=1),
            **extra,
        )
    ).returning(OptOutEntry.id)
    return row[0]["id"]


async def _entry(entry_id: int) -> dict | None:
    return await OptOutEntry.select().where(OptOutEntry.id == entry_id).first()


async def test_deleting_a_category_turns_its_active_opt_outs_into_all_marketing(client, tenant):
    promotions = await _create(client, tenant)
    newsletter = await _create(client, tenant, name="Newsletter")
    now = datetime.now(UTC)
    permanent = await _opt_out(tenant.id, promotions["id"])
    for_a_while = await _opt_out(
        tenant.id, promotions["id"], address="+351934567891", valid_until=now + timedelta(days=9)
    )
    expired = await _opt_out(
        tenant.id, promotions["id"], address="+351934567892", valid_until=now - timedelta(days=1)
    )
    revoked = await _opt_out(tenant.id, promotions["id"], address="+351934567893", revoked_at=now)
    other_category = await _opt_out(tenant.id, newsletter["id"])

    response = await client.delete(f"{URL}/{promotions['id']}", headers=tenant.headers())
    assert response.status_code == 204
    assert (await client.get(f"{URL}/{promotions['id']}", headers=tenant.headers())).status_code == 404

    kept = await _entry(permanent)
    assert kept is not None, "the opt-out was lost with its category"
    assert kept["category"] is None
    assert kept["updated_at"] > now - timedelta(minutes=1)
    timed = await _entry(for_a_while)
    assert timed["category"] is None
    assert timed["valid_until"] > now + timedelta(days=8)  # its validity is unchanged
    # Entries that block nothing any more go with the category (the consent events keep their story).
    assert await _entry(expired) is None
    assert await _entry(revoked) is None
    assert (await _entry(other_category))["category"] == newsletter["id"]
    # The person now blocks every marketing category, the remaining one included.
    target = Target(workspace_id=tenant.id, channel="sms", category_id=newsletter["id"])
    assert entry_blocks(kept, target, PERSON, datetime.now(UTC))
    event = (
        await client.get("/api/v1/audit-log?action=marketing_category.deleted", headers=tenant.headers())
    ).json()["items"][0]
    assert event["target_id"] == str(promotions["id"])
    assert event["data"]["opt_outs_made_all_marketing"] == 2


async def test_a_refused_category_delete_changes_nothing(client, make_tenant):
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    category = await _create(client, acme)
    entry_id = await _opt_out(acme.id, category["id"])
    assert (await client.delete(f"{URL}/{category['id']}", headers=globex.headers())).status_code == 404
    assert (
        await client.delete(f"{URL}/{category['id']}", headers=acme.headers("marketer"))
    ).status_code == 403
    assert (await _entry(entry_id))["category"] == category["id"]


async def test_changes_are_audited(client, tenant):
    category = await _create(client, tenant)
    await client.patch(f"{URL}/{category['id']}", json={"unsubscribe_days": 45}, headers=tenant.headers())
    events = (await client.get("/api/v1/audit-log", headers=tenant.headers())).json()["items"]
    actions = [event["action"] for event in events if event["target_type"] == "marketing_category"]
    assert actions == ["marketing_category.created", "marketing_category.updated"]
    updated = next(event for event in events if event["action"] == "marketing_category.updated")
    assert updated["data"]["changes"]["unsubscribe_days"] == {"from": 30, "to": 45}
