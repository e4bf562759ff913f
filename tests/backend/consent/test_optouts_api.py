"""``/api/v1/optouts`` as admins, integrations and third parties use it (API.md, PRODUCT.md 4)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from backend.consent import service
from backend.consent.tables import ConsentEvent, OptOutEntry
from tests.backend.consent.helpers import (
    EMAIL_A,
    PHONE_A,
    PHONE_B,
    check,
    make_category,
    make_sender,
    post_optout,
)


async def test_create_returns_the_entry(client, tenant):
    response = await post_optout(
        client, tenant, channel="sms", address="+351 912 000 001", valid_days=10, remarks="called us"
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    assert entry["address"] == PHONE_A
    assert entry["source"] == "api"
    assert entry["scope"] == "workspace"
    assert entry["category_id"] is None
    assert entry["active"] and not entry["permanent"] and not entry["self_service"]
    assert entry["remarks"] == "called us"
    assert entry["created_by"].startswith("API key 'marketer key'")
    valid_until = datetime.fromisoformat(entry["valid_until"])
    assert abs(valid_until - (datetime.now(UTC) + timedelta(days=10))) < timedelta(seconds=30)


async def test_extending_answers_200_with_the_added_duration(client, tenant):
    first = (await post_optout(client, tenant, channel="sms", address=PHONE_A, valid_days=10)).json()
    response = await post_optout(client, tenant, channel="sms", address=PHONE_A, valid_days=5)
    assert response.status_code == 200
    extended = response.json()
    assert extended["id"] == first["id"]
    delta = datetime.fromisoformat(extended["valid_until"]) - datetime.fromisoformat(first["valid_until"])
    assert abs(delta - timedelta(days=5)) < timedelta(seconds=5)


async def test_a_login_session_makes_manual_entries(client, tenant):
    login = await client.post(
        "/api/v1/auth/login", json={"email": tenant.admin_email, "password": tenant.admin_password}
    )
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    response = await client.post(
        "/api/v1/optouts", json={"channel": "email", "address": "Ana@Example.com"}, headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["source"] == "manual"
    assert response.json()["address"] == EMAIL_A
    assert response.json()["created_by"] == tenant.admin_email


async def test_creating_is_audited(client, tenant):
    entry = (await post_optout(client, tenant, "admin", channel="sms", address=PHONE_A)).json()
    await post_optout(client, tenant, "admin", channel="sms", address=PHONE_A, valid_days=3)
    log = (await client.get("/api/v1/audit-log", headers=tenant.headers())).json()["items"]
    actions = [(item["action"], item["target_id"]) for item in log if item["action"].startswith("optout.")]
    assert actions == [("optout.created", str(entry["id"])), ("optout.extended", str(entry["id"]))]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "fax", "address": PHONE_A}, "channel"),
        ({"channel": "sms", "address": "12"}, "address"),
        ({"channel": "sms"}, "address"),
        ({"channel": "email", "address": "no-at-sign"}, "address"),
        (
            {"channel": "sms", "address": PHONE_A, "valid_days": 3, "valid_until": "2099-01-01T00:00:00Z"},
            "valid_days",
        ),
        ({"channel": "sms", "address": PHONE_A, "valid_days": 0}, "valid_days"),
        ({"channel": "sms", "address": PHONE_A, "valid_until": "2001-01-01T00:00:00Z"}, "valid_until"),
        ({"channel": "sms", "address": PHONE_A, "valid_until": "next week"}, "valid_until"),
        ({"channel": "sms", "address": PHONE_A, "category_id": 99999}, "category_id"),
        ({"channel": "sms", "address": PHONE_A, "sender_id": 99999}, "sender_id"),
        ({"channel": "sms", "address": PHONE_A, "colour": "red"}, "colour"),
        ({"channel": "sms", "address": PHONE_A, "remarks": "x" * 1001}, "remarks"),
    ],
)
async def test_bad_input_is_400_naming_the_field(client, tenant, body, field):
    response = await client.post("/api/v1/optouts", json=body, headers=tenant.headers("marketer"))
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]
    assert await OptOutEntry.count() == 0
    assert await ConsentEvent.count() == 0


async def test_viewers_read_but_do_not_write(client, tenant):
    assert (await post_optout(client, tenant, "viewer", channel="sms", address=PHONE_A)).status_code == 403
    entry = (await post_optout(client, tenant, channel="sms", address=PHONE_A)).json()
    for path in ("/api/v1/optouts", f"/api/v1/optouts/{entry['id']}", "/api/v1/consent-events"):
        assert (await client.get(path, headers=tenant.headers("viewer"))).status_code == 200, path
    checked = await client.get(
        "/api/v1/optouts/check",
        params={"channel": "sms", "address": PHONE_A},
        headers=tenant.headers("viewer"),
    )
    assert checked.json()["opted_out"] is True
    revoke = await client.delete(f"/api/v1/optouts/{entry['id']}", headers=tenant.headers("viewer"))
    assert revoke.status_code == 403
    assert (await client.get("/api/v1/optouts")).status_code == 401


async def test_list_filters(client, tenant):
    category = await make_category(tenant.id, "Promotions")
    shop = await make_sender(tenant.id, name="Shop")
    await post_optout(client, tenant, channel="sms", address=PHONE_A)
    await post_optout(client, tenant, channel="sms", address=PHONE_B, category_id=category["id"])
    await post_optout(client, tenant, channel="sms", address=PHONE_B, sender_id=shop["id"], valid_days=1)
    await post_optout(client, tenant, channel="email", address=EMAIL_A)
    await service.record_opt_out(
        tenant.id, channel="sms", address=PHONE_A, source="keyword", actor="kw", sender_id=shop["id"]
    )
    revoked = (await post_optout(client, tenant, channel="whatsapp", address=PHONE_A)).json()
    await client.delete(f"/api/v1/optouts/{revoked['id']}", headers=tenant.headers("marketer"))

    async def addresses(**params) -> list[tuple[str, str]]:
        response = await client.get("/api/v1/optouts", params=params, headers=tenant.headers("viewer"))
        assert response.status_code == 200, response.text
        return [(item["channel"], item["address"]) for item in response.json()["items"]]

    assert len(await addresses()) == 6
    assert await addresses(channel="email") == [("email", EMAIL_A)]
    assert await addresses(address="+351 912 000 002") == [("sms", PHONE_B), ("sms", PHONE_B)]
    assert await addresses(address="ANA@example.com") == [("email", EMAIL_A)]
    assert await addresses(category_id=category["id"]) == [("sms", PHONE_B)]
    assert await addresses(sender_id=shop["id"]) == [("sms", PHONE_B), ("sms", PHONE_A)]
    assert await addresses(scope="workspace", channel="sms") == [("sms", PHONE_A), ("sms", PHONE_B)]
    assert await addresses(source="keyword") == [("sms", PHONE_A)]
    assert await addresses(active="false") == [("whatsapp", PHONE_A)]
    assert len(await addresses(active="true")) == 5
    assert await addresses(updated_since=(datetime.now(UTC) + timedelta(minutes=1)).isoformat()) == []
    assert len(await addresses(updated_since="2000-01-01T00:00:00Z")) == 6


async def test_updated_since_finds_revocations(client, tenant):
    entry = (await post_optout(client, tenant, channel="sms", address=PHONE_A)).json()
    await post_optout(client, tenant, channel="sms", address=PHONE_B)
    mark = datetime.now(UTC).isoformat()
    await client.delete(f"/api/v1/optouts/{entry['id']}", headers=tenant.headers("marketer"))
    items = (
        await client.get("/api/v1/optouts", params={"updated_since": mark}, headers=tenant.headers("viewer"))
    ).json()["items"]
    assert [(item["id"], item["active"]) for item in items] == [(entry["id"], False)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"channel": "pigeon"}, "channel"),
        ({"active": "maybe"}, "active"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"address": "not-a-number"}, "address"),
        ({"source": "rumour"}, "source"),
        ({"cursor": "garbage"}, "cursor"),
    ],
)
async def test_bad_filters_are_400_naming_the_parameter(client, tenant, params, field):
    response = await client.get("/api/v1/optouts", params=params, headers=tenant.headers("viewer"))
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]


async def test_list_pages_with_a_cursor(client, tenant):
    for index in range(5):
        await post_optout(client, tenant, channel="sms", address=f"+35191200010{index}")
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/optouts", params=params, headers=tenant.headers("viewer"))).json()
        seen += [item["address"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"+35191200010{index}" for index in range(5)]


async def test_get_one_entry_with_names(client, tenant):
    category = await make_category(tenant.id, "Promotions")
    shop = await make_sender(tenant.id, name="Shop SMS")
    entry = (
        await post_optout(
            client, tenant, channel="sms", address=PHONE_A, category_id=category["id"], sender_id=shop["id"]
        )
    ).json()
    fetched = (await client.get(f"/api/v1/optouts/{entry['id']}", headers=tenant.headers("viewer"))).json()
    assert fetched == entry
    assert (fetched["category_name"], fetched["sender_name"], fetched["scope"]) == (
        "Promotions",
        "Shop SMS",
        "sender",
    )
    assert (await client.get("/api/v1/optouts/999999", headers=tenant.headers())).status_code == 404


async def test_delete_opts_back_in_and_records_who_and_why(client, tenant):
    entry = (await post_optout(client, tenant, channel="sms", address=PHONE_A)).json()
    response = await client.delete(
        f"/api/v1/optouts/{entry['id']}",
        params={"reason": "entered by mistake"},
        headers=tenant.headers("marketer"),
    )
    assert response.status_code == 200, response.text
    revoked = response.json()
    assert not revoked["active"]
    assert revoked["revoke_reason"] == "entered by mistake"
    assert revoked["revoked_by"].startswith("API key 'marketer key'")
    assert (
        await client.get(
            "/api/v1/optouts/check",
            params={"channel": "sms", "address": PHONE_A},
            headers=tenant.headers("viewer"),
        )
    ).json() == {"opted_out": False, "address": PHONE_A, "entries": []}
    events = (await client.get("/api/v1/consent-events", headers=tenant.headers("viewer"))).json()["items"]
    assert [(e["kind"], e["entry_id"], e["reason"], e["source"]) for e in events] == [
        ("opt_out", entry["id"], "", "api"),
        ("opt_in", entry["id"], "entered by mistake", "api"),
    ]
    log = (await client.get("/api/v1/audit-log", headers=tenant.headers())).json()["items"]
    assert "optout.revoked" in [item["action"] for item in log]


async def test_delete_twice_is_409(client, tenant):
    entry = (await post_optout(client, tenant, channel="sms", address=PHONE_A)).json()
    assert (
        await client.delete(f"/api/v1/optouts/{entry['id']}", headers=tenant.headers())
    ).status_code == 200
    again = await client.delete(f"/api/v1/optouts/{entry['id']}", headers=tenant.headers())
    assert again.status_code == 409
    assert await ConsentEvent.count().where(ConsentEvent.kind == "opt_in") == 1


async def test_delete_an_expired_entry_is_409(client, tenant):
    entry = (await post_optout(client, tenant, channel="sms", address=PHONE_A, valid_days=1)).json()
    await OptOutEntry.update({OptOutEntry.valid_until: datetime.now(UTC) - timedelta(minutes=1)}).where(
        OptOutEntry.id == entry["id"]
    )
    assert (
        await client.delete(f"/api/v1/optouts/{entry['id']}", headers=tenant.headers())
    ).status_code == 409


async def test_reversing_a_persons_own_opt_out_needs_an_admin_and_a_reason(client, tenant):
    result = await service.record_opt_out(
        tenant.id, channel="sms", address=PHONE_A, source="web_form", actor="web form"
    )
    path = f"/api/v1/optouts/{result.entry['id']}"
    as_marketer = await client.delete(
        path, params={"reason": "customer called"}, headers=tenant.headers("marketer")
    )
    assert as_marketer.status_code == 403
    without_reason = await client.delete(path, headers=tenant.headers("admin"))
    assert without_reason.status_code == 400
    assert "reason" in without_reason.json()["detail"]
    blank_reason = await client.delete(path, params={"reason": "   "}, headers=tenant.headers("admin"))
    assert blank_reason.status_code == 400
    assert await ConsentEvent.count().where(ConsentEvent.kind == "opt_in") == 0
    allowed = await client.delete(
        path, params={"reason": "customer called to resubscribe"}, headers=tenant.headers()
    )
    assert allowed.status_code == 200
    assert allowed.json()["revoke_reason"] == "customer called to resubscribe"


async def test_check_uses_category_and_sender(client, tenant):
    category = await make_category(tenant.id, "Promotions")
    other = await make_category(tenant.id, "News")
    shop = await make_sender(tenant.id, name="Shop", address="+351910000001")
    news = await make_sender(tenant.id, name="News", address="+351910000002")
    entry = (
        await post_optout(
            client, tenant, channel="sms", address=PHONE_A, category_id=category["id"], sender_id=shop["id"]
        )
    ).json()

    async def check(**params):
        params = {"channel": "sms", "address": PHONE_A, **params}
        response = await client.get("/api/v1/optouts/check", params=params, headers=tenant.headers("viewer"))
        assert response.status_code == 200, response.text
        return response.json()

    blocked = await check(category_id=category["id"], sender_id=shop["id"])
    assert blocked["opted_out"] is True
    assert [item["id"] for item in blocked["entries"]] == [entry["id"]]
    assert blocked["entries"][0]["category_name"] == "Promotions"
    assert (await check(category_id=other["id"], sender_id=shop["id"]))["opted_out"] is False
    assert (await check(category_id=category["id"], sender_id=news["id"]))["opted_out"] is False
    assert (await check())["opted_out"] is True
    assert (await check(address=PHONE_B))["opted_out"] is False


async def test_check_says_how_the_address_reads_so_forms_can_show_it_as_people_type(client, tenant):
    answer = await check(client, tenant, channel="sms", address="00351 912 000 001")
    assert answer == {"opted_out": False, "address": PHONE_A, "entries": []}
    assert (await check(client, tenant, channel="email", address=" Ana@Example.COM "))["address"] == EMAIL_A
    bad = await client.get(
        "/api/v1/optouts/check", params={"channel": "sms", "address": "12"}, headers=tenant.headers("viewer")
    )
    assert bad.status_code == 400
    assert [problem["field"] for problem in bad.json()["errors"]] == ["address"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"address": PHONE_A}, "channel"),
        ({"channel": "sms"}, "address"),
        ({"channel": "sms", "address": "??"}, "address"),
        ({"channel": "sms", "address": PHONE_A, "category_id": 99999}, "category_id"),
        ({"channel": "sms", "address": PHONE_A, "sender_id": 99999}, "sender_id"),
    ],
)
async def test_check_bad_input_names_the_parameter(client, tenant, params, field):
    response = await client.get("/api/v1/optouts/check", params=params, headers=tenant.headers("viewer"))
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]


async def test_export_streams_csv_with_the_list_filters(client, tenant):
    category = await make_category(tenant.id, "Promotions")
    await post_optout(
        client, tenant, channel="sms", address=PHONE_A, category_id=category["id"], remarks="=HYPERLINK(1)"
    )
    await post_optout(client, tenant, channel="email", address=EMAIL_A, valid_days=3)
    response = await client.get("/api/v1/optouts/export", headers=tenant.headers("viewer"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["channel"], row["address"]) for row in rows] == [("sms", PHONE_A), ("email", EMAIL_A)]
    assert rows[0]["category"] == "Promotions"
    assert rows[0]["category_id"] == str(category["id"])
    assert rows[0]["valid_until"] == ""
    assert rows[0]["remarks"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    assert rows[0]["active"] == "true"
    assert rows[0]["source"] == "api"
    assert rows[1]["valid_until"] != ""
    only_email = await client.get(
        "/api/v1/optouts/export", params={"channel": "email"}, headers=tenant.headers("viewer")
    )
    assert [row["address"] for row in csv.DictReader(io.StringIO(only_email.text))] == [EMAIL_A]


async def test_export_of_more_than_one_page(client, tenant, monkeypatch):
    from backend.consent import export

    monkeypatch.setattr(export, "PAGE_SIZE", 3)
    rows = [
        OptOutEntry(workspace=tenant.id, channel="sms", address=f"+3519120001{index:02d}", source="import")
        for index in range(10)
    ]
    await OptOutEntry.insert(*rows)
    response = await client.get("/api/v1/optouts/export", headers=tenant.headers("viewer"))
    addresses = [row["address"] for row in csv.DictReader(io.StringIO(response.text))]
    assert addresses == [f"+3519120001{index:02d}" for index in range(10)]
