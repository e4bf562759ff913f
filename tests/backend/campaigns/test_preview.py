"""The campaign form's preview (``POST /campaigns/preview``, ``GET /campaigns/preview/excluded``): the plan
in words and who would receive a campaign that is not saved yet.

The preview promises what the saved campaign will then show, so every count and plan here is compared
with the one the campaign answers once it is created from the same fields. A form half filled in, or
filled in wrongly, still answers the parts it can, and the preview never stores anything.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import pytest

from backend.audit.tables import AuditEvent
from backend.campaigns.tables import Campaign
from backend.runs.tables import Run
from tests.backend.campaigns.helpers import (
    ONE_MESSAGE,
    add_members,
    create_campaign,
    group_of,
    opt_out,
    phone,
    published_flow,
    sandbox_sender,
    start_and_work,
)

API = "/api/v1/campaigns"
PREVIEW = f"{API}/preview"
EXCLUDED = f"{API}/preview/excluded"
START = "2030-12-09T09:00:00Z"
END = "2030-12-16T18:00:00Z"
CSV_HEADER = ["contact_id", "name", "phone", "email", "reason"]

ADMIN_MARKED = {"manual": [0, 1], "import": [2]}
"""Phone indexes opted out by an admin or an import: the opted-in-only toggle off lets them through."""
OWN_OPT_OUTS = {"keyword": [3], "web_form": [4]}
"""Phone indexes that opted out themselves (a STOP, the web form): never let through."""
NEVER_OPTED_OUT = [5, 6, 7]
WITHOUT_PHONE = 2
MARKED = sum(len(indexes) for indexes in ADMIN_MARKED.values())
OWN = sum(len(indexes) for indexes in OWN_OPT_OUTS.values())


@dataclass
class Form:
    """A workspace ready for a campaign form, and the form's fields."""

    flow: dict[str, Any]
    sender: dict[str, Any]
    group: dict[str, Any]
    category: dict[str, Any]

    def fields(self, **changes: Any) -> dict[str, Any]:
        """The preview's body: the form's audience and plan fields (``...`` leaves one out)."""
        result: dict[str, Any] = {
            "group_id": self.group["id"],
            "sender_id": self.sender["id"],
            "category_id": self.category["id"],
            "kind": "marketing",
            "opted_in_only": True,
            "start_at": START,
            "end_at": END,
            "every": {"unit": "hour", "count": 2},
        }
        result.update(changes)
        return {key: value for key, value in result.items() if value is not ...}

    def campaign(self, **changes: Any) -> dict[str, Any]:
        """The create body holding the same fields, with what only saving needs (name, flow)."""
        body = {"name": "Spring offer", "flow_id": self.flow["id"], **self.fields(**changes)}
        if body["opted_in_only"] is False:
            body["confirm_include_opted_out"] = True
        return body


async def _category(client, tenant) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/marketing-categories", json={"name": "Promotions"}, headers=tenant.headers()
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _mixed_group(tenant_id: int) -> dict[str, Any]:
    """Ten members: two marked by an admin and one by an import, two who opted out themselves, three who
    never did, and two with no phone (email only)."""
    group = await group_of(tenant_id, 8, name="Preview")
    for source, indexes in (*ADMIN_MARKED.items(), *OWN_OPT_OUTS.items()):
        await opt_out(tenant_id, indexes, source)
    await add_members(tenant_id, group["id"], WITHOUT_PHONE, first=100, with_phone=False)
    return group


@pytest.fixture
async def form(client, tenant) -> Form:
    from backend.consent.validation import SELF_SERVICE_SOURCES

    assert set(OWN_OPT_OUTS) <= SELF_SERVICE_SOURCES
    assert not set(ADMIN_MARKED) & SELF_SERVICE_SOURCES
    return Form(
        flow=await published_flow(client, tenant, ONE_MESSAGE),
        sender=await sandbox_sender(client, tenant),
        group=await _mixed_group(tenant.id),
        category=await _category(client, tenant),
    )


async def _preview(client, tenant, body: dict[str, Any], role: str = "viewer") -> dict[str, Any]:
    response = await client.post(PREVIEW, json=body, headers=tenant.headers(role))
    assert response.status_code == 200, response.text
    return response.json()


