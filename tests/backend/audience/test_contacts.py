"""Contacts over the API: validation that names the field, normalised addresses, one contact per
address, partial updates, filters, and deletion that leaves the consent history alone."""

from __future__ import annotations

import asyncio

import pytest

URL = "/api/v1/contacts"


async def _create(client, tenant, role="marketer", **body):
    return await client.post(URL, json=body, headers=tenant.headers(role))


async def test_create_read_update_delete(client, tenant):
    created = await _create(
        client,
        tenant,
        phone="+351 912 345 678",
        email="Ana.Silva@Example.COM",
        name=" Ana Silva ",
        attributes={"plan": "gold", "visits": 3, "vip": True, "langs": ["pt", "en"]},
        tags=["vip", " lisbon ", "vip"],
        timezone="Europe/Lisbon",
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["phone"] == "+351912345678"
    assert contact["email"] == "ana.silva@example.com"
    assert contact["name"] == "Ana Silva"
    assert contact["tags"] == ["vip", "lisbon"]
    assert contact["attributes"] == {"plan": "gold", "visits": 3, "vip": True, "langs": ["pt", "en"]}

    fetched = await client.get(f"{URL}/{contact['id']}", headers=tenant.headers("viewer"))
    assert fetched.json() == contact

    patched = await client.patch(
        f"{URL}/{contact['id']}",
        json={"name": "Ana S.", "timezone": None},
        headers=tenant.headers("marketer"),
    )
    assert patched.status_code == 200, patched.text
    after = patched.json()
    assert after["name"] == "Ana S." and after["timezone"] is None
    assert after["phone"] == contact["phone"] and after["attributes"] == contact["attributes"]
    assert after["updated_at"] >= contact["updated_at"]

    deleted = await client.delete(f"{URL}/{contact['id']}", headers=tenant.headers("marketer"))
    assert deleted.status_code == 204
    assert (await client.get(f"{URL}/{contact['id']}", headers=tenant.headers())).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"phone": "+351 000"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"name": "No address"}, "phone"),
        ({"phone": "", "email": "  "}, "phone"),
        ({"email": "x@example.com", "timezone": "Mars/Olympus"}, "timezone"),
        ({"email": "x@example.com", "attributes": {"1st": "x"}}, "attributes"),
        ({"email": "x@example.com", "attributes": {"bad-key": "x"}}, "attributes"),
        ({"email": "x@example.com", "attributes": {"k" * 65: "x"}}, "attributes"),
        ({"email": "x@example.com", "attributes": {"nested": {"a": 1}}}, "attributes.nested"),
        ({"email": "x@example.com", "attributes": {"big": "x" * 5000}}, "attributes.big"),
        ({"email": "x@example.com", "tags": ["t" * 65]}, "tags"),
        ({"email": "x@example.com", "surname": "unknown field"}, "surname"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(client, tenant, body, field):
    response = await _create(client, tenant, **body)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert any(item["field"].startswith(field) for item in problem["errors"]), problem
    assert field in problem["detail"]
    listed = await client.get(URL, headers=tenant.headers())
    assert listed.json()["items"] == []


async def test_phone_without_country_code_uses_the_workspace_region(client, tenant):
    refused = await _create(client, tenant, phone="912 345 678")
    assert refused.status_code == 400
    assert "default_phone_region" in refused.json()["detail"]

    await client.patch("/api/v1/settings", json={"default_phone_region": "PT"}, headers=tenant.headers())
    created = await _create(client, tenant, phone="912 345 678")
    assert created.status_code == 201, created.text
    assert created.json()["phone"] == "+351912345678"
    # Other forms of the same number are the same contact.
    for same in ("+351912345678", "00351 912 345 678", "(91) 234-5678"):
        duplicate = await _create(client, tenant, phone=same)
        assert duplicate.status_code == 409, same


async def test_one_contact_per_address_with_the_holder_named(client, tenant):
    first = (await _create(client, tenant, phone="+14155550101", email="a@example.com")).json()
    for body, field in (
        ({"phone": "+1 415 555 0101"}, "phone"),
        ({"email": "A@EXAMPLE.com"}, "email"),
        ({"phone": "+14155550102", "email": "a@example.com"}, "email"),
    ):
        response = await _create(client, tenant, **body)
        assert response.status_code == 409, response.text
        problem = response.json()
        assert problem["errors"][0]["field"] == field
        assert str(first["id"]) in problem["errors"][0]["message"]

    second = (await _create(client, tenant, phone="+14155550102")).json()
    taken = await client.patch(
        f"{URL}/{second['id']}", json={"email": "a@example.com"}, headers=tenant.headers("marketer")
    )
    assert taken.status_code == 409
    assert taken.json()["errors"][0]["field"] == "email"
    # Saving a contact with its own address again is not a conflict.
    same = await client.patch(
        f"{URL}/{first['id']}", json={"phone": "+14155550101"}, headers=tenant.headers("marketer")
    )
    assert same.status_code == 200


async def test_concurrent_creates_of_one_address_make_one_contact(client, tenant):
    responses = await asyncio.gather(*[_create(client, tenant, email="race@example.com") for _ in range(6)])
    codes = sorted(response.status_code for response in responses)
    assert codes.count(201) == 1 and codes.count(409) == 5, codes
    listed = (await client.get(URL, params={"email": "race@example.com"}, headers=tenant.headers())).json()
    assert len(listed["items"]) == 1


async def test_patch_cannot_leave_a_contact_without_an_address(client, tenant):
    contact = (await _create(client, tenant, email="only@example.com")).json()
    response = await client.patch(f"{URL}/{contact['id']}", json={"email": None}, headers=tenant.headers())
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "email"
    moved = await client.patch(
        f"{URL}/{contact['id']}", json={"email": None, "phone": "+14155550199"}, headers=tenant.headers()
    )
    assert moved.status_code == 200
    assert moved.json()["email"] is None and moved.json()["phone"] == "+14155550199"


async def test_list_filters(client, tenant):
    await client.patch("/api/v1/settings", json={"default_phone_region": "US"}, headers=tenant.headers())
    ana = (await _create(client, tenant, phone="+14155550101", name="Ana 50% off", tags=["vip"])).json()
    bob = (await _create(client, tenant, email="bob@example.com", name="Bob", tags=["trial"])).json()
    cy = (await _create(client, tenant, phone="+14155550103", email="cy@shop.example", name="Cy")).json()
    group = (await client.post("/api/v1/groups", json={"name": "G"}, headers=tenant.headers())).json()
    await client.post(
        f"/api/v1/groups/{group['id']}/members",
        json={"contact_ids": [bob["id"], cy["id"]]},
        headers=tenant.headers(),
    )

    async def ids(**params):
        response = await client.get(URL, params=params, headers=tenant.headers("viewer"))
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [ana["id"], bob["id"], cy["id"]]
    assert await ids(q="50%") == [ana["id"]]  # literal %, not a wildcard
    assert await ids(q="SHOP") == [cy["id"]]
    assert await ids(q="0103") == [cy["id"]]
    assert await ids(tag="vip") == [ana["id"]]
    assert await ids(tag="vi") == []
    assert await ids(group_id=group["id"]) == [bob["id"], cy["id"]]
    assert await ids(phone="(415) 555-0101") == [ana["id"]]
    assert await ids(email="BOB@example.com") == [bob["id"]]
    assert await ids(updated_since=cy["updated_at"]) == [cy["id"]]

    first = (await client.get(URL, params={"limit": 2}, headers=tenant.headers())).json()
    assert [item["id"] for item in first["items"]] == [ana["id"], bob["id"]]
    rest = (
        await client.get(URL, params={"limit": 2, "cursor": first["next_cursor"]}, headers=tenant.headers())
    ).json()
    assert [item["id"] for item in rest["items"]] == [cy["id"]] and rest["next_cursor"] is None

    for params, field in (
        ({"phone": "abc"}, "phone"),
        ({"email": "nope"}, "email"),
        ({"group_id": 999999}, "group_id"),
    ):
        response = await client.get(URL, params=params, headers=tenant.headers())
        assert response.status_code == 400, params
        assert response.json()["errors"][0]["field"] == field


async def test_roles_viewer_reads_marketer_writes(client, tenant):
    assert (await _create(client, tenant, role="viewer", email="v@example.com")).status_code == 403
    contact = (await _create(client, tenant, role="marketer", email="m@example.com")).json()
    for method, body in (("PATCH", {"name": "x"}), ("DELETE", None)):
        response = await client.request(
            method, f"{URL}/{contact['id']}", json=body, headers=tenant.headers("viewer")
        )
        assert response.status_code == 403, method
    assert (await client.get(URL, headers=tenant.headers("viewer"))).status_code == 200


async def test_deleting_a_contact_keeps_its_consent_history_and_removes_memberships(client, tenant):
    from backend.audience.tables import GroupMember
    from backend.consent.tables import ConsentEvent, OptOutEntry

    contact = (await _create(client, tenant, phone="+14155550111")).json()
    group = (await client.post("/api/v1/groups", json={"name": "G"}, headers=tenant.headers())).json()
    await client.post(
        f"/api/v1/groups/{group['id']}/members",
        json={"contact_ids": [contact["id"]]},
        headers=tenant.headers(),
    )
    await OptOutEntry.insert(
        OptOutEntry(
            workspace=tenant.id, channel="sms", address="+14155550111", source="keyword", self_service=True
        )
    )
    await ConsentEvent.insert(
        ConsentEvent(
            workspace=tenant.id, channel="sms", address="+14155550111", kind="opt_out", source="keyword"
        )
    )

    assert (await client.delete(f"{URL}/{contact['id']}", headers=tenant.headers())).status_code == 204

    assert await OptOutEntry.count().where(OptOutEntry.address == "+14155550111") == 1
    assert await ConsentEvent.count().where(ConsentEvent.address == "+14155550111") == 1
    assert await GroupMember.count().where(GroupMember.contact == contact["id"]) == 0
    group_after = (await client.get(f"/api/v1/groups/{group['id']}", headers=tenant.headers())).json()
    assert group_after["member_count"] == 0
