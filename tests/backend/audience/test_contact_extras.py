"""What a contacts screen needs beyond the contact itself: its active opt-outs and groups in the same
request (``?include=``), and the CSV export that imports back unchanged."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from backend.consent.service import record_opt_out
from backend.consent.tables import OptOutEntry
from tests.backend.imports.helpers import import_file
from tests.backend.senders.helpers import create_sender

URL = "/api/v1/contacts"


async def _contact(client, tenant, **body) -> dict:
    response = await client.post(URL, json=body, headers=tenant.headers("marketer"))
    assert response.status_code == 201, response.text
    return response.json()


async def _get(client, tenant, path: str, **params) -> dict:
    response = await client.get(path, params=params, headers=tenant.headers("viewer"))
    assert response.status_code == 200, response.text
    return response.json()


async def _opt_out(client, tenant, **body) -> dict:
    response = await client.post("/api/v1/optouts", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()


def _channels(contact: dict) -> list[tuple[str, str | None, str | None]]:
    return [(entry["channel"], entry["category_name"], entry["sender_name"]) for entry in contact["opt_outs"]]


async def test_the_list_includes_each_contacts_active_opt_outs_on_request(client, tenant, make_tenant):
    ana = await _contact(client, tenant, phone="+351912000001", email="ana@example.com", name="Ana")
    bo = await _contact(client, tenant, phone="+351912000002", name="Bo")
    cy = await _contact(client, tenant, email="cy@example.com", name="Cy")
    category = (
        await client.post(
            "/api/v1/marketing-categories", json={"name": "Promotions"}, headers=tenant.headers()
        )
    ).json()
    sender = await create_sender(client, tenant, channel="sms", name="Shop SMS")

    await _opt_out(client, tenant, channel="sms", address="+351 912 000 001")
    await _opt_out(client, tenant, channel="whatsapp", address=ana["phone"], category_id=category["id"])
    await _opt_out(client, tenant, channel="email", address="ANA@example.com", sender_id=None)
    await _opt_out(client, tenant, channel="sms", address=bo["phone"], sender_id=sender["id"])
    revoked = await _opt_out(client, tenant, channel="viber", address=bo["phone"])
    gone = await client.delete(
        f"/api/v1/optouts/{revoked['id']}", params={"reason": "asked"}, headers=tenant.headers()
    )
    assert gone.status_code == 200, gone.text
    await record_opt_out(
        tenant.id,
        channel="whatsapp",
        address=bo["phone"],
        source="manual",
        valid_until=datetime.now(UTC) + timedelta(seconds=1),
        actor="test",
    )
    await OptOutEntry.update({OptOutEntry.valid_until: datetime.now(UTC) - timedelta(days=1)}).where(
        OptOutEntry.channel == "whatsapp", OptOutEntry.address == bo["phone"]
    )
    other = await make_tenant("Other")
    await _opt_out(client, other, channel="email", address=cy["email"])

    plain = await _get(client, tenant, URL)
    assert all("opt_outs" not in item and "groups" not in item for item in plain["items"])

    page = await _get(client, tenant, URL, include="opt_outs")
    by_name = {item["name"]: item for item in page["items"]}
    assert _channels(by_name["Ana"]) == [
        ("sms", None, None),
        ("whatsapp", "Promotions", None),
        ("email", None, None),
    ]
    assert by_name["Ana"]["opt_outs"][0]["scope"] == "workspace" and by_name["Ana"]["opt_outs"][0]["active"]
    assert _channels(by_name["Bo"]) == [("sms", None, "Shop SMS")]  # revoked and expired ones are not shown
    assert by_name["Cy"]["opt_outs"] == []  # another workspace's opt-out of the same address is not ours

    one = await _get(client, tenant, f"{URL}/{ana['id']}", include="opt_outs")
    assert _channels(one) == _channels(by_name["Ana"])


async def test_groups_and_both_parts_together_on_the_list_the_contact_and_the_members(client, tenant):
    ana = await _contact(client, tenant, phone="+351912000001", name="Ana")
    bo = await _contact(client, tenant, phone="+351912000002", name="Bo")
    groups = []
    for name in ("VIP", "Lisbon"):
        response = await client.post("/api/v1/groups", json={"name": name}, headers=tenant.headers())
        groups.append(response.json())
    for group in groups:
        await client.post(
            f"/api/v1/groups/{group['id']}/members",
            json={"contact_ids": [ana["id"]]},
            headers=tenant.headers(),
        )
    await _opt_out(client, tenant, channel="sms", address=ana["phone"])

    one = await _get(client, tenant, f"{URL}/{ana['id']}", include=["groups", "opt_outs"])
    assert one["groups"] == [
        {"id": groups[0]["id"], "name": "VIP"},
        {"id": groups[1]["id"], "name": "Lisbon"},
    ]
    assert [entry["channel"] for entry in one["opt_outs"]] == ["sms"]

    page = await _get(client, tenant, URL, include="groups")
    assert {item["name"]: len(item["groups"]) for item in page["items"]} == {"Ana": 2, "Bo": 0}
    assert "opt_outs" not in page["items"][0]

    members = await _get(client, tenant, f"/api/v1/groups/{groups[0]['id']}/members", include="opt_outs")
    assert [(item["id"], len(item["opt_outs"])) for item in members["items"]] == [(ana["id"], 1)]
    assert bo["id"] not in [item["id"] for item in members["items"]]

    unknown = await client.get(URL, params={"include": "secrets"}, headers=tenant.headers())
    assert unknown.status_code == 400 and "include" in unknown.text


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_the_export_streams_the_filtered_contacts_and_imports_back_unchanged(
    client, tenant, make_tenant, redis_url
):
    await _contact(
        client,
        tenant,
        phone="+351912000001",
        email="ana@example.com",
        name="Ana",
        tags=["vip", "lisbon"],
        timezone="Europe/Lisbon",
        attributes={"plan": "gold", "visits": 3, "phone": "work line"},
    )
    await _contact(client, tenant, email="bo@example.com", name="=HYPERLINK(1)", attributes={"vip": True})
    await _contact(client, tenant, phone="+351912000003", name="Cy")

    response = await client.get(f"{URL}/export", headers=tenant.headers("viewer"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "contacts.csv" in response.headers["content-disposition"]
    rows = _rows(response.text)
    assert rows[0] == ["phone", "email", "name", "timezone", "tags", "attr_phone", "plan", "vip", "visits"]
    assert rows[1] == [
        "+351912000001",
        "ana@example.com",
        "Ana",
        "Europe/Lisbon",
        "vip;lisbon",
        "work line",
        "gold",
        "",
        "3",
    ]
    assert rows[2][2] == "'=HYPERLINK(1)" and rows[2][-2] == "true"  # no formula for spreadsheets
    assert len(rows) == 4

    filtered = _rows(
        (await client.get(f"{URL}/export", params={"tag": "vip"}, headers=tenant.headers())).text
    )
    assert [row[2] for row in filtered[1:]] == ["Ana"]
    searched = _rows((await client.get(f"{URL}/export", params={"q": "cy"}, headers=tenant.headers())).text)
    assert searched[0] == ["phone", "email", "name", "timezone", "tags"]  # Cy has no attributes
    assert [row[2] for row in searched[1:]] == ["Cy"]
    bad = await client.get(f"{URL}/export", params={"group_id": 999}, headers=tenant.headers())
    assert bad.status_code == 400 and "group_id" in bad.text

    other = await make_tenant("Copy")
    done = await import_file(client, other, redis_url, response.content)
    assert done["status"] == "completed" and done["error_count"] == 0, done
    copied = (await client.get(URL, headers=other.headers())).json()["items"]
    assert copied[0]["tags"] == ["vip", "lisbon"] and copied[0]["timezone"] == "Europe/Lisbon"
    assert copied[0]["attributes"] == {"attr_phone": "work line", "plan": "gold", "visits": "3"}
    assert [contact["name"] for contact in copied] == ["Ana", "'=HYPERLINK(1)", "Cy"]


async def test_the_export_pages_through_more_contacts_than_one_page(client, tenant, monkeypatch):
    from backend.audience import export
    from backend.audience.tables import Contact

    monkeypatch.setattr(export, "PAGE_SIZE", 3)
    monkeypatch.setattr(export, "KEY_PAGE_SIZE", 2)
    await Contact.insert(
        *[
            Contact(workspace=tenant.id, phone=f"+35191200{i:04d}", name=f"C{i}", attributes={f"k{i % 4}": i})
            for i in range(10)
        ]
    )
    rows = _rows((await client.get(f"{URL}/export", headers=tenant.headers())).text)
    assert rows[0][5:] == ["k0", "k1", "k2", "k3"]
    assert [row[2] for row in rows[1:]] == [f"C{i}" for i in range(10)]
