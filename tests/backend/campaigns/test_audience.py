"""Who a campaign reaches (PRODUCT.md 5 and 7, seeds 002 and 003): ``GET /campaigns/{id}/audience``,
the excluded members as CSV, and that the messages a campaign actually sends agree with both.

The counts, the CSV and the trigger's enrollment are one rule; every test that counts also runs the
campaign and checks who was messaged, so a count that lies to the marketer fails here.
"""

from __future__ import annotations

import copy
import csv
import io
from typing import Any

import pytest

from tests.backend.campaigns.helpers import (
    ONE_MESSAGE,
    add_members,
    at,
    campaign_messages,
    create_campaign,
    group_of,
    opt_out,
    phone,
    published_flow,
    requeue_queued,
    sandbox_sender,
    start_and_work,
    tick,
    work,
    work_without_sending,
)

TRANSACTIONAL: dict[str, Any] = copy.deepcopy(ONE_MESSAGE)
TRANSACTIONAL["nodes"][1]["message_kind"] = "transactional"
TRANSACTIONAL["nodes"][1]["text"] = "Your order {{contact.name}} has shipped"

OVERRIDABLE = ["manual", "import"]
"""Opt-out sources an admin or an import set: the opted-in-only toggle off may override them."""


def self_service() -> list[str]:
    """The sources of opt-outs a person made themselves (keyword, web form, link, ...): always honoured."""
    from backend.consent.validation import SELF_SERVICE_SOURCES

    assert {"keyword", "web_form", "unsubscribe_link"} <= SELF_SERVICE_SOURCES
    return sorted(SELF_SERVICE_SOURCES)


# --- helpers ----------------------------------------------------------------------------------------


async def audience(client, tenant, campaign_id: int, role: str = "admin") -> dict[str, Any]:
    response = await client.get(f"/api/v1/campaigns/{campaign_id}/audience", headers=tenant.headers(role))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["members"] == body["eligible"] + sum(body["excluded"].values()), body
    return body


def counts(body: dict[str, Any]) -> tuple[int, int, dict[str, int]]:
    return body["members"], body["eligible"], body["excluded"]


async def excluded_csv(client, tenant, campaign_id: int) -> list[dict[str, str]]:
    response = await client.get(
        f"/api/v1/campaigns/{campaign_id}/audience/excluded", headers=tenant.headers("viewer")
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0] == ["contact_id", "name", "phone", "email", "reason"]
    return [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]


async def campaign_on(client, tenant, flow_graph, group_id: int, **fields: Any) -> dict[str, Any]:
    flow = await published_flow(client, tenant, flow_graph)
    sender = await sandbox_sender(client, tenant, rate_limit_per_second=1000)  # 990 sends in ~1 s
    return await create_campaign(client, tenant, flow["id"], group_id, sender["id"], **fields)


def sent_to(messages: list[dict[str, Any]]) -> set[str]:
    return {m["address"] for m in messages if m["status"] == "sent"}


def phones(indexes) -> set[str]:
    return {phone(i) for i in indexes}


# --- seed 002: 1000 members, 10 opted out, 990 -----------------------------------------------------


async def test_seed_002_a_thousand_members_ten_opted_out_990_get_the_message(client, tenant, redis_url):
    group = await group_of(tenant.id, 1000, opted_out=10)
    campaign = await campaign_on(client, tenant, ONE_MESSAGE, group["id"])

    body = await audience(client, tenant, campaign["id"], role="viewer")
    assert counts(body) == (1000, 990, {"opted_out": 10, "no_address": 0, "already_entered": 0})
    assert body["opt_out_filter_applied"] is True
    assert body["channel"] == "whatsapp"

    await start_and_work(redis_url, campaign)
    messages = await campaign_messages(campaign["id"])
    assert len(messages) == 990
    assert {m["status"] for m in messages} == {"sent"}
    assert sent_to(messages) == phones(range(10, 1000))
    assert not sent_to(messages) & phones(range(10))

    after = await audience(client, tenant, campaign["id"])
    assert counts(after) == (1000, 0, {"opted_out": 10, "no_address": 0, "already_entered": 990})


