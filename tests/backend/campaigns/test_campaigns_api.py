"""The campaigns API (seed 001, PRODUCT.md §7): create, list, read, modify, resume, delete, the audience,
roles and workspace isolation. Every refusal is checked for the field or state it names, and for leaving
nothing behind."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.audit.tables import AuditEvent
from backend.campaigns.tables import Campaign
from tests.backend.campaigns.helpers import (
    ONE_MESSAGE,
    TWO_STEP,
    at,
    graph,
    group_of,
    phone,
    published_flow,
    sandbox_sender,
    tick,
)

API = "/api/v1/campaigns"
START = "2030-12-09T09:00:00Z"
END = "2030-12-16T18:00:00Z"


@dataclass
class World:
    flow: dict[str, Any]
    sender: dict[str, Any]
    group: dict[str, Any]
    category: dict[str, Any]

    def body(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = {
            "name": "Spring offer",
            "description": "20% off for our customers",
            "flow_id": self.flow["id"],
            "group_id": self.group["id"],
            "sender_id": self.sender["id"],
            "category_id": self.category["id"],
            "kind": "marketing",
            "start_at": START,
            "end_at": END,
            "every": {"unit": "hour", "count": 2},
        }
        result.update(changes)
        return {key: value for key, value in result.items() if value is not ...}


async def _category(client, tenant, name: str = "Promotions") -> dict[str, Any]:
    response = await client.post(
        "/api/v1/marketing-categories", json={"name": name}, headers=tenant.headers()
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _world(client, tenant) -> World:
    return World(
        flow=await published_flow(client, tenant),
        sender=await sandbox_sender(client, tenant),
        group=await group_of(tenant.id, 3),
        category=await _category(client, tenant),
    )


@pytest.fixture
async def world(client, tenant) -> World:
    return await _world(client, tenant)


async def _create(client, tenant, body: dict[str, Any], role: str = "marketer") -> dict[str, Any]:
    response = await client.post(API, json=body, headers=tenant.headers(role))
    assert response.status_code == 201, response.text
    return response.json()


def _fields(response) -> list[str]:
    return [problem["field"] for problem in response.json()["errors"]]


def _assert_names(response, field: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    assert field in _fields(response), body
    assert field in body["detail"], body


async def _count_campaigns() -> int:
    return await Campaign.count()


async def _audit(action: str, campaign_id: int | None = None) -> list[dict[str, Any]]:
    query = AuditEvent.select().where(AuditEvent.action == action).output(load_json=True)
    if campaign_id is not None:
        query = query.where(AuditEvent.target_id == str(campaign_id))
    return await query


def _in(minutes: float = 0, **delta: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes, **delta)).isoformat()


# --- create -------------------------------------------------------------------------------------------


async def test_create_answers_201_with_the_campaign_and_its_plan_in_words(client, tenant, world):
    response = await client.post(API, json=world.body(), headers=tenant.headers("marketer"))

    assert response.status_code == 201, response.text
    campaign = response.json()
    assert isinstance(campaign["id"], int)
    assert {key: campaign[key] for key in campaign if key not in ("id", "created_at", "updated_at")} == {
        "name": "Spring offer",
        "description": "20% off for our customers",
        "flow_id": world.flow["id"],
        "flow_version": None,  # pinned when it first starts
        "group_id": world.group["id"],
        "sender_id": world.sender["id"],
        "channel": "whatsapp",
        "category_id": world.category["id"],
        "kind": "marketing",
        "start_at": "2030-12-09T09:00:00Z",
        "end_at": "2030-12-16T18:00:00Z",
        "every": {"unit": "hour", "count": 2},
        # 177 hours from start to end; a trigger every 2 hours at 0, 2, …, 176: 89
        "plan": "every 2 hours from 9 Dec 2030 09:00 to 16 Dec 2030 18:00 (UTC), 89 triggers",
        "planned_triggers": 89,
        "opted_in_only": True,
        "allow_reentry": False,
        "status": "scheduled",
        "next_trigger_at": None,
        "last_trigger_at": None,
        "triggers_fired": 0,
        "started_at": None,
        "ended_at": None,
    }
    fetched = await client.get(f"{API}/{campaign['id']}", headers=tenant.headers("viewer"))
    assert fetched.status_code == 200
    assert fetched.json() == campaign
    events = await _audit("campaign.created", campaign["id"])
    assert len(events) == 1
    assert events[0]["data"]["name"] == "Spring offer"


async def test_create_reads_moments_in_any_offset_and_answers_them_in_utc(client, tenant, world):
    campaign = await _create(
        client,
        tenant,
        world.body(
            start_at="2030-12-09T10:00:00+01:00",
            end_at="2030-12-09T14:00:00-05:00",
            every={"unit": "day"},
        ),
    )
    assert campaign["start_at"] == "2030-12-09T09:00:00Z"
    assert campaign["end_at"] == "2030-12-09T19:00:00Z"
    assert campaign["every"] == {"unit": "day", "count": 1}  # count defaults to 1
    assert campaign["planned_triggers"] == 1
    assert campaign["plan"] == "every day from 9 Dec 2030 09:00 to 9 Dec 2030 19:00 (UTC), 1 trigger"


async def test_the_plan_is_told_in_the_workspace_time_zone(client, tenant, world):
    changed = await client.patch(
        "/api/v1/settings", json={"timezone": "Europe/Lisbon"}, headers=tenant.headers()
    )
    assert changed.status_code == 200, changed.text
    campaign = await _create(
        client,
        tenant,
        world.body(
            start_at="2030-07-01T08:00:00Z",  # 09:00 summer time in Lisbon
            end_at="2030-07-08T08:00:00Z",
            every={"unit": "day", "count": 1},
        ),
    )
    assert (
        campaign["plan"] == "every day from 1 Jul 2030 09:00 to 8 Jul 2030 09:00 (Europe/Lisbon), 7 triggers"
    )
    assert campaign["planned_triggers"] == 7


async def test_a_huge_plan_does_not_claim_a_wrong_number_of_triggers(client, tenant, world):
    campaign = await _create(
        client,
        tenant,
        world.body(start_at="2030-01-01T00:00:00Z", end_at="2031-01-01T00:00:00Z", every={"unit": "minute"}),
    )
    exact = campaign["planned_triggers"] == 525_600 and "525,600 triggers" in campaign["plan"]
    flagged = any(words in campaign["plan"] for words in ("at least", "more than", "100,000+"))
    assert exact or flagged, campaign["plan"]


async def test_name_and_description_are_trimmed_and_may_use_their_full_length(client, tenant, world):
    campaign = await _create(client, tenant, world.body(name="n" * 60, description="d" * 90))
    assert campaign["name"] == "n" * 60
    assert campaign["description"] == "d" * 90
    trimmed = await _create(client, tenant, world.body(name="  Spring offer ", description=" 20% off  "))
    assert (trimmed["name"], trimmed["description"]) == ("Spring offer", "20% off")
    minimal = await _create(
        client, tenant, world.body(description=..., category_id=..., kind=..., every={"unit": "minute"})
    )
    assert minimal["description"] == ""
    assert minimal["category_id"] is None
    assert minimal["kind"] == "marketing"
    assert minimal["every"] == {"unit": "minute", "count": 1}


def _past() -> str:
    return (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


def _just_now() -> str:
    return datetime.now(UTC).isoformat()


BAD_FIELDS = [
    pytest.param({"name": "n" * 61}, "name", id="name-too-long"),
    pytest.param({"name": ""}, "name", id="name-empty"),
    pytest.param({"name": "   "}, "name", id="name-blank"),
    pytest.param({"name": ...}, "name", id="name-missing"),
    pytest.param({"description": "d" * 91}, "description", id="description-too-long"),
    pytest.param({"start_at": _past}, "start_at", id="start-in-the-past"),
    pytest.param({"start_at": _just_now}, "start_at", id="start-now"),
    pytest.param({"start_at": "2020-01-01T00:00:00Z"}, "start_at", id="start-years-ago"),
    pytest.param({"end_at": START}, "end_at", id="end-equals-start"),
    pytest.param({"end_at": "2030-12-09T08:59:59Z"}, "end_at", id="end-before-start"),
    pytest.param({"start_at": "2030-12-09T09:00:00"}, "start_at", id="start-without-zone"),
    pytest.param({"end_at": "2030-12-16T18:00:00"}, "end_at", id="end-without-zone"),
    pytest.param({"start_at": "next tuesday"}, "start_at", id="start-not-a-date"),
    pytest.param({"end_at": ...}, "end_at", id="end-missing"),
    pytest.param({"flow_id": 999_999}, "flow_id", id="unknown-flow"),
    pytest.param({"group_id": 999_999}, "group_id", id="unknown-group"),
    pytest.param({"sender_id": 999_999}, "sender_id", id="unknown-sender"),
    pytest.param({"category_id": 999_999}, "category_id", id="unknown-category"),
    pytest.param({"flow_id": 2**63}, "flow_id", id="flow-id-beyond-int64"),
    pytest.param({"group_id": 2**64}, "group_id", id="group-id-beyond-int64"),
    pytest.param({"sender_id": 2**63}, "sender_id", id="sender-id-beyond-int64"),
    pytest.param({"category_id": 2**63}, "category_id", id="category-id-beyond-int64"),
    pytest.param({"flow_id": 0}, "flow_id", id="flow-id-zero"),
    pytest.param({"group_id": -1}, "group_id", id="group-id-negative"),
    pytest.param({"flow_id": "one"}, "flow_id", id="flow-id-not-a-number"),
    pytest.param({"kind": "spam"}, "kind", id="unknown-kind"),
    pytest.param({"every": ...}, "every", id="every-missing"),
    pytest.param({"every": {"unit": "week"}}, "every.unit", id="unit-week"),
    pytest.param({"every": {"unit": "hour", "count": 0}}, "every.count", id="count-zero"),
    pytest.param({"every": {"unit": "hour", "count": 100_001}}, "every.count", id="count-huge"),
    pytest.param({"every": {"unit": "hour", "often": True}}, "every.often", id="every-unknown-field"),
    pytest.param({"colour": "red"}, "colour", id="unknown-field"),
    pytest.param({"status": "running"}, "status", id="status-is-not-writable"),
    pytest.param({"flow_version": 1}, "flow_version", id="flow-version-is-not-writable"),
    pytest.param({"opted_in_only": "no"}, "opted_in_only", id="opted-in-only-not-a-bool"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_FIELDS)
async def test_create_refuses_a_bad_field_naming_it_and_stores_nothing(client, tenant, world, changes, field):
    body = world.body(**{key: value() if callable(value) else value for key, value in changes.items()})
    response = await client.post(API, json=body, headers=tenant.headers("marketer"))
    _assert_names(response, field)
    assert await _count_campaigns() == 0
    assert await _audit("campaign.created") == []


async def test_create_lists_every_field_problem_at_once(client, tenant, world):
    response = await client.post(
        API,
        json=world.body(
            name="  ", start_at=_past(), group_id=999_998, sender_id=999_997, category_id=999_996
        ),
        headers=tenant.headers(),
    )
    assert response.status_code == 400
    assert set(_fields(response)) >= {"name", "start_at", "group_id", "sender_id", "category_id"}
    for field in ("name", "start_at", "group_id", "sender_id", "category_id"):
        assert field in response.json()["detail"]


async def test_create_refuses_a_flow_that_was_never_published(client, tenant, world):
    draft = await client.post(
        "/api/v1/flows", json={"name": "Draft only", "graph": ONE_MESSAGE}, headers=tenant.headers()
    )
    assert draft.status_code == 201
    response = await client.post(API, json=world.body(flow_id=draft.json()["id"]), headers=tenant.headers())
    _assert_names(response, "flow_id")
    assert "publish" in response.json()["detail"]
    assert await _count_campaigns() == 0


@pytest.mark.parametrize(
    "start",
    [
        pytest.param({"trigger": "keyword", "keywords": ["DEALS"]}, id="keyword"),
        pytest.param({"trigger": "api"}, id="api"),
    ],
)
async def test_create_refuses_a_flow_that_is_not_manually_triggered(client, tenant, world, start):
    flow = await published_flow(client, tenant, graph(ONE_MESSAGE, **start), name="Not manual")
    response = await client.post(API, json=world.body(flow_id=flow["id"]), headers=tenant.headers())
    _assert_names(response, "flow_id")
    assert start["trigger"] in response.json()["detail"]
    assert "manual" in response.json()["detail"]
    assert await _count_campaigns() == 0


async def test_create_looks_at_the_latest_published_version_not_the_draft(client, tenant, world):
    flow_id = world.flow["id"]
    current = (await client.get(f"/api/v1/flows/{flow_id}", headers=tenant.headers())).json()
    keyword = graph(TWO_STEP, trigger="keyword", keywords=["DEALS"])
    saved = await client.put(
        f"/api/v1/flows/{flow_id}",
        json={"graph": keyword, "revision": current["revision"]},
        headers=tenant.headers(),
    )
    assert saved.status_code == 200, saved.text
    # the draft is keyword-triggered but version 1, which campaigns send, is manual
    await _create(client, tenant, world.body())

    published = await client.post(f"/api/v1/flows/{flow_id}/publish", headers=tenant.headers())
    assert published.status_code in (200, 201), published.text
    # now the latest version is keyword-triggered: a new campaign cannot pin it
    response = await client.post(API, json=world.body(name="Later"), headers=tenant.headers())
    _assert_names(response, "flow_id")


async def test_create_refuses_a_flow_with_buttons_on_an_sms_sender(client, tenant, world):
    sms = await sandbox_sender(client, tenant, channel="sms", address="+351912345671")
    response = await client.post(API, json=world.body(sender_id=sms["id"]), headers=tenant.headers())
    _assert_names(response, "flow_id")
    assert "button" in response.json()["detail"].lower()
    assert await _count_campaigns() == 0

    plain = await published_flow(client, tenant, ONE_MESSAGE, name="Plain")
    campaign = await _create(client, tenant, world.body(flow_id=plain["id"], sender_id=sms["id"]))
    assert campaign["channel"] == "sms"


async def test_create_refuses_references_into_another_workspace(client, tenant, world, make_tenant):
    other = await make_tenant("Other")
    theirs = await _world(client, other)
    for field, value in (
        ("flow_id", theirs.flow["id"]),
        ("group_id", theirs.group["id"]),
        ("sender_id", theirs.sender["id"]),
        ("category_id", theirs.category["id"]),
    ):
        response = await client.post(API, json=world.body(**{field: value}), headers=tenant.headers())
        _assert_names(response, field)
    # and the other way round, with every reference of the other workspace at once
    response = await client.post(
        API,
        json=theirs.body(
            flow_id=world.flow["id"],
            group_id=world.group["id"],
            sender_id=world.sender["id"],
            category_id=world.category["id"],
        ),
        headers=other.headers(),
    )
    assert response.status_code == 400
    assert await _count_campaigns() == 0


async def test_an_end_far_in_the_future_never_breaks_the_api(client, tenant, world):
    response = await client.post(
        API,
        json=world.body(end_at="9999-12-31T23:59:59Z", every={"unit": "day", "count": 1}),
        headers=tenant.headers(),
    )
    assert response.status_code in (201, 400), response.text
    if response.status_code == 400:
        assert "end_at" in _fields(response)
        assert await _count_campaigns() == 0
    listed = await client.get(API, headers=tenant.headers())
    assert listed.status_code == 200, listed.text


async def test_create_refuses_the_wrong_content(client, tenant, world):
    headers = {**tenant.headers(), "content-type": "application/json"}
    assert (await client.post(API, content=b"not json", headers=headers)).status_code == 400
    assert (await client.post(API, json=[world.body()], headers=tenant.headers())).status_code == 400
    assert (await client.post(API, json={}, headers=tenant.headers())).status_code == 400
    assert await _count_campaigns() == 0


# --- opted in only ----------------------------------------------------------------------------------


async def test_turning_opted_in_only_off_needs_a_confirmation(client, tenant, world):
    refused = await client.post(API, json=world.body(opted_in_only=False), headers=tenant.headers())
    _assert_names(refused, "confirm_include_opted_out")
    assert refused.json()["errors"] == [
        {
            "field": "confirm_include_opted_out",
            "message": refused.json()["errors"][0]["message"],
            "source": "body",
        }
    ]
    assert "quality" in refused.json()["detail"]
    assert await _count_campaigns() == 0

    unconfirmed = await client.post(
        API,
        json=world.body(opted_in_only=False, confirm_include_opted_out=False),
        headers=tenant.headers(),
    )
    _assert_names(unconfirmed, "confirm_include_opted_out")
    assert await _audit("campaign.opted_in_only_off") == []

    campaign = await _create(client, tenant, world.body(opted_in_only=False, confirm_include_opted_out=True))
    assert campaign["opted_in_only"] is False
    events = await _audit("campaign.opted_in_only_off", campaign["id"])
    assert len(events) == 1
    assert events[0]["target_type"] == "campaign"

    listed = await client.get(
        "/api/v1/audit-log", params={"action": "campaign.opted_in_only_off"}, headers=tenant.headers()
    )
    assert listed.status_code == 200
    assert [item["target_id"] for item in listed.json()["items"]] == [str(campaign["id"])]
    assert "API key" in listed.json()["items"][0]["actor"]


async def test_confirming_without_turning_it_off_records_nothing(client, tenant, world):
    campaign = await _create(client, tenant, world.body(confirm_include_opted_out=True))
    assert campaign["opted_in_only"] is True
    assert await _audit("campaign.opted_in_only_off") == []


async def test_turning_it_off_later_also_needs_the_confirmation_and_is_audited(client, tenant, world):
    campaign = await _create(client, tenant, world.body())
    url = f"{API}/{campaign['id']}"

    refused = await client.patch(url, json={"opted_in_only": False}, headers=tenant.headers())
    _assert_names(refused, "confirm_include_opted_out")
    assert (await client.get(url, headers=tenant.headers())).json()["opted_in_only"] is True

    changed = await client.patch(
        url, json={"opted_in_only": False, "confirm_include_opted_out": True}, headers=tenant.headers()
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["opted_in_only"] is False
    assert len(await _audit("campaign.opted_in_only_off", campaign["id"])) == 1

    # turning it back on needs nothing and records no warning
    back = await client.patch(url, json={"opted_in_only": True}, headers=tenant.headers())
    assert back.status_code == 200
    assert back.json()["opted_in_only"] is True
    assert len(await _audit("campaign.opted_in_only_off", campaign["id"])) == 1


# --- list ---------------------------------------------------------------------------------------------


async def _list(client, tenant, role: str = "viewer", **params: Any):
    response = await client.get(API, params=params, headers=tenant.headers(role))
    assert response.status_code == 200, response.text
    return response.json()


def _names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["items"]]


async def test_list_filters_by_name_flow_group_and_status(client, tenant, world):
    other_flow = await published_flow(client, tenant, ONE_MESSAGE, name="Other flow")
    other_group = await group_of(tenant.id, 2, name="VIP", first=100)
    spring = await _create(client, tenant, world.body(name="Spring Offer"))
    summer = await _create(client, tenant, world.body(name="summer offer 2030", flow_id=other_flow["id"]))
    winter = await _create(client, tenant, world.body(name="Winter sale", group_id=other_group["id"]))
    hundred = await _create(
        client,
        tenant,
        world.body(name="100% off_today", flow_id=other_flow["id"], group_id=other_group["id"]),
    )
    await Campaign.update({Campaign.status: "paused"}).where(Campaign.id == winter["id"])
    await Campaign.update({Campaign.status: "ended"}).where(Campaign.id == hundred["id"])

    everything = await _list(client, tenant)
    assert _names(everything) == ["Spring Offer", "summer offer 2030", "Winter sale", "100% off_today"]
    assert everything["next_cursor"] is None
    assert [item["status"] for item in everything["items"]] == ["scheduled", "scheduled", "paused", "ended"]

    assert _names(await _list(client, tenant, name="OFFER")) == ["Spring Offer", "summer offer 2030"]
    assert _names(await _list(client, tenant, name="ring off")) == ["Spring Offer"]
    assert _names(await _list(client, tenant, name="0%")) == ["100% off_today"]  # % is literal
    assert _names(await _list(client, tenant, name="f_t")) == ["100% off_today"]  # so is _
    assert _names(await _list(client, tenant, name="o_f")) == []
    assert _names(await _list(client, tenant, name="autumn")) == []

    assert _names(await _list(client, tenant, flow_id=world.flow["id"])) == ["Spring Offer", "Winter sale"]
    assert _names(await _list(client, tenant, flow_id=other_flow["id"])) == [
        "summer offer 2030",
        "100% off_today",
    ]
    assert _names(await _list(client, tenant, group_id=other_group["id"])) == [
        "Winter sale",
        "100% off_today",
    ]
    assert _names(await _list(client, tenant, status="scheduled")) == ["Spring Offer", "summer offer 2030"]
    assert _names(await _list(client, tenant, status="paused")) == ["Winter sale"]
    assert _names(await _list(client, tenant, status="ended")) == ["100% off_today"]
    assert _names(await _list(client, tenant, status="running")) == []
    assert _names(
        await _list(client, tenant, name="offer", flow_id=other_flow["id"], status="scheduled")
    ) == ["summer offer 2030"]
    assert _names(await _list(client, tenant, group_id=world.group["id"], status="paused")) == []
    assert {item["id"] for item in everything["items"]} == {
        spring["id"],
        summer["id"],
        winter["id"],
        hundred["id"],
    }


@pytest.mark.xfail(
    condition=not os.environ.get("FLOWGATE_TEST_DATABASE_URL"),
    reason="BUG: on SQLite the name filter (core.database.contains_text: instr(lower(…))) ignores case for "
    "ASCII letters only, so VERÃO does not find Verão",
    strict=True,
)
async def test_the_name_filter_ignores_case_beyond_ascii(client, tenant, world):
    await _create(client, tenant, world.body(name="Promoção Verão"))
    await _create(client, tenant, world.body(name="ÉTÉ À PARIS"))
    assert _names(await _list(client, tenant, name="verão")) == ["Promoção Verão"]
    assert _names(await _list(client, tenant, name="été à")) == ["ÉTÉ À PARIS"]
    assert _names(await _list(client, tenant, name="VERÃO")) == ["Promoção Verão"]
    assert _names(await _list(client, tenant, name="PROMOÇÃO")) == ["Promoção Verão"]


async def test_list_pages_with_a_cursor_through_everything_once(client, tenant, world):
    created = [await _create(client, tenant, world.body(name=f"Campaign {i}")) for i in range(5)]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await _list(client, tenant, **params)
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [campaign["id"] for campaign in created]

    # the filters hold on every page
    await Campaign.update({Campaign.status: "paused"}).where(
        Campaign.id.is_in([created[1]["id"], created[3]["id"], created[4]["id"]])
    )
    first = await _list(client, tenant, status="paused", limit=2)
    assert _names(first) == ["Campaign 1", "Campaign 3"]
    second = await _list(client, tenant, status="paused", limit=2, cursor=first["next_cursor"])
    assert _names(second) == ["Campaign 4"]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "archived"}, "status"),
        ({"flow_id": 0}, "flow_id"),
        ({"flow_id": "abc"}, "flow_id"),
        ({"group_id": 2**63}, "group_id"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"name": "n" * 61}, "name"),
    ],
)
async def test_list_refuses_bad_filters_naming_them(client, tenant, params, field):
    response = await client.get(API, params=params, headers=tenant.headers("viewer"))
    _assert_names(response, field)


async def test_list_shows_only_the_callers_workspace(client, tenant, world, make_tenant):
    ours = await _create(client, tenant, world.body(name="Shared name"))
    other = await make_tenant("Other")
    theirs_world = await _world(client, other)
    theirs = await _create(client, other, theirs_world.body(name="Shared name"))

    assert [item["id"] for item in (await _list(client, tenant))["items"]] == [ours["id"]]
    assert [item["id"] for item in (await _list(client, other))["items"]] == [theirs["id"]]
    assert (await _list(client, tenant, flow_id=theirs_world.flow["id"]))["items"] == []
    assert (await _list(client, tenant, group_id=theirs_world.group["id"]))["items"] == []
    assert (await _list(client, other, name="shared"))["items"][0]["id"] == theirs["id"]


# --- roles ------------------------------------------------------------------------------------------


async def test_a_viewer_reads_but_cannot_change_anything(client, tenant, world):
    campaign = await _create(client, tenant, world.body())
    url = f"{API}/{campaign['id']}"
    viewer = tenant.headers("viewer")

    assert (await client.get(API, headers=viewer)).status_code == 200
    assert (await client.get(url, headers=viewer)).status_code == 200
    assert (await client.get(f"{url}/audience", headers=viewer)).status_code == 200
    assert (await client.get(f"{url}/stats", headers=viewer)).status_code == 200
    assert (await client.get(f"{url}/report", headers=viewer)).status_code == 200

    writes = [
        await client.post(API, json=world.body(name="By a viewer"), headers=viewer),
        await client.patch(url, json={"name": "Changed by a viewer"}, headers=viewer),
        await client.delete(url, headers=viewer),
        await client.post(f"{url}/suspend", headers=viewer),
        await client.post(f"{url}/resume", json={"start_at": _in(60)}, headers=viewer),
    ]
    for response in writes:
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "forbidden"
    after = (await client.get(url, headers=viewer)).json()
    assert after == campaign
    assert await _count_campaigns() == 1


async def test_a_marketer_and_an_admin_can_create_and_change(client, tenant, world):
    for role in ("marketer", "admin"):
        campaign = await _create(client, tenant, world.body(name=f"By {role}"), role=role)
        url = f"{API}/{campaign['id']}"
        changed = await client.patch(url, json={"description": role}, headers=tenant.headers(role))
        assert changed.status_code == 200
        assert (await client.delete(url, headers=tenant.headers(role))).status_code == 204


async def test_without_a_key_nothing_is_answered(client, tenant, world):
    campaign = await _create(client, tenant, world.body())
    for response in (
        await client.get(API),
        await client.get(f"{API}/{campaign['id']}"),
        await client.post(API, json=world.body()),
        await client.delete(f"{API}/{campaign['id']}", headers={"Authorization": "Bearer fgk_nope"}),
    ):
        assert response.status_code == 401
    assert await _count_campaigns() == 1


# --- another workspace --------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["scheduled", "running", "paused"])
async def test_another_workspaces_campaign_is_404_on_every_route(client, tenant, world, make_tenant, state):
    campaign = await _create(client, tenant, world.body())
    await Campaign.update({Campaign.status: state}).where(Campaign.id == campaign["id"])
    before = (await client.get(f"{API}/{campaign['id']}", headers=tenant.headers())).json()
    intruder = await make_tenant("Intruder")
    headers = intruder.headers()
    url = f"{API}/{campaign['id']}"

    responses = {
        "get": await client.get(url, headers=headers),
        "patch": await client.patch(url, json={"name": "Mine now"}, headers=headers),
        "suspend": await client.post(f"{url}/suspend", headers=headers),
        "resume": await client.post(f"{url}/resume", json={"start_at": _in(60)}, headers=headers),
        "audience": await client.get(f"{url}/audience", headers=headers),
        "excluded": await client.get(f"{url}/audience/excluded", headers=headers),
        "stats": await client.get(f"{url}/stats", headers=headers),
        "report": await client.get(f"{url}/report", headers=headers),
        "report.csv": await client.get(f"{url}/report", params={"format": "csv"}, headers=headers),
        "live-ticket": await client.post(f"{url}/live-tickets", headers=headers),
        "delete": await client.delete(url, headers=headers),
    }
    for route, response in responses.items():
        assert response.status_code == 404, (route, response.status_code, response.text)
        assert response.json()["error"] == "not_found", route
    assert (await client.get(url, headers=tenant.headers())).json() == before
    assert await _audit("campaign.updated") == []


async def test_a_missing_campaign_is_404(client, tenant):
    for response in (
        await client.get(f"{API}/424242", headers=tenant.headers()),
        await client.patch(f"{API}/424242", json={"name": "x"}, headers=tenant.headers()),
        await client.delete(f"{API}/424242", headers=tenant.headers()),
        await client.post(f"{API}/424242/suspend", headers=tenant.headers()),
        await client.post(f"{API}/424242/resume", json={"start_at": _in(60)}, headers=tenant.headers()),
        await client.get(f"{API}/424242/audience", headers=tenant.headers()),
    ):
        assert response.status_code == 404, response.text
        assert "424242" in response.json()["detail"]


async def test_a_path_id_beyond_int64_is_a_client_error(client, tenant):
    for response in (
        await client.get(f"{API}/{2**63}", headers=tenant.headers()),
        await client.patch(f"{API}/{2**63}", json={"name": "x"}, headers=tenant.headers()),
        await client.delete(f"{API}/{2**63}", headers=tenant.headers()),
        await client.get(f"{API}/{2**64}/audience", headers=tenant.headers()),
    ):
        assert response.status_code in (400, 404), response.text


# --- modify -------------------------------------------------------------------------------------------


async def test_modify_a_scheduled_campaign(client, tenant, world):
    campaign = await _create(client, tenant, world.body())
    other_flow = await published_flow(client, tenant, ONE_MESSAGE, name="Other")
    other_group = await group_of(tenant.id, 1, name="Others", first=50)
    url = f"{API}/{campaign['id']}"

    response = await client.patch(
        url,
        json={
            "name": " Autumn offer ",
            "description": "Now 30% off",
            "flow_id": other_flow["id"],
            "group_id": other_group["id"],
            "category_id": None,
            "start_at": "2030-12-10T09:00:00Z",
            "end_at": "2030-12-20T09:00:00Z",
            "every": {"unit": "day", "count": 3},
            "allow_reentry": True,
        },
        headers=tenant.headers("marketer"),
    )

    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["status"] == "scheduled"
    assert changed["name"] == "Autumn offer"
    assert changed["description"] == "Now 30% off"
    assert changed["flow_id"] == other_flow["id"]
    assert changed["flow_version"] is None
    assert changed["group_id"] == other_group["id"]
    assert changed["category_id"] is None
    assert changed["start_at"] == "2030-12-10T09:00:00Z"
    assert changed["end_at"] == "2030-12-20T09:00:00Z"
    assert changed["every"] == {"unit": "day", "count": 3}
    assert changed["allow_reentry"] is True
    # 10, 13, 16 and 19 Dec: the plan counts from the new start
    assert changed["planned_triggers"] == 4
    assert changed["plan"] == "every 3 days from 10 Dec 2030 09:00 to 20 Dec 2030 09:00 (UTC), 4 triggers"
    assert (await client.get(url, headers=tenant.headers())).json() == changed
    updated = await _audit("campaign.updated", campaign["id"])
    assert len(updated) == 1
    assert updated[0]["data"]["name"] == {"from": "Spring offer", "to": "Autumn offer"}


async def test_modify_with_nothing_changes_nothing(client, tenant, world):
    campaign = await _create(client, tenant, world.body())
    response = await client.patch(f"{API}/{campaign['id']}", json={}, headers=tenant.headers())
    assert response.status_code == 200
    unchanged = {k: v for k, v in response.json().items() if k != "updated_at"}
    assert unchanged == {k: v for k, v in campaign.items() if k != "updated_at"}


async def test_modify_only_the_end_keeps_the_start_and_recounts(client, tenant, world):
    campaign = await _create(client, tenant, world.body())
    response = await client.patch(
        f"{API}/{campaign['id']}", json={"end_at": "2030-12-09T19:00:00Z"}, headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    assert response.json()["start_at"] == START
    assert response.json()["planned_triggers"] == 5  # 09, 11, 13, 15, 17 h


PATCH_PROBLEMS = [
    pytest.param({"name": ""}, "name", id="name-empty"),
    pytest.param({"name": "  "}, "name", id="name-blank"),
    pytest.param({"name": "n" * 61}, "name", id="name-too-long"),
    pytest.param({"description": "d" * 91}, "description", id="description-too-long"),
    pytest.param({"start_at": "2020-01-01T00:00:00Z"}, "start_at", id="start-in-the-past"),
    pytest.param({"start_at": "2030-12-09T09:00:00"}, "start_at", id="start-without-zone"),
    pytest.param({"start_at": END}, "end_at", id="start-at-the-end"),
    pytest.param({"end_at": START}, "end_at", id="end-at-the-start"),
    pytest.param({"end_at": "2030-12-01T00:00:00Z"}, "end_at", id="end-before-the-start"),
    pytest.param({"group_id": 999_999}, "group_id", id="unknown-group"),
    pytest.param({"sender_id": 999_999}, "sender_id", id="unknown-sender"),
    pytest.param({"flow_id": 999_999}, "flow_id", id="unknown-flow"),
    pytest.param({"category_id": 999_999}, "category_id", id="unknown-category"),
    pytest.param({"flow_id": 2**63}, "flow_id", id="flow-id-beyond-int64"),
    pytest.param({"every": {"unit": "fortnight"}}, "every.unit", id="unknown-unit"),
    pytest.param({"kind": "spam"}, "kind", id="unknown-kind"),
    pytest.param({"status": "running"}, "status", id="status-is-not-writable"),
    pytest.param({"colour": "red"}, "colour", id="unknown-field"),
]


@pytest.mark.parametrize(("changes", "field"), PATCH_PROBLEMS)
async def test_modify_validates_like_create_and_changes_nothing_when_refused(
    client, tenant, world, changes, field
):
    campaign = await _create(client, tenant, world.body())
    url = f"{API}/{campaign['id']}"
    response = await client.patch(url, json=changes, headers=tenant.headers())
    _assert_names(response, field)
    assert (await client.get(url, headers=tenant.headers())).json() == campaign
    assert await _audit("campaign.updated") == []


async def test_modify_checks_the_flow_against_a_new_sender_and_a_new_flow(client, tenant, world):
    campaign = await _create(client, tenant, world.body())
    url = f"{API}/{campaign['id']}"
    sms = await sandbox_sender(client, tenant, channel="sms", address="+351912345672")

    # the campaign's flow has buttons: it cannot go to an SMS sender
    response = await client.patch(url, json={"sender_id": sms["id"]}, headers=tenant.headers())
    _assert_names(response, "flow_id")
    assert "button" in response.json()["detail"].lower()

    keyword = await published_flow(client, tenant, graph(ONE_MESSAGE, trigger="keyword", keywords=["X"]))
    _assert_names(
        await client.patch(url, json={"flow_id": keyword["id"]}, headers=tenant.headers()), "flow_id"
    )
    draft = await client.post(
        "/api/v1/flows", json={"name": "Draft", "graph": ONE_MESSAGE}, headers=tenant.headers()
    )
    _assert_names(
        await client.patch(url, json={"flow_id": draft.json()["id"]}, headers=tenant.headers()), "flow_id"
    )
    assert (await client.get(url, headers=tenant.headers())).json() == campaign

    # flow and sender changed together are checked together
    plain = await published_flow(client, tenant, ONE_MESSAGE, name="Plain")
    both = await client.patch(
        url, json={"flow_id": plain["id"], "sender_id": sms["id"]}, headers=tenant.headers()
    )
    assert both.status_code == 200, both.text
    assert both.json()["channel"] == "sms"


async def test_modify_refuses_references_into_another_workspace(client, tenant, world, make_tenant):
    campaign = await _create(client, tenant, world.body())
    other = await make_tenant("Other")
    theirs = await _world(client, other)
    url = f"{API}/{campaign['id']}"
    for field, value in (
        ("group_id", theirs.group["id"]),
        ("sender_id", theirs.sender["id"]),
        ("flow_id", theirs.flow["id"]),
        ("category_id", theirs.category["id"]),
    ):
        response = await client.patch(url, json={field: value}, headers=tenant.headers())
        _assert_names(response, field)
    assert (await client.get(url, headers=tenant.headers())).json() == campaign


async def test_a_paused_campaign_gets_its_new_start_from_resume_not_from_modify(client, tenant, world):
    campaign = await _create(client, tenant, world.body())
    await Campaign.update({Campaign.status: "paused"}).where(Campaign.id == campaign["id"])
    url = f"{API}/{campaign['id']}"

    response = await client.patch(url, json={"start_at": "2030-12-10T09:00:00Z"}, headers=tenant.headers())
    _assert_names(response, "start_at")
    assert "resume" in response.json()["detail"]
    assert (await client.get(url, headers=tenant.headers())).json()["start_at"] == START

    # everything else may change while it is paused, and it stays paused
    changed = await client.patch(
        url, json={"name": "Paused offer", "end_at": "2030-12-20T09:00:00Z"}, headers=tenant.headers()
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "paused"
    assert changed.json()["name"] == "Paused offer"
    assert changed.json()["end_at"] == "2030-12-20T09:00:00Z"


async def _resumed(client, tenant, world, start_in: timedelta) -> tuple[dict[str, Any], datetime]:
    """A campaign that ran, was suspended and was resumed ``start_in`` from now: scheduled again."""
    campaign = await _create(
        client, tenant, world.body(start_at=_in(5), end_at=_in(days=7), every={"unit": "day"})
    )
    await Campaign.update({Campaign.status: "running", Campaign.started_at: datetime.now(UTC)}).where(
        Campaign.id == campaign["id"]
    )
    url = f"{API}/{campaign['id']}"
    assert (await client.post(f"{url}/suspend", headers=tenant.headers())).status_code == 200
    start = (datetime.now(UTC) + start_in).replace(microsecond=0)
    resumed = await client.post(
        f"{url}/resume", json={"start_at": start.isoformat()}, headers=tenant.headers()
    )
    assert resumed.status_code == 200, resumed.text
    return resumed.json(), start


async def test_modifying_the_start_of_a_resumed_campaign_moves_its_plan(client, tenant, world, redis_url):
    resumed, _ = await _resumed(client, tenant, world, timedelta(days=2))
    assert resumed["status"] == "scheduled"
    new_start = (datetime.now(UTC) + timedelta(days=1, hours=3)).replace(microsecond=0)

    response = await client.patch(
        f"{API}/{resumed['id']}", json={"start_at": new_start.isoformat()}, headers=tenant.headers()
    )

    assert response.status_code == 200, response.text
    assert at(response.json()["start_at"]) == new_start
    assert new_start.strftime("from %-d %b %Y %H:%M") in response.json()["plan"]
    # when the campaign starts at its new start, its first trigger fires then
    await tick(redis_url, new_start + timedelta(seconds=1))
    started = (await client.get(f"{API}/{resumed['id']}", headers=tenant.headers())).json()
    assert started["status"] == "running"
    assert started["triggers_fired"] == 1


# --- resume -------------------------------------------------------------------------------------------


async def test_resume_needs_a_start_later_than_now_and_earlier_than_the_end(client, tenant, world):
    campaign = await _create(client, tenant, world.body())
    await Campaign.update({Campaign.status: "paused"}).where(Campaign.id == campaign["id"])
    url = f"{API}/{campaign['id']}/resume"

    for body, field in (
        ({"start_at": _past()}, "start_at"),
        ({"start_at": "2020-01-01T00:00:00Z"}, "start_at"),
        ({"start_at": END}, "start_at"),
        ({"start_at": "2031-01-01T00:00:00Z"}, "start_at"),
        ({"start_at": "2030-12-10T09:00:00"}, "start_at"),
        ({}, "start_at"),
        ({"start_at": "2030-12-10T09:00:00Z", "end_at": "2031-01-01T00:00:00Z"}, "end_at"),
    ):
        response = await client.post(url, json=body, headers=tenant.headers())
        _assert_names(response, field)
    end_refusal = await client.post(url, json={"start_at": END}, headers=tenant.headers())
    assert "end" in end_refusal.json()["detail"]
    paused = (await client.get(f"{API}/{campaign['id']}", headers=tenant.headers())).json()
    assert paused["status"] == "paused"
    assert paused["start_at"] == START
    assert await _audit("campaign.resumed") == []

    resumed = await client.post(url, json={"start_at": "2030-12-12T10:00:00+01:00"}, headers=tenant.headers())
    assert resumed.status_code == 200, resumed.text
    campaign = resumed.json()
    assert campaign["status"] == "scheduled"
    assert campaign["start_at"] == "2030-12-12T09:00:00Z"
    assert campaign["end_at"] == END
    # the plan counts from the new start: 12 Dec 09:00 to 16 Dec 18:00 is 105 h, slots 0…104: 53
    assert campaign["planned_triggers"] == 53
    assert campaign["plan"].startswith("every 2 hours from 12 Dec 2030 09:00 to 16 Dec 2030 18:00")
    assert len(await _audit("campaign.resumed", campaign["id"])) == 1


async def test_a_resumed_campaign_starts_again_at_its_new_start(client, tenant, world, redis_url):
    resumed, start = await _resumed(client, tenant, world, timedelta(hours=6))
    url = f"{API}/{resumed['id']}"
    await tick(redis_url, start - timedelta(seconds=1))
    assert (await client.get(url, headers=tenant.headers())).json()["status"] == "scheduled"
    await tick(redis_url, start + timedelta(seconds=1))
    running = (await client.get(url, headers=tenant.headers())).json()
    assert running["status"] == "running"
    assert running["triggers_fired"] == 1
    assert at(running["last_trigger_at"]) == start


# --- what a campaign uses cannot be deleted -----------------------------------------------------------


async def test_a_group_sender_or_flow_in_use_cannot_be_deleted(client, tenant, world):
    campaign = await _create(client, tenant, world.body())
    headers = tenant.headers()
    for kind, thing in (("groups", world.group), ("senders", world.sender), ("flows", world.flow)):
        response = await client.delete(f"/api/v1/{kind}/{thing['id']}", headers=headers)
        assert response.status_code == 409, (kind, response.text)
        assert response.json()["error"] == "conflict"
        assert "campaign" in response.json()["detail"]
        assert (await client.get(f"/api/v1/{kind}/{thing['id']}", headers=headers)).status_code == 200
    # nothing half-done: the group still has its members, the campaign is intact
    members = await client.get(f"/api/v1/groups/{world.group['id']}/members", headers=headers)
    assert len(members.json()["items"]) == 3
    assert (await client.get(f"{API}/{campaign['id']}", headers=headers)).json() == campaign
    for action in ("group.deleted", "sender.deleted", "flow.deleted"):
        assert await _audit(action) == []

    # once the campaign is gone they can go
    assert (await client.delete(f"{API}/{campaign['id']}", headers=headers)).status_code == 204
    for kind, thing in (("groups", world.group), ("senders", world.sender), ("flows", world.flow)):
        response = await client.delete(f"/api/v1/{kind}/{thing['id']}", headers=headers)
        assert response.status_code == 204, (kind, response.text)


async def test_an_ended_campaign_still_holds_what_it_used(client, tenant, world):
    campaign = await _create(client, tenant, world.body())
    await Campaign.update({Campaign.status: "ended"}).where(Campaign.id == campaign["id"])
    response = await client.delete(f"/api/v1/groups/{world.group['id']}", headers=tenant.headers())
    assert response.status_code == 409


async def test_deleting_a_campaigns_category_leaves_the_campaign_without_one(client, tenant, world):
    campaign = await _create(client, tenant, world.body())
    response = await client.delete(
        f"/api/v1/marketing-categories/{world.category['id']}", headers=tenant.headers()
    )
    assert response.status_code == 204, response.text
    after = (await client.get(f"{API}/{campaign['id']}", headers=tenant.headers())).json()
    assert after["category_id"] is None
    assert after["status"] == "scheduled"


async def test_deleting_a_campaign_removes_it(client, tenant, world):
    campaign = await _create(client, tenant, world.body())
    url = f"{API}/{campaign['id']}"
    assert (await client.delete(url, headers=tenant.headers("marketer"))).status_code == 204
    assert (await client.get(url, headers=tenant.headers())).status_code == 404
    assert (await client.delete(url, headers=tenant.headers())).status_code == 404
    assert (await _list(client, tenant))["items"] == []
    events = await _audit("campaign.deleted", campaign["id"])
    assert len(events) == 1
    assert events[0]["data"]["name"] == "Spring offer"


# --- audience -----------------------------------------------------------------------------------------


async def _audience(client, tenant, campaign_id: int) -> dict[str, Any]:
    response = await client.get(f"{API}/{campaign_id}/audience", headers=tenant.headers("viewer"))
    assert response.status_code == 200, response.text
    return response.json()


async def _add_member(tenant_id: int, group_id: int, **contact: Any) -> int:
    from backend.audience.tables import Contact, GroupMember

    inserted = await Contact.insert(Contact(workspace=tenant_id, **contact)).returning(Contact.id)
    await GroupMember.insert(GroupMember(workspace=tenant_id, group=group_id, contact=inserted[0]["id"]))
    return inserted[0]["id"]


async def test_audience_before_the_start(client, tenant, world):
    from backend.consent.service import record_opt_out

    group = await group_of(tenant.id, 10, name="Audience", opted_out=2, first=200)  # keyword opt-outs
    for i in (2, 3):  # two more marked as not consenting by an import
        await record_opt_out(
            tenant.id, channel="whatsapp", address=phone(200 + i), source="import", actor="test"
        )
    no_phone = await _add_member(tenant.id, group["id"], name="Mail only", email="mail@example.com")

    strict = await _create(client, tenant, world.body(group_id=group["id"]))
    assert await _audience(client, tenant, strict["id"]) == {
        "campaign_id": strict["id"],
        "group_id": group["id"],
        "channel": "whatsapp",
        "members": 11,
        "eligible": 6,
        "excluded": {"opted_out": 4, "no_address": 1, "already_entered": 0},
        "opt_out_filter_applied": True,
    }

    # opted-in only off: the import's marks no longer exclude, the people's own opt-outs still do
    lenient = await _create(
        client,
        tenant,
        world.body(name="Lenient", group_id=group["id"], opted_in_only=False, confirm_include_opted_out=True),
    )
    lenient_audience = await _audience(client, tenant, lenient["id"])
    assert lenient_audience["eligible"] == 8
    assert lenient_audience["excluded"] == {"opted_out": 2, "no_address": 1, "already_entered": 0}

    # the excluded list names each of them with the reason
    response = await client.get(f"{API}/{strict['id']}/audience/excluded", headers=tenant.headers("viewer"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.strip().splitlines()
    assert lines[0] == "contact_id,name,phone,email,reason"
    reasons = sorted(line.rsplit(",", 1)[1] for line in lines[1:])
    assert reasons == ["no_address"] + ["opted_out"] * 4
    assert any(line.startswith(f"{no_phone},Mail only,,mail@example.com,") for line in lines)


async def test_audience_follows_the_channel_and_the_group(client, tenant, world):
    email_sender = await sandbox_sender(client, tenant, channel="email", address="news@acme.example")
    plain = await published_flow(client, tenant, ONE_MESSAGE, name="Plain")
    await _add_member(tenant.id, world.group["id"], name="Mail only", email="mail@example.com")
    by_mail = await _create(client, tenant, world.body(flow_id=plain["id"], sender_id=email_sender["id"]))
    audience = await _audience(client, tenant, by_mail["id"])
    assert audience["channel"] == "email"
    assert (audience["members"], audience["eligible"], audience["excluded"]["no_address"]) == (4, 1, 3)

    # members added later are counted at once (the next trigger picks them up)
    await _add_member(tenant.id, world.group["id"], name="Late", email="late@example.com")
    assert (await _audience(client, tenant, by_mail["id"]))["eligible"] == 2


async def test_a_transactional_campaign_on_a_bypass_group_does_not_filter_opt_outs(client, tenant, world):
    bypass = await group_of(tenant.id, 5, name="Receipts", opted_out=2, bypass=True, first=300)
    transactional = await _create(
        client, tenant, world.body(group_id=bypass["id"], kind="transactional", category_id=None)
    )
    audience = await _audience(client, tenant, transactional["id"])
    assert audience["opt_out_filter_applied"] is False
    assert audience["eligible"] == 5
    assert audience["excluded"] == {"opted_out": 0, "no_address": 0, "already_entered": 0}

    # marketing to the same group is filtered whatever the group says
    marketing = await _create(client, tenant, world.body(name="Promo", group_id=bypass["id"]))
    audience = await _audience(client, tenant, marketing["id"])
    assert audience["opt_out_filter_applied"] is True
    assert audience["eligible"] == 3
    assert audience["excluded"]["opted_out"] == 2


@pytest.mark.parametrize(
    ("field", "value"), [("start_at", "0001-01-01T00:00:01+08:00"), ("end_at", "9999-12-31T23:00:00-05:00")]
)
async def test_a_time_outside_utc_s_years_is_refused_naming_it_not_a_server_error(
    client, tenant, world, field, value
):
    """Found by the API fuzzer: year 1 at +08:00 is year 0 in UTC, and converting it raised OverflowError."""
    response = await client.post(API, json=world.body(**{field: value}), headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == field
