"""Invariant 5 for every opt-out and consent route: another workspace's entries, events, categories and
senders are invisible; its entries answer 404 and are never changed."""

from __future__ import annotations

import csv
import io
import json

import pytest

from backend.consent import service
from backend.consent.tables import OptOutEntry
from tests.backend.consent.helpers import PHONE_A, make_category, make_sender


@pytest.fixture
async def world(make_tenant):
    """Acme has a category, a sender and an opt-out (with its event); Globex has nothing."""
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    category = await make_category(acme.id, "Acme promotions")
    sender = await make_sender(acme.id, name="Acme SMS")
    result = await service.record_opt_out(
        acme.id,
        channel="sms",
        address=PHONE_A,
        source="keyword",
        actor="kw",
        category_id=category["id"],
        sender_id=sender["id"],
    )
    return acme, globex, category, sender, result.entry


async def test_entries_of_another_workspace_answer_404(client, world):
    acme, globex, _, _, entry = world
    path = f"/api/v1/optouts/{entry['id']}"
    assert (await client.get(path, headers=globex.headers())).status_code == 404
    deleted = await client.delete(path, params={"reason": "not yours"}, headers=globex.headers())
    assert deleted.status_code == 404
    row = await OptOutEntry.select().where(OptOutEntry.id == entry["id"]).first()
    assert row["revoked_at"] is None
    assert (await client.get(path, headers=acme.headers("viewer"))).status_code == 200


async def test_lists_exports_and_history_show_only_the_callers_workspace(client, world):
    acme, globex, _, _, _ = world
    for tenant, expected in ((globex, 0), (acme, 1)):
        listed = (await client.get("/api/v1/optouts", headers=tenant.headers("viewer"))).json()["items"]
        assert len(listed) == expected
        filtered = (
            await client.get("/api/v1/optouts", params={"address": PHONE_A}, headers=tenant.headers("viewer"))
        ).json()["items"]
        assert len(filtered) == expected
        exported = (await client.get("/api/v1/optouts/export", headers=tenant.headers("viewer"))).text
        assert len(list(csv.DictReader(io.StringIO(exported)))) == expected
        events = (
            await client.get(
                "/api/v1/consent-events", params={"address": PHONE_A}, headers=tenant.headers("viewer")
            )
        ).json()["items"]
        assert len(events) == expected


async def test_check_ignores_another_workspaces_entries(client, world):
    acme, globex, _, _, _ = world
    for tenant, opted_out in ((globex, False), (acme, True)):
        response = await client.get(
            "/api/v1/optouts/check",
            params={"channel": "sms", "address": PHONE_A},
            headers=tenant.headers("viewer"),
        )
        assert response.json()["opted_out"] is opted_out


async def test_another_workspaces_category_and_sender_cannot_be_used(client, world):
    _, globex, category, sender, _ = world
    for field, value in (("category_id", category["id"]), ("sender_id", sender["id"])):
        created = await client.post(
            "/api/v1/optouts",
            json={"channel": "sms", "address": PHONE_A, field: value},
            headers=globex.headers("marketer"),
        )
        assert created.status_code == 400
        assert field in created.json()["detail"]
        checked = await client.get(
            "/api/v1/optouts/check",
            params={"channel": "sms", "address": PHONE_A, field: value},
            headers=globex.headers("viewer"),
        )
        assert checked.status_code == 400
        assert field in checked.json()["detail"]
    assert await OptOutEntry.count().where(OptOutEntry.workspace == globex.id) == 0


async def test_filtering_by_another_workspaces_ids_finds_nothing(client, world):
    _, globex, category, sender, _ = world
    for params in ({"category_id": category["id"]}, {"sender_id": sender["id"]}):
        listed = (await client.get("/api/v1/optouts", params=params, headers=globex.headers())).json()[
            "items"
        ]
        assert listed == []


async def test_imports_cannot_reach_another_workspaces_senders(client, world):
    _, globex, _, sender, _ = world
    response = await client.post(
        "/api/v1/optouts/import",
        files={"file": ("o.csv", f"channel,address,sender\nsms,{PHONE_A},x\n".encode(), "text/csv")},
        data={"sender_mapping": json.dumps({"x": sender["id"]})},
        headers=globex.headers("marketer"),
    )
    assert response.status_code == 400
    assert "sender_mapping" in response.json()["detail"]
