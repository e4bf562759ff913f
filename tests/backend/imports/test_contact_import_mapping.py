"""A contacts import with a column mapping: the person says what each column of their file means, so
a spreadsheet with its own headings imports without being edited first."""

from __future__ import annotations

import json

import pytest

from tests.backend.imports.helpers import csv_bytes, import_file, upload


async def _contacts(client, tenant) -> list[dict]:
    return (await client.get("/api/v1/contacts", headers=tenant.headers())).json()["items"]


async def test_mapped_columns_take_the_meaning_given_and_ignored_ones_are_left_out(client, tenant, redis_url):
    rows = [
        ["Phone", "Mobile", "Full Name", "E-Mail", "Club", "Notes", "Zone"],
        ["+14155550001", "+14155559991", "Ana", "ana@example.com", "Chess", "call after 6", "Europe/Lisbon"],
        ["+14155550002", "12", "Bo", "", "Go", "", ""],
    ]
    mapping = {"Mobile": "phone", "Phone": "landline", "Club": "club_name", "Notes": None, "Zone": "timezone"}
    done = await import_file(client, tenant, redis_url, csv_bytes(rows), columns=json.dumps(mapping))
    assert done["status"] == "completed", done
    assert done["options"]["columns"] == {
        "mobile": "phone",
        "phone": "landline",
        "club": "club_name",
        "notes": None,
        "zone": "timezone",
    }
    assert (done["created"], done["skipped"]) == (1, 1)
    # Errors name the column by the meaning it was given.
    assert [(error["row"], error["column"]) for error in done["errors"]] == [(2, "phone")]

    (ana,) = await _contacts(client, tenant)
    assert ana["phone"] == "+14155559991" and ana["name"] == "Ana" and ana["email"] == "ana@example.com"
    assert ana["timezone"] == "Europe/Lisbon"
    assert ana["attributes"] == {"landline": "+14155550001", "club_name": "Chess"}


async def test_columns_the_mapping_does_not_name_keep_their_automatic_meaning(client, tenant, redis_url):
    rows = [["Email", "Name", "Plan"], ["bo@example.com", "Bo", "gold"]]
    done = await import_file(client, tenant, redis_url, csv_bytes(rows), columns=json.dumps({"Plan": None}))
    assert done["status"] == "completed" and done["created"] == 1, done
    (bo,) = await _contacts(client, tenant)
    assert bo["name"] == "Bo" and bo["attributes"] == {}


@pytest.mark.parametrize(
    ("columns", "words"),
    [
        ("not json", "not JSON"),
        ('["phone"]', "JSON object"),
        ('{"A": "phone", "B": "phone"}', "both map to 'phone'"),
        ('{"A": "1st"}', "key '1st'"),
        ('{"A": 3}', "column name or an attribute key"),
        ('{"First Name": "name", "first_name": null}', "the same column"),
    ],
)
async def test_a_bad_mapping_is_refused_before_anything_is_stored(client, tenant, columns, words):
    response = await upload(client, tenant, csv_bytes([["phone"], ["+14155550001"]]), columns=columns)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errors"][0]["field"] == "columns" and words in body["detail"], body
    listed = await client.get("/api/v1/imports", headers=tenant.headers())
    assert listed.json()["items"] == []


async def test_a_mapping_that_does_not_fit_the_file_fails_the_import_naming_the_column(
    client, tenant, redis_url
):
    data = csv_bytes([["phone", "name"], ["+14155550001", "Ana"]])
    done = await import_file(client, tenant, redis_url, data, columns=json.dumps({"Mobile": "phone"}))
    assert done["status"] == "failed" and "'mobile'" in done["failure"], done

    clash = await import_file(client, tenant, redis_url, data, columns=json.dumps({"name": "phone"}))
    assert clash["status"] == "failed" and "'phone' appears twice" in clash["failure"], clash

    nothing = await import_file(client, tenant, redis_url, data, columns=json.dumps({"phone": None}))
    assert nothing["status"] == "failed" and "phone or an email" in nothing["failure"], nothing
    assert await _contacts(client, tenant) == []