async def _create(client, tenant, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(API, json=body, headers=tenant.headers("marketer"))
    assert response.status_code == 201, response.text
    return response.json()


async def _saved_audience(client, tenant, campaign_id: int) -> dict[str, Any]:
    response = await client.get(f"{API}/{campaign_id}/audience", headers=tenant.headers("viewer"))
    assert response.status_code == 200, response.text
    return response.json()


def _without_campaign_id(audience: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in audience.items() if key != "campaign_id"}


def _csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0] == CSV_HEADER
    return [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]


def _fields(response) -> list[str]:
    return [problem["field"] for problem in response.json()["errors"]]


# --- the audience -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opted_in_only", "eligible", "opted_out"),
    [
        pytest.param(True, len(NEVER_OPTED_OUT), MARKED + OWN, id="opted-in-only"),
        # admin and import marks no longer exclude; a person's own STOP or web-form opt-out still does
        pytest.param(False, len(NEVER_OPTED_OUT) + MARKED, OWN, id="toggle-off"),
    ],
)
async def test_the_preview_counts_what_the_saved_campaign_then_counts(
    client, tenant, form, opted_in_only, eligible, opted_out
):
    preview = await _preview(client, tenant, form.fields(opted_in_only=opted_in_only))

    assert preview["errors"] == []
    assert preview["audience"] == {
        "group_id": form.group["id"],
        "channel": "whatsapp",
        "members": 10,
        "eligible": eligible,
        "excluded": {"opted_out": opted_out, "no_address": WITHOUT_PHONE, "already_entered": 0},
        "opt_out_filter_applied": True,
    }
    campaign = await _create(client, tenant, form.campaign(opted_in_only=opted_in_only))
    saved = await _saved_audience(client, tenant, campaign["id"])
    assert _without_campaign_id(saved) == preview["audience"]


async def test_with_the_toggle_off_only_admin_marks_become_eligible(client, tenant, form):
    response = await client.get(
        EXCLUDED,
        params={"group_id": form.group["id"], "sender_id": form.sender["id"], "opted_in_only": "false"},
        headers=tenant.headers("viewer"),
    )
    excluded = {row["phone"]: row["reason"] for row in _csv_rows(response) if row["phone"]}
    own = [i for indexes in OWN_OPT_OUTS.values() for i in indexes]
    assert excluded == {phone(i): "opted_out" for i in own}


async def test_a_transactional_form_on_a_bypass_group_does_not_filter_opt_outs(client, tenant, form):
    bypass = await group_of(tenant.id, 4, name="Receipts", bypass=True, first=200)
    await opt_out(tenant.id, [200, 201], "keyword")
    fields = form.fields(group_id=bypass["id"], kind="transactional", category_id=None)

    preview = await _preview(client, tenant, fields)

    assert preview["audience"]["opt_out_filter_applied"] is False
    assert preview["audience"]["eligible"] == 4
    campaign = await _create(client, tenant, form.campaign(**fields))
    assert _without_campaign_id(await _saved_audience(client, tenant, campaign["id"])) == preview["audience"]


async def test_the_modified_campaigns_runs_count_as_already_entered(client, tenant, form, redis_url):
    campaign = await create_campaign(
        client,
        tenant,
        form.flow["id"],
        form.group["id"],
        form.sender["id"],
        category_id=form.category["id"],
    )
    await start_and_work(redis_url, campaign)
    suspended = await client.post(f"{API}/{campaign['id']}/suspend", headers=tenant.headers())
    assert suspended.status_code == 200, suspended.text
    newcomer = await add_members(tenant.id, form.group["id"], 1, first=300)
    fields = form.fields(campaign_id=campaign["id"])

    editing = await _preview(client, tenant, fields)

    saved = await _saved_audience(client, tenant, campaign["id"])
    assert editing["audience"] == _without_campaign_id(saved)
    assert editing["audience"]["excluded"]["already_entered"] == len(NEVER_OPTED_OUT)
    assert editing["audience"]["eligible"] == 1  # only the member added since the trigger
    # the same form for a new campaign: nobody has entered it yet
    fresh = await _preview(client, tenant, form.fields())
    assert fresh["audience"]["excluded"]["already_entered"] == 0
    assert fresh["audience"]["eligible"] == len(NEVER_OPTED_OUT) + 1

    params = {"group_id": form.group["id"], "sender_id": form.sender["id"], "campaign_id": campaign["id"]}
    rows = _csv_rows(await client.get(EXCLUDED, params=params, headers=tenant.headers("viewer")))
    entered = {int(row["contact_id"]) for row in rows if row["reason"] == "already_entered"}
    assert entered == {form.group["contact_ids"][i] for i in NEVER_OPTED_OUT}
    assert newcomer[0] not in {int(row["contact_id"]) for row in rows}


