"""Invariant 5 for contacts, groups and imports: another workspace's objects answer 404 on every route,
never appear in lists, and cannot be referenced in filters, memberships or import options."""

from __future__ import annotations

import pytest

from tests.backend.imports.helpers import csv_bytes, upload


@pytest.fixture
async def two_tenants(make_tenant):
    return await make_tenant("Acme"), await make_tenant("Globex")


async def _acme_objects(client, acme):
    contact = (
        await client.post("/api/v1/contacts", json={"email": "ann@acme.example"}, headers=acme.headers())
    ).json()
    group = (await client.post("/api/v1/groups", json={"name": "Acme VIP"}, headers=acme.headers())).json()
    await client.post(
        f"/api/v1/groups/{group['id']}/members", json={"contact_ids": [contact["id"]]}, headers=acme.headers()
    )
    imported = (await upload(client, acme, csv_bytes([["email"], ["bob@acme.example"]]))).json()
    return contact, group, imported


async def test_every_route_answers_404_for_another_workspaces_objects(client, two_tenants):
    acme, globex = two_tenants
    contact, group, imported = await _acme_objects(client, acme)
    members = {"contact_ids": [contact["id"]]}
    requests = [
        ("GET", f"/api/v1/contacts/{contact['id']}", None, None),
        ("PATCH", f"/api/v1/contacts/{contact['id']}", {"name": "stolen"}, None),
        ("DELETE", f"/api/v1/contacts/{contact['id']}", None, None),
        ("GET", f"/api/v1/groups/{group['id']}", None, None),
        ("PATCH", f"/api/v1/groups/{group['id']}", {"bypass_opt_out_filter": True}, None),
        ("DELETE", f"/api/v1/groups/{group['id']}", None, None),
        ("GET", f"/api/v1/groups/{group['id']}/members", None, None),
        (
            "GET",
            f"/api/v1/groups/{group['id']}/members",
            None,
            {"channel": "email", "exclude_opted_out": "true"},
        ),
        ("POST", f"/api/v1/groups/{group['id']}/members", members, None),
        ("DELETE", f"/api/v1/groups/{group['id']}/members", members, None),
        ("GET", f"/api/v1/groups/{group['id']}/audience", None, {"channel": "email"}),
        ("GET", f"/api/v1/imports/{imported['id']}", None, None),
    ]
    for method, url, body, params in requests:
        response = await client.request(method, url, json=body, params=params, headers=globex.headers())
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["error"] == "not_found"

    # Nothing changed for Acme.
    assert (await client.get(f"/api/v1/contacts/{contact['id']}", headers=acme.headers())).json()[
        "name"
    ] == ""
    acme_group = (await client.get(f"/api/v1/groups/{group['id']}", headers=acme.headers())).json()
    assert acme_group["member_count"] == 1 and acme_group["bypass_opt_out_filter"] is False


async def test_lists_show_only_the_callers_workspace(client, two_tenants):
    acme, globex = two_tenants
    await _acme_objects(client, acme)
    for url in ("/api/v1/contacts", "/api/v1/groups", "/api/v1/imports"):
        assert (await client.get(url, headers=globex.headers())).json()["items"] == [], url
        assert (await client.get(url, headers=acme.headers())).json()["items"] != [], url
    found = await client.get(
        "/api/v1/contacts", params={"email": "ann@acme.example"}, headers=globex.headers()
    )
    assert found.json()["items"] == []


async def test_another_workspaces_group_cannot_be_referenced(client, two_tenants):
    acme, globex = two_tenants
    contact, group, _ = await _acme_objects(client, acme)
    by_group = await client.get(
        "/api/v1/contacts", params={"group_id": group["id"]}, headers=globex.headers()
    )
    assert by_group.status_code == 400 and by_group.json()["errors"][0]["field"] == "group_id"
    into_group = await upload(
        client, globex, csv_bytes([["email"], ["x@globex.example"]]), group_id=group["id"]
    )
    assert into_group.status_code == 400 and into_group.json()["errors"][0]["field"] == "group_id"

    own = (await client.post("/api/v1/groups", json={"name": "Globex"}, headers=globex.headers())).json()
    adopt = await client.post(
        f"/api/v1/groups/{own['id']}/members", json={"contact_ids": [contact["id"]]}, headers=globex.headers()
    )
    assert adopt.status_code == 400 and str(contact["id"]) in adopt.json()["detail"]
    assert (await client.get(f"/api/v1/groups/{own['id']}", headers=globex.headers())).json()[
        "member_count"
    ] == 0


async def test_the_same_address_may_be_a_contact_in_each_workspace(client, two_tenants):
    acme, globex = two_tenants
    for tenant in (acme, globex):
        response = await client.post(
            "/api/v1/contacts", json={"phone": "+14155550100"}, headers=tenant.headers()
        )
        assert response.status_code == 201


async def test_an_import_never_matches_another_workspaces_contacts(client, two_tenants, redis_url):
    from tests.backend.imports.helpers import import_file

    acme, globex = two_tenants
    theirs = (
        await client.post(
            "/api/v1/contacts", json={"phone": "+14155550100", "name": "Globex's"}, headers=globex.headers()
        )
    ).json()
    done = await import_file(
        client, acme, redis_url, csv_bytes([["phone", "name"], ["+14155550100", "Acme's"]])
    )
    assert (done["created"], done["updated"]) == (1, 0)
    assert (await client.get(f"/api/v1/contacts/{theirs['id']}", headers=globex.headers())).json()[
        "name"
    ] == "Globex's"