async def test_members_without_an_address_on_the_channel_count_as_no_address(client, tenant, redis_url):
    group = await group_of(tenant.id, 5, opted_out=1)
    email_only = await add_members(tenant.id, group["id"], 3, first=100, with_phone=False)
    campaign = await campaign_on(client, tenant, ONE_MESSAGE, group["id"])

    body = await audience(client, tenant, campaign["id"])
    assert counts(body) == (8, 4, {"opted_out": 1, "no_address": 3, "already_entered": 0})

    await start_and_work(redis_url, campaign)
    messages = await campaign_messages(campaign["id"])
    assert sent_to(messages) == phones(range(1, 5))
    assert {m["contact"] for m in messages}.isdisjoint(email_only)


async def test_already_entered_counts_after_a_trigger_and_new_members_are_eligible(client, tenant, redis_url):
    group = await group_of(tenant.id, 6, opted_out=2)
    campaign = await campaign_on(client, tenant, ONE_MESSAGE, group["id"], every={"unit": "hour", "count": 1})
    assert counts(await audience(client, tenant, campaign["id"])) == (
        6,
        4,
        {"opted_out": 2, "no_address": 0, "already_entered": 0},
    )

    await start_and_work(redis_url, campaign)
    assert counts(await audience(client, tenant, campaign["id"])) == (
        6,
        0,
        {"opted_out": 2, "no_address": 0, "already_entered": 4},
    )

    await add_members(tenant.id, group["id"], 3, first=100)
    await add_members(tenant.id, group["id"], 1, first=200, with_phone=False)
    assert counts(await audience(client, tenant, campaign["id"])) == (
        10,
        3,
        {"opted_out": 2, "no_address": 1, "already_entered": 4},
    )
    # The number shown is the number the next trigger enrolls.
    await tick(redis_url, at(campaign["start_at"], hours=1))
    await work(redis_url)
    messages = await campaign_messages(campaign["id"])
    assert len(messages) == 7
    assert sent_to(messages) == phones([*range(2, 6), 100, 101, 102])


async def test_an_opt_out_after_the_trigger_moves_a_contact_from_entered_to_opted_out(
    client, tenant, redis_url
):
    """Each member is counted under the first reason that applies: opted out before already entered."""
    group = await group_of(tenant.id, 4)
    campaign = await campaign_on(client, tenant, ONE_MESSAGE, group["id"])
    await start_and_work(redis_url, campaign)
    await opt_out(tenant.id, [0], "keyword")
    assert counts(await audience(client, tenant, campaign["id"])) == (
        4,
        0,
        {"opted_out": 1, "no_address": 0, "already_entered": 3},
    )


# --- the opted-in-only toggle (PRODUCT.md 5) --------------------------------------------------------


async def mixed_consent_group(tenant_id: int) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """A group of 2 contacts per opt-out source (manual, import and every self-service source), then 3
    who never opted out; which phone indexes each source holds."""
    sources = [*OVERRIDABLE, *self_service()]
    group = await group_of(tenant_id, 2 * len(sources) + 3)
    by_source: dict[str, list[int]] = {}
    for n, source in enumerate(sources):
        by_source[source] = [2 * n, 2 * n + 1]
        await opt_out(tenant_id, by_source[source], source)
    by_source["none"] = list(range(2 * len(sources), 2 * len(sources) + 3))
    return group, by_source


async def test_opted_in_only_on_excludes_every_opt_out_whatever_its_source(client, tenant, redis_url):
    group, by_source = await mixed_consent_group(tenant.id)
    campaign = await campaign_on(client, tenant, ONE_MESSAGE, group["id"])
    assert campaign["opted_in_only"] is True
    opted_out = sum(len(v) for k, v in by_source.items() if k != "none")
    assert counts(await audience(client, tenant, campaign["id"])) == (
        opted_out + 3,
        3,
        {"opted_out": opted_out, "no_address": 0, "already_entered": 0},
    )
    await start_and_work(redis_url, campaign)
    messages = await campaign_messages(campaign["id"])
    assert sent_to(messages) == phones(by_source["none"])
    assert len(messages) == 3