# --- the plan ---------------------------------------------------------------------------------------


async def test_the_plan_is_the_one_the_saved_campaign_shows(client, tenant, form):
    preview = await _preview(client, tenant, form.fields())
    campaign = await _create(client, tenant, form.campaign())

    assert preview["plan"] == campaign["plan"]
    assert preview["plan"] == "every 2 hours from 9 Dec 2030 09:00 to 16 Dec 2030 18:00 (UTC), 89 triggers"
    assert preview["planned_triggers"] == campaign["planned_triggers"] == 89


async def test_the_plan_is_told_in_the_workspace_time_zone(client, tenant, form):
    changed = await client.patch(
        "/api/v1/settings", json={"timezone": "Europe/Lisbon"}, headers=tenant.headers()
    )
    assert changed.status_code == 200, changed.text
    fields = form.fields(
        start_at="2030-07-01T09:00:00+01:00",  # any offset: told in the workspace's zone
        end_at="2030-07-08T08:00:00Z",
        every={"unit": "day"},
    )

    preview = await _preview(client, tenant, fields)

    expected = "every day from 1 Jul 2030 09:00 to 8 Jul 2030 09:00 (Europe/Lisbon), 7 triggers"
    assert (preview["plan"], preview["planned_triggers"]) == (expected, 7)
    campaign = await _create(client, tenant, form.campaign(**fields))
    assert (campaign["plan"], campaign["planned_triggers"]) == (expected, 7)


async def test_a_start_in_the_past_is_left_to_the_form(client, tenant, form):
    preview = await _preview(
        client, tenant, form.fields(start_at="2020-01-01T00:00:00Z", end_at="2020-01-02T00:00:00Z")
    )
    assert preview["errors"] == []
    assert preview["planned_triggers"] == 12


@pytest.mark.parametrize(
    ("end_at", "message"),
    [
        pytest.param("2030-12-09T08:00:00Z", "must be later than start_at", id="end-before-start"),
        pytest.param(START, "must be later than start_at", id="end-at-start"),
        pytest.param("2041-01-01T00:00:00Z", "must be within ten years of start_at", id="over-ten-years"),
    ],
)
async def test_a_period_create_would_refuse_names_end_at_and_the_audience_still_answers(
    client, tenant, form, end_at, message
):
    preview = await _preview(client, tenant, form.fields(end_at=end_at))

    assert preview["errors"] == [{"field": "end_at", "message": message}]
    assert (preview["plan"], preview["planned_triggers"]) == (None, None)
    assert preview["audience"]["members"] == 10
    refused = await client.post(API, json=form.campaign(end_at=end_at), headers=tenant.headers())
    assert refused.status_code == 400
    assert {"field": "end_at", "message": message, "source": "body"} in refused.json()["errors"]


async def test_the_period_is_checked_as_soon_as_both_moments_are_there(client, tenant):
    preview = await _preview(client, tenant, {"start_at": START, "end_at": START})
    assert preview == {
        "plan": None,
        "planned_triggers": None,
        "audience": None,
        "errors": [{"field": "end_at", "message": "must be later than start_at"}],
    }


# --- a form half filled in, or filled in wrongly ----------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "answers_plan", "answers_audience"),
    [
        pytest.param(["group_id", "sender_id", "start_at", "end_at", "every"], False, False, id="empty"),
        pytest.param(["sender_id"], True, False, id="no-sender"),
        pytest.param(["group_id"], True, False, id="no-group"),
        pytest.param(["every"], False, True, id="no-every"),
        pytest.param(["start_at"], False, True, id="no-start"),
        pytest.param(["category_id"], True, True, id="no-category"),
    ],
)
async def test_a_form_answers_the_parts_it_holds(
    client, tenant, form, missing, answers_plan, answers_audience
):
    preview = await _preview(client, tenant, form.fields(**dict.fromkeys(missing, ...)))

    assert preview["errors"] == []
    assert (preview["plan"] is not None, preview["planned_triggers"] is not None) == (answers_plan,) * 2
    assert (preview["audience"] is not None) == answers_audience


