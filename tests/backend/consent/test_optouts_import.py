"""``POST /api/v1/optouts/import``: a CSV of opt-outs with sender mapping and per-row errors (PRODUCT.md 4.9,
seed 004), run by a real worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from backend.consent.tables import ConsentEvent, OptOutEntry
from tests.backend.consent.helpers import PHONE_A, PHONE_B, make_category, make_sender


async def _run_burst(redis_url: str) -> None:
    from backend.worker import build_worker

    worker = build_worker(redis_url, burst=True)
    try:
        await worker.main()
    finally:
        await worker.close()


async def _import(client, tenant, redis_url, text: str, role="marketer", **form) -> dict:
    response = await client.post(
        "/api/v1/optouts/import",
        files={"file": ("optouts.csv", text.encode(), "text/csv")},
        data=form,
        headers=tenant.headers(role),
    )
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "optouts"
    await _run_burst(redis_url)
    done = await client.get(f"/api/v1/imports/{response.json()['id']}", headers=tenant.headers("viewer"))
    return done.json()


async def _entries(tenant) -> list[dict]:
    return await OptOutEntry.select().where(OptOutEntry.workspace == tenant.id).order_by(OptOutEntry.id)


async def test_import_with_categories_senders_and_validity(client, tenant, redis_url):
    category = await make_category(tenant.id, "Promotions", days=30)
    shop = await make_sender(tenant.id, name="Shop SMS", address="+351910000001")
    csv_text = (
        "Channel,Address,Category,Sender,Valid Days,Valid Until,Remarks\n"
        f"sms,{PHONE_A},Promotions,Shop SMS,10,,from the old CRM\n"
        f"SMS,+351 912 000 002,{category['id']},+351910000001,,,\n"
        "email,Ana@Example.com,,,,2099-12-31,\n"
    )
    result = await _import(client, tenant, redis_url, csv_text)
    assert result["status"] == "completed", result
    assert (result["created"], result["error_count"]) == (3, 0)
    first, second, third = await _entries(tenant)
    assert (first["address"], first["category"], first["sender"]) == (PHONE_A, category["id"], shop["id"])
    assert first["source"] == "import" and not first["self_service"]
    assert first["remarks"] == "from the old CRM"
    assert abs(first["valid_until"] - (datetime.now(UTC) + timedelta(days=10))) < timedelta(minutes=1)
    assert (second["address"], second["sender"]) == (PHONE_B, shop["id"])
    assert third["address"] == "ana@example.com" and third["sender"] is None
    assert third["valid_until"] == datetime(2100, 1, 1, tzinfo=UTC)  # to the end of that day (UTC workspace)
    events = await ConsentEvent.select().where(ConsentEvent.source == "import").output(load_json=True)
    assert len(events) == 3
    assert events[0]["evidence"] == {"import_id": result["id"], "row": 1}


async def test_sender_mapping_maps_csv_values(client, tenant, redis_url):
    shop = await make_sender(tenant.id, name="Shop SMS", address="+351910000001")
    await make_sender(tenant.id, name="News SMS", address="+351910000002")
    csv_text = f"channel,address,sender\nsms,{PHONE_A},Interact 1\nsms,{PHONE_B},everyone\n"
    mapping = json.dumps({"Interact 1": shop["id"], "everyone": "workspace"})
    result = await _import(client, tenant, redis_url, csv_text, sender_mapping=mapping)
    assert result["status"] == "completed", result
    assert [(e["address"], e["sender"]) for e in await _entries(tenant)] == [
        (PHONE_A, shop["id"]),
        (PHONE_B, None),
    ]


async def test_bad_rows_are_reported_by_row_and_column_and_skipped(client, tenant, redis_url):
    await make_sender(tenant.id, name="Shop WhatsApp", channel="whatsapp", address="+351910000003")
    csv_text = (
        "channel,address,category,sender,valid_days,valid_until\n"
        f"sms,{PHONE_A},,,,\n"
        "fax,123,,,,\n"
        "sms,not a number,,,,\n"
        f"sms,{PHONE_B},Nope,,,\n"
        f"sms,{PHONE_B},,Unknown sender,,\n"
        f"sms,{PHONE_B},,Shop WhatsApp,,\n"
        f"sms,{PHONE_B},,,5,2099-01-01\n"
        f"sms,{PHONE_B},,,-3,\n"
        f"sms,{PHONE_B},,,,2001-01-01\n"
        "email,bob@example.com,,,,\n"
    )
    result = await _import(client, tenant, redis_url, csv_text, on_error="skip")
    assert result["status"] == "completed", result
    assert (result["created"], result["skipped"]) == (2, 8)
    errors = {(error["row"], error["column"]) for error in result["errors"]}
    assert errors == {
        (2, "channel"),
        (3, "address"),
        (4, "category"),
        (5, "sender"),
        (6, "sender"),
        (7, "valid_days"),
        (8, "valid_days"),
        (9, "valid_until"),
    }
    assert [e["address"] for e in await _entries(tenant)] == [PHONE_A, "bob@example.com"]


async def test_reject_mode_imports_nothing_when_a_row_is_bad(client, tenant, redis_url):
    csv_text = f"channel,address\nsms,{PHONE_A}\nsms,{PHONE_B}\nsms,oops\n"
    result = await _import(client, tenant, redis_url, csv_text, on_error="reject")
    assert result["status"] == "failed"
    assert [(error["row"], error["column"]) for error in result["errors"]] == [(3, "address")]
    assert await OptOutEntry.count() == 0
    assert await ConsentEvent.count() == 0


async def test_imported_durations_add_to_active_entries(client, tenant, redis_url):
    now = datetime.now(UTC)
    response = await client.post(
        "/api/v1/optouts",
        json={"channel": "sms", "address": PHONE_A, "valid_days": 10},
        headers=tenant.headers("marketer"),
    )
    assert response.status_code == 201
    result = await _import(client, tenant, redis_url, f"channel,address,valid_days\nsms,{PHONE_A},5\n")
    assert (result["created"], result["updated"]) == (0, 1)
    [entry] = await _entries(tenant)
    assert abs(entry["valid_until"] - (now + timedelta(days=15))) < timedelta(minutes=1)


async def test_a_wrong_header_fails_the_import(client, tenant, redis_url):
    result = await _import(client, tenant, redis_url, f"channel,phone\nsms,{PHONE_A}\n")
    assert result["status"] == "failed"
    assert "address" in result["failure"]
    assert await OptOutEntry.count() == 0


async def test_upload_form_errors_name_the_field(client, tenant, make_tenant):
    other = await make_tenant("Other")
    foreign = await make_sender(other.id)
    for form, field in (
        ({"sender_mapping": "{not json"}, "sender_mapping"),
        ({"sender_mapping": '["a"]'}, "sender_mapping"),
        ({"sender_mapping": '{"a": "everyone"}'}, "sender_mapping"),
        ({"sender_mapping": json.dumps({"a": foreign["id"]})}, "sender_mapping"),
        ({"on_error": "ignore"}, "on_error"),
    ):
        response = await client.post(
            "/api/v1/optouts/import",
            files={"file": ("o.csv", f"channel,address\nsms,{PHONE_A}\n".encode(), "text/csv")},
            data=form,
            headers=tenant.headers("marketer"),
        )
        assert response.status_code == 400, (form, response.text)
        assert field in response.json()["detail"], form
    no_file = await client.post(
        "/api/v1/optouts/import", data={"on_error": "skip"}, files={}, headers=tenant.headers("marketer")
    )
    assert no_file.status_code == 400
    viewer = await client.post(
        "/api/v1/optouts/import",
        files={"file": ("o.csv", b"channel,address\n", "text/csv")},
        headers=tenant.headers("viewer"),
    )
    assert viewer.status_code == 403


async def test_rows_for_one_address_in_one_file_add_up(client, tenant, redis_url):
    now = datetime.now(UTC)
    csv_text = f"channel,address,valid_days\nsms,{PHONE_A},3\nsms,+351 912 000 001,4\nsms,{PHONE_A},\n"
    result = await _import(client, tenant, redis_url, csv_text)
    assert (result["created"], result["updated"]) == (1, 2)
    [entry] = await _entries(tenant)
    assert entry["valid_until"] is None  # 3 + 4 days, then made permanent by the third row
    kinds = [row["kind"] for row in await ConsentEvent.select().order_by(ConsentEvent.id)]
    assert kinds == ["opt_out", "extended", "extended"]
    first_two = f"channel,address,valid_days\nsms,{PHONE_B},3\nsms,{PHONE_B},4\n"
    await _import(client, tenant, redis_url, first_two)
    entry = (await _entries(tenant))[-1]
    assert abs(entry["valid_until"] - (now + timedelta(days=7))) < timedelta(minutes=1)


async def test_importing_an_address_already_opted_out_for_good_changes_nothing(client, tenant, redis_url):
    """Issue 14, item 9: a repeated opt-out records no ``extended`` event and counts as skipped."""
    csv_text = f"channel,address\nsms,{PHONE_A}\n"
    first = await _import(client, tenant, redis_url, csv_text)
    again = await _import(client, tenant, redis_url, csv_text)
    assert (first["created"], first["updated"]) == (1, 0)
    assert (again["created"], again["updated"], again["skipped"]) == (0, 0, 1)
    kinds = [row["kind"] for row in await ConsentEvent.select().order_by(ConsentEvent.id)]
    assert kinds == ["opt_out"]