async def test_turning_opted_in_only_off_needs_an_explicit_confirmation(client, tenant):
    group = await group_of(tenant.id, 2)
    flow = await published_flow(client, tenant, ONE_MESSAGE)
    sender = await sandbox_sender(client, tenant)
    from tests.backend.campaigns.helpers import campaign_body

    refused = await client.post(
        "/api/v1/campaigns",
        json=campaign_body(flow["id"], group["id"], sender["id"], opted_in_only=False),
        headers=tenant.headers(),
    )
    assert refused.status_code == 400, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["confirm_include_opted_out"]
    listed = await client.get("/api/v1/campaigns", headers=tenant.headers())
    assert listed.json()["items"] == []

    campaign = await create_campaign(
        client,
        tenant,
        flow["id"],
        group["id"],
        sender["id"],
        opted_in_only=False,
        confirm_include_opted_out=True,
    )
    assert campaign["opted_in_only"] is False
    audit = await client.get(
        "/api/v1/audit-log", params={"action": "campaign.opted_in_only_off"}, headers=tenant.headers()
    )
    assert [e["target_id"] for e in audit.json()["items"]] == [str(campaign["id"])]


async def test_opted_in_only_off_reaches_admin_and_import_opt_outs_never_the_persons_own(
    client, tenant, redis_url
):
    group, by_source = await mixed_consent_group(tenant.id)
    campaign = await campaign_on(
        client, tenant, ONE_MESSAGE, group["id"], opted_in_only=False, confirm_include_opted_out=True
    )
    let_through = [i for source in [*OVERRIDABLE, "none"] for i in by_source[source]]
    honoured = [i for source in self_service() for i in by_source[source]]

    body = await audience(client, tenant, campaign["id"])
    assert counts(body) == (
        len(let_through) + len(honoured),
        len(let_through),
        {"opted_out": len(honoured), "no_address": 0, "already_entered": 0},
    )
    rows = await excluded_csv(client, tenant, campaign["id"])
    assert {row["phone"] for row in rows} == phones(honoured)
    assert {row["reason"] for row in rows} == {"opted_out"}

    await start_and_work(redis_url, campaign)
    messages = await campaign_messages(campaign["id"])
    assert {m["status"] for m in messages} == {"sent"}
    assert sent_to(messages) == phones(let_through)
    for source in self_service():
        assert not sent_to(messages) & phones(by_source[source]), f"{source} opt-out was overridden"


async def test_with_opted_in_only_off_a_persons_own_opt_out_mid_campaign_still_stops_the_message(
    client, tenant, redis_url
):
    """The toggle never overrides a STOP that arrives after the message was queued: the gate at send
    time applies the same rule as the audience (the manual mark is overridden, the keyword never)."""
    group = await group_of(tenant.id, 3, opted_out=1, source="manual")
    campaign = await campaign_on(
        client, tenant, ONE_MESSAGE, group["id"], opted_in_only=False, confirm_include_opted_out=True
    )
    await tick(redis_url, at(campaign["start_at"]))
    await work_without_sending(redis_url)
    assert [m["status"] for m in await campaign_messages(campaign["id"])] == ["queued"] * 3
    await opt_out(tenant.id, [1], "keyword")  # contact 1 replies STOP before the message leaves
    await opt_out(tenant.id, [2], "import")  # contact 2 is marked by an import: the toggle overrides it
    assert await requeue_queued(redis_url) == 3
    await work(redis_url)
    messages = await campaign_messages(campaign["id"])
    by_address = {m["address"]: (m["status"], m["failure_reason"]) for m in messages}
    assert by_address == {
        phone(0): ("sent", None),
        phone(1): ("failed", "opted_out"),
        phone(2): ("sent", None),
    }