async def test_an_empty_form_answers_nothing_and_no_error(client, tenant):
    assert await _preview(client, tenant, {}) == {
        "plan": None,
        "planned_triggers": None,
        "audience": None,
        "errors": [],
    }


@pytest.mark.parametrize("field", ["group_id", "sender_id", "category_id", "campaign_id"])
async def test_another_workspaces_reference_is_an_error_naming_its_field_and_the_plan_still_answers(
    client, tenant, form, make_tenant, field
):
    other = await make_tenant("Other")
    theirs = Form(
        flow=await published_flow(client, other, ONE_MESSAGE),
        sender=await sandbox_sender(client, other),
        group=await group_of(other.id, 2, name="Theirs", first=500),
        category=await _category(client, other),
    )
    their_campaign = await create_campaign(
        client, other, theirs.flow["id"], theirs.group["id"], theirs.sender["id"]
    )
    their_ids = {
        "group_id": theirs.group["id"],
        "sender_id": theirs.sender["id"],
        "category_id": theirs.category["id"],
        "campaign_id": their_campaign["id"],
    }
    what = {"group_id": "group", "sender_id": "sender", "category_id": "marketing category"}

    preview = await _preview(client, tenant, form.fields(**{field: their_ids[field]}))

    noun = what.get(field, "campaign")
    assert preview["errors"] == [
        {"field": field, "message": f"no {noun} {their_ids[field]} in this workspace"}
    ]
    assert preview["audience"] is None
    assert preview["plan"] == "every 2 hours from 9 Dec 2030 09:00 to 16 Dec 2030 18:00 (UTC), 89 triggers"


async def test_every_unknown_reference_is_named_at_once(client, tenant, form):
    unknown = 4_242_424
    body = form.fields(group_id=unknown, sender_id=unknown + 1, end_at="2030-12-01T00:00:00Z")

    preview = await _preview(client, tenant, body)

    assert [problem["field"] for problem in preview["errors"]] == ["end_at", "group_id", "sender_id"]
    assert preview["errors"][1]["message"] == f"no group {unknown} in this workspace"
    assert (preview["plan"], preview["audience"]) == (None, None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"group_id": 0}, "group_id", id="id-zero"),
        pytest.param({"campaign_id": 2**63}, "campaign_id", id="id-beyond-int64"),
        pytest.param({"kind": "newsletter"}, "kind", id="unknown-kind"),
        pytest.param({"start_at": "2030-12-09T09:00:00"}, "start_at", id="moment-without-zone"),
        pytest.param({"every": {"unit": "week"}}, "every.unit", id="unknown-unit"),
        pytest.param({"name": "Spring"}, "name", id="unknown-field"),
    ],
)
async def test_a_malformed_body_is_refused_naming_the_field(client, tenant, body, field):
    response = await client.post(PREVIEW, json=body, headers=tenant.headers("viewer"))
    assert response.status_code == 400, response.text
    assert field in _fields(response)


# --- the excluded members as CSV ---------------------------------------------------------------------


async def test_the_excluded_csv_lists_each_excluded_member_with_its_reason(client, tenant, form):
    params = {
        "group_id": form.group["id"],
        "sender_id": form.sender["id"],
        "category_id": form.category["id"],
    }
    response = await client.get(EXCLUDED, params=params, headers=tenant.headers("viewer"))

    assert response.headers["content-disposition"] == 'attachment; filename="campaign-preview-excluded.csv"'
    rows = _csv_rows(response)
    contact_ids = form.group["contact_ids"]
    opted_out = sorted(i for indexes in (*ADMIN_MARKED.values(), *OWN_OPT_OUTS.values()) for i in indexes)
    assert [row for row in rows if row["reason"] == "opted_out"] == [
        {
            "contact_id": str(contact_ids[i]),
            "name": f"Contact {i}",
            "phone": phone(i),
            "email": "",
            "reason": "opted_out",
        }
        for i in opted_out
    ]
    no_address = [row for row in rows if row["reason"] == "no_address"]
    assert [(row["phone"], row["email"]) for row in no_address] == [
        ("", "contact100@example.com"),
        ("", "contact101@example.com"),
    ]
    assert len(rows) == len(opted_out) + WITHOUT_PHONE

    # byte for byte the file the saved campaign then gives
    campaign = await _create(client, tenant, form.campaign())
    saved = await client.get(f"{API}/{campaign['id']}/audience/excluded", headers=tenant.headers("viewer"))
    assert saved.status_code == 200
    assert saved.text == response.text


