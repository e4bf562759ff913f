"""A trigger over many pages and batches: every eligible member once, nobody else, whatever the paging.

Pages and batches are made small here (7 members a page, 3 runs a batch) so a group of forty crosses
every boundary: pages that end on an ineligible member, batches split across them, the last short page.
"""

from __future__ import annotations

import pytest

from tests.backend.campaigns.helpers import (
    ONE_MESSAGE,
    add_members,
    campaign_messages,
    create_campaign,
    group_of,
    published_flow,
    sandbox_sender,
    start_and_work,
    work,
)


@pytest.fixture
def small_pages(monkeypatch):
    from backend.campaigns import audience, triggers

    monkeypatch.setattr(audience, "PAGE", 7)
    monkeypatch.setattr(triggers, "BATCH", 3)


async def test_every_eligible_member_of_a_paged_group_is_messaged_once(
    client, tenant, redis_url, small_pages
):
    from backend.campaigns.tables import CampaignBatch, CampaignTrigger

    flow = await published_flow(client, tenant, ONE_MESSAGE)
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 30, opted_out=5)  # phones 0..29, 0..4 opted out
    await add_members(tenant.id, group["id"], 6, first=100, with_phone=False)  # no address on WhatsApp
    await add_members(tenant.id, group["id"], 4, first=200)  # after the others, by contact id
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])

    await start_and_work(redis_url, campaign)
    await work(redis_url)

    messages = await campaign_messages(campaign["id"])
    addresses = [message["address"] for message in messages]
    assert len(addresses) == len(set(addresses)) == 25 + 4
    [trigger] = await CampaignTrigger.select().where(CampaignTrigger.campaign == campaign["id"])
    assert (trigger["status"], trigger["enrolled"]) == ("done", 29)
    batches = await CampaignBatch.select().where(CampaignBatch.trigger == trigger["id"])
    assert all(batch["size"] <= 3 and batch["status"] == "done" for batch in batches)
    assert sum(batch["started"] for batch in batches) == 29
    audience = (
        await client.get(f"/api/v1/campaigns/{campaign['id']}/audience", headers=tenant.headers())
    ).json()
    assert (audience["members"], audience["eligible"], audience["excluded"]) == (
        40,
        0,
        {"opted_out": 5, "no_address": 6, "already_entered": 29},
    )


async def test_the_excluded_csv_pages_through_the_whole_group(client, tenant, small_pages):
    flow = await published_flow(client, tenant, ONE_MESSAGE)
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 20, opted_out=9)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    response = await client.get(
        f"/api/v1/campaigns/{campaign['id']}/audience/excluded", headers=tenant.headers()
    )
    lines = response.text.strip().splitlines()
    assert lines[0] == "contact_id,name,phone,email,reason"
    assert len(lines) == 1 + 9
    assert all(line.endswith(",opted_out") for line in lines[1:])