async def test_opt_outs_of_another_category_or_sender_do_not_exclude(client, tenant, redis_url):
    """The audience applies the gate's own rule: the campaign's category, the sending sender."""
    from backend.consent.service import record_opt_out

    categories = []
    for name in ("Offers", "News"):
        response = await client.post(
            "/api/v1/marketing-categories", json={"name": name}, headers=tenant.headers()
        )
        assert response.status_code == 201, response.text
        categories.append(response.json()["id"])
    offers, news = categories
    other_sender = await sandbox_sender(client, tenant, name="Other number", address="+351912345671")
    group = await group_of(tenant.id, 6)
    campaign = await campaign_on(client, tenant, ONE_MESSAGE, group["id"], category_id=offers)
    for i, (channel, scope) in enumerate(
        [
            ("whatsapp", {"category_id": offers}),
            ("whatsapp", {"category_id": news}),
            ("whatsapp", {"sender_id": other_sender["id"]}),
            ("whatsapp", {}),
            ("sms", {}),
        ]
    ):
        await record_opt_out(
            tenant.id, channel=channel, address=phone(i), source="keyword", actor="test", **scope
        )
    # Excluded: 0 (this category), 3 (all marketing, workspace-wide). Eligible: 1 (another category),
    # 2 (another sender's opt-out), 4 (opted out of SMS, not WhatsApp), 5.
    assert counts(await audience(client, tenant, campaign["id"])) == (
        6,
        4,
        {"opted_out": 2, "no_address": 0, "already_entered": 0},
    )
    rows = await excluded_csv(client, tenant, campaign["id"])
    assert {row["phone"] for row in rows} == {phone(0), phone(3)}
    await start_and_work(redis_url, campaign)
    assert sent_to(await campaign_messages(campaign["id"])) == phones([1, 2, 4, 5])


# --- seed 003: groups that bypass the opt-out filter, for transactional use -------------------------


async def test_seed_003_a_transactional_campaign_on_a_bypass_group_reaches_opted_out_members(
    client, tenant, redis_url
):
    group = await group_of(tenant.id, 10, opted_out=3, bypass=True)
    campaign = await campaign_on(client, tenant, TRANSACTIONAL, group["id"], kind="transactional")
    assert campaign["kind"] == "transactional"

    body = await audience(client, tenant, campaign["id"])
    assert counts(body) == (10, 10, {"opted_out": 0, "no_address": 0, "already_entered": 0})
    assert body["opt_out_filter_applied"] is False

    await start_and_work(redis_url, campaign)
    messages = await campaign_messages(campaign["id"])
    assert len(messages) == 10
    assert {m["status"] for m in messages} == {"sent"}
    assert {m["kind"] for m in messages} == {"transactional"}
    assert sent_to(messages) == phones(range(10))


@pytest.mark.parametrize(
    "flow_graph", [ONE_MESSAGE, TRANSACTIONAL], ids=["marketing-flow", "transactional-flow"]
)
async def test_seed_003_a_marketing_campaign_on_a_bypass_group_never_reaches_opted_out_members(
    client, tenant, redis_url, flow_graph
):
    """Marketing wins: the group's flag is for transactional use only, whatever the flow's steps say."""
    group = await group_of(tenant.id, 10, opted_out=3, bypass=True)
    campaign = await campaign_on(client, tenant, flow_graph, group["id"], kind="marketing")

    body = await audience(client, tenant, campaign["id"])
    assert counts(body) == (10, 7, {"opted_out": 3, "no_address": 0, "already_entered": 0})
    assert body["opt_out_filter_applied"] is True
    rows = await excluded_csv(client, tenant, campaign["id"])
    assert {(row["phone"], row["reason"]) for row in rows} == {(phone(i), "opted_out") for i in range(3)}

    await start_and_work(redis_url, campaign)
    messages = await campaign_messages(campaign["id"])
    assert len(messages) == 7
    assert {m["kind"] for m in messages} == {"marketing"}
    assert sent_to(messages) == phones(range(3, 10))


async def test_a_transactional_campaign_on_a_group_without_the_flag_keeps_the_opt_out_filter(
    client, tenant, redis_url
):
    group = await group_of(tenant.id, 5, opted_out=2)
    campaign = await campaign_on(client, tenant, TRANSACTIONAL, group["id"], kind="transactional")
    body = await audience(client, tenant, campaign["id"])
    assert counts(body) == (5, 3, {"opted_out": 2, "no_address": 0, "already_entered": 0})
    assert body["opt_out_filter_applied"] is True
    await start_and_work(redis_url, campaign)
    assert sent_to(await campaign_messages(campaign["id"])) == phones(range(2, 5))