async def test_the_excluded_csv_needs_a_group_and_a_sender_naming_the_missing_one(client, tenant, form):
    for missing in ("group_id", "sender_id"):
        params = {"group_id": form.group["id"], "sender_id": form.sender["id"]}
        del params[missing]
        response = await client.get(EXCLUDED, params=params, headers=tenant.headers("viewer"))
        assert response.status_code == 400, response.text
        assert missing in _fields(response)
        assert missing in response.json()["detail"]


@pytest.mark.parametrize("field", ["group_id", "sender_id", "category_id", "campaign_id"])
async def test_the_excluded_csv_of_an_unknown_reference_is_404_naming_it(client, tenant, form, field):
    params = {"group_id": form.group["id"], "sender_id": form.sender["id"], field: 4_242_424}

    response = await client.get(EXCLUDED, params=params, headers=tenant.headers("viewer"))

    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert _fields(response) == [field]
    assert response.json()["detail"].startswith(f"{field}: no ")


async def test_the_excluded_csv_refuses_a_malformed_query_naming_the_field(client, tenant, form):
    params = {"group_id": form.group["id"], "sender_id": form.sender["id"], "kind": "newsletter"}
    response = await client.get(EXCLUDED, params=params, headers=tenant.headers("viewer"))
    assert response.status_code == 400, response.text
    assert "kind" in _fields(response)


# --- roles, routes and no writes --------------------------------------------------------------------


async def test_the_preview_stores_nothing(client, tenant, form):
    audit_before = await AuditEvent.count()

    await _preview(client, tenant, form.fields(opted_in_only=False), role="marketer")
    await _preview(client, tenant, form.fields(group_id=4_242_424))
    params = {"group_id": form.group["id"], "sender_id": form.sender["id"]}
    assert (await client.get(EXCLUDED, params=params, headers=tenant.headers("viewer"))).status_code == 200

    assert await Campaign.count() == 0
    assert await Run.count() == 0
    assert await AuditEvent.count() == audit_before


async def test_a_viewer_may_preview_and_an_anonymous_caller_may_not(client, tenant, form):
    assert (
        await client.post(PREVIEW, json=form.fields(), headers=tenant.headers("viewer"))
    ).status_code == 200
    assert (await client.post(PREVIEW, json=form.fields())).status_code == 401
    params = {"group_id": form.group["id"], "sender_id": form.sender["id"]}
    assert (await client.get(EXCLUDED, params=params)).status_code == 401


async def test_the_preview_paths_leave_the_campaign_id_routes_alone(client, tenant, form):
    campaign = await create_campaign(client, tenant, form.flow["id"], form.group["id"], form.sender["id"])
    headers = tenant.headers("viewer")

    assert (await client.get(PREVIEW, headers=headers)).status_code == 405
    assert (await client.get(f"{API}/{campaign['id']}", headers=headers)).status_code == 200
    assert (await client.get(f"{API}/{campaign['id']}/audience", headers=headers)).status_code == 200
    assert (await client.get(f"{API}/{campaign['id']}/audience/excluded", headers=headers)).status_code == 200
    assert (await client.post(f"{API}/{campaign['id']}", headers=tenant.headers())).status_code == 405
    openapi = (await client.get("/schema/openapi.json")).json()
    assert {"/api/v1/campaigns/preview", "/api/v1/campaigns/preview/excluded"} <= set(openapi["paths"])


async def test_create_still_refuses_a_start_in_the_past(client, tenant, form):
    body = form.campaign(start_at="2020-01-01T00:00:00Z", end_at="2020-01-02T00:00:00Z")
    refused = await client.post(API, json=body, headers=tenant.headers())
    assert refused.status_code == 400
    assert "start_at" in _fields(refused)
