"""Groups over the API: names unique per workspace, membership as idempotent set operations, and a
request with any id that is not this workspace's contact refused whole."""

from __future__ import annotations

URL = "/api/v1/groups"


async def _contacts(client, tenant, count, start=0):
    ids = []
    for number in range(start, start + count):
        response = await client.post(
            "/api/v1/contacts", json={"email": f"c{number}@example.com"}, headers=tenant.headers("marketer")
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def test_group_crud_and_unique_names(client, tenant):
    created = await client.post(
        URL,
        json={"name": "Newsletter", "description": "monthly", "bypass_opt_out_filter": False},
        headers=tenant.headers("marketer"),
    )
    assert created.status_code == 201, created.text
    group = created.json()
    assert group["member_count"] == 0 and group["bypass_opt_out_filter"] is False

    duplicate = await client.post(URL, json={"name": "Newsletter"}, headers=tenant.headers("marketer"))
    assert duplicate.status_code == 409
    assert duplicate.json()["detail"] == "name: another group is already called 'Newsletter'"
    assert (await client.post(URL, json={"name": ""}, headers=tenant.headers())).status_code == 400
    assert (await client.post(URL, json={"name": "   "}, headers=tenant.headers())).json()["errors"][0][
        "field"
    ] == "name"

    other = (await client.post(URL, json={"name": "Orders"}, headers=tenant.headers())).json()
    rename = await client.patch(f"{URL}/{other['id']}", json={"name": "Newsletter"}, headers=tenant.headers())
    assert rename.status_code == 409

    patched = await client.patch(
        f"{URL}/{group['id']}", json={"bypass_opt_out_filter": True}, headers=tenant.headers("marketer")
    )
    assert patched.status_code == 200 and patched.json()["bypass_opt_out_filter"] is True
    assert patched.json()["description"] == "monthly"

    log = (await client.get("/api/v1/audit-log", headers=tenant.headers())).json()["items"]
    updates = [event for event in log if event["action"] == "group.updated"]
    assert updates and updates[-1]["data"] == {"bypass_opt_out_filter": {"from": False, "to": True}}

    listed = (await client.get(URL, params={"name": "news"}, headers=tenant.headers("viewer"))).json()
    assert [item["id"] for item in listed["items"]] == [group["id"]]

    assert (await client.delete(f"{URL}/{group['id']}", headers=tenant.headers("viewer"))).status_code == 403
    assert (
        await client.delete(f"{URL}/{group['id']}", headers=tenant.headers("marketer"))
    ).status_code == 204
    assert (await client.get(f"{URL}/{group['id']}", headers=tenant.headers())).status_code == 404


async def test_members_add_and_remove_are_idempotent(client, tenant):
    ids = await _contacts(client, tenant, 5)
    group = (await client.post(URL, json={"name": "G"}, headers=tenant.headers())).json()
    members = f"{URL}/{group['id']}/members"

    first = await client.post(members, json={"contact_ids": ids[:3]}, headers=tenant.headers("marketer"))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "group_id": group["id"],
        "requested": 3,
        "added": 3,
        "already_members": 0,
        "member_count": 3,
    }
    again = (
        await client.post(members, json={"contact_ids": [*ids, ids[0]]}, headers=tenant.headers())
    ).json()
    assert again["requested"] == 5 and again["added"] == 2 and again["already_members"] == 3
    assert again["member_count"] == 5

    listed = (await client.get(members, headers=tenant.headers("viewer"))).json()
    assert [item["id"] for item in listed["items"]] == ids
    assert listed["opt_out_filter_applied"] is False

    removed = await client.request("DELETE", members, json={"contact_ids": ids[:2]}, headers=tenant.headers())
    assert removed.status_code == 200
    assert removed.json()["removed"] == 2 and removed.json()["member_count"] == 3
    repeat = (
        await client.request("DELETE", members, json={"contact_ids": ids[:2]}, headers=tenant.headers())
    ).json()
    assert repeat["removed"] == 0 and repeat["not_members"] == 2 and repeat["member_count"] == 3


async def test_unknown_or_foreign_ids_refuse_the_whole_request(client, make_tenant):
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    mine = await _contacts(client, acme, 2)
    theirs = await _contacts(client, globex, 1, start=10)
    group = (await client.post(URL, json={"name": "G"}, headers=acme.headers())).json()

    response = await client.post(
        f"{URL}/{group['id']}/members",
        json={"contact_ids": [*mine, theirs[0], 987654]},
        headers=acme.headers(),
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["errors"][0]["field"] == "contact_ids"
    assert str(theirs[0]) in problem["detail"] and "987654" in problem["detail"]
    assert str(mine[0]) not in problem["detail"].split(":", 2)[-1]
    assert (await client.get(f"{URL}/{group['id']}", headers=acme.headers())).json()["member_count"] == 0


async def test_member_list_limits(client, tenant):
    group = (await client.post(URL, json={"name": "G"}, headers=tenant.headers())).json()
    members = f"{URL}/{group['id']}/members"
    too_many = await client.post(
        members, json={"contact_ids": list(range(1, 10_002))}, headers=tenant.headers()
    )
    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["field"] == "contact_ids"
    empty = await client.post(members, json={"contact_ids": []}, headers=tenant.headers())
    assert empty.status_code == 400


async def test_ten_thousand_members_in_one_request(client, tenant):
    from datetime import UTC, datetime

    from backend.audience.tables import Contact

    now = datetime.now(UTC)
    rows = [
        Contact(workspace=tenant.id, email=f"bulk{number}@example.com", created_at=now, updated_at=now)
        for number in range(10_000)
    ]
    for start in range(0, len(rows), 2000):
        await Contact.insert(*rows[start : start + 2000])
    ids = [row["id"] for row in await Contact.select(Contact.id).where(Contact.workspace == tenant.id)]
    group = (await client.post(URL, json={"name": "Big"}, headers=tenant.headers())).json()

    response = await client.post(
        f"{URL}/{group['id']}/members", json={"contact_ids": ids}, headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 10_000

    seen, cursor = [], None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get(f"{URL}/{group['id']}/members", params=params, headers=tenant.headers())
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids)


async def test_deleting_a_group_keeps_its_contacts(client, tenant):
    ids = await _contacts(client, tenant, 2)
    group = (await client.post(URL, json={"name": "G"}, headers=tenant.headers())).json()
    await client.post(f"{URL}/{group['id']}/members", json={"contact_ids": ids}, headers=tenant.headers())
    assert (await client.delete(f"{URL}/{group['id']}", headers=tenant.headers())).status_code == 204
    listed = (await client.get("/api/v1/contacts", headers=tenant.headers())).json()["items"]
    assert [item["id"] for item in listed] == ids