async def test_marketing_steps_of_a_transactional_campaign_on_a_bypass_group_never_reach_opted_out(
    client, tenant, redis_url
):
    """The bypass lets opted-out members into the run, but the gate still stops its marketing messages."""
    group = await group_of(tenant.id, 5, opted_out=2, bypass=True)
    campaign = await campaign_on(client, tenant, ONE_MESSAGE, group["id"], kind="transactional")
    await start_and_work(redis_url, campaign)
    messages = await campaign_messages(campaign["id"])
    assert sent_to(messages) == phones(range(2, 5))
    blocked = {m["address"]: m["failure_reason"] for m in messages if m["status"] == "failed"}
    assert blocked == {phone(0): "opted_out", phone(1): "opted_out"}


# --- the excluded members as CSV --------------------------------------------------------------------


async def test_the_excluded_csv_lists_every_excluded_member_with_its_reason(client, tenant, redis_url):
    group = await group_of(tenant.id, 6, opted_out=2)
    email_only = await add_members(tenant.id, group["id"], 2, first=100, with_phone=False)
    campaign = await campaign_on(client, tenant, ONE_MESSAGE, group["id"], every={"unit": "hour", "count": 1})
    cid = group["contact_ids"]

    rows = await excluded_csv(client, tenant, campaign["id"])
    assert rows == [
        {
            "contact_id": str(cid[0]),
            "name": "Contact 0",
            "phone": phone(0),
            "email": "",
            "reason": "opted_out",
        },
        {
            "contact_id": str(cid[1]),
            "name": "Contact 1",
            "phone": phone(1),
            "email": "",
            "reason": "opted_out",
        },
        {
            "contact_id": str(email_only[0]),
            "name": "Contact 100",
            "phone": "",
            "email": "contact100@example.com",
            "reason": "no_address",
        },
        {
            "contact_id": str(email_only[1]),
            "name": "Contact 101",
            "phone": "",
            "email": "contact101@example.com",
            "reason": "no_address",
        },
    ]

    await start_and_work(redis_url, campaign)
    newcomer = await add_members(tenant.id, group["id"], 1, first=300)
    rows = await excluded_csv(client, tenant, campaign["id"])
    reasons = {int(row["contact_id"]): row["reason"] for row in rows}
    assert reasons == {
        cid[0]: "opted_out",
        cid[1]: "opted_out",
        **{contact_id: "already_entered" for contact_id in cid[2:]},
        email_only[0]: "no_address",
        email_only[1]: "no_address",
    }
    assert newcomer[0] not in reasons
    body = await audience(client, tenant, campaign["id"])
    assert body["eligible"] == 1
    assert len(rows) == sum(body["excluded"].values())


async def test_the_excluded_csv_of_a_thousand_member_group_agrees_with_the_counts(client, tenant, redis_url):
    group = await group_of(tenant.id, 1000, opted_out=10)
    campaign = await campaign_on(client, tenant, ONE_MESSAGE, group["id"])
    await start_and_work(redis_url, campaign)
    rows = await excluded_csv(client, tenant, campaign["id"])
    assert len(rows) == 1000
    assert [row["reason"] for row in rows].count("opted_out") == 10
    assert [row["reason"] for row in rows].count("already_entered") == 990
    assert len({row["contact_id"] for row in rows}) == 1000


async def test_another_workspace_cannot_read_a_campaigns_audience(client, tenant, make_tenant):
    group = await group_of(tenant.id, 3, opted_out=1)
    campaign = await campaign_on(client, tenant, ONE_MESSAGE, group["id"])
    other = await make_tenant("Other")
    for path in ("audience", "audience/excluded"):
        response = await client.get(f"/api/v1/campaigns/{campaign['id']}/{path}", headers=other.headers())
        assert response.status_code == 404, response.text
