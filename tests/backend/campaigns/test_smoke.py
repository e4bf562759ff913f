from tests.backend.campaigns.helpers import (
    campaign_messages,
    create_campaign,
    group_of,
    published_flow,
    sandbox_sender,
    start_and_work,
    tap,
    work,
)


async def test_a_campaign_sends_its_flow_to_the_eligible_members(client, tenant, redis_url):
    flow = await published_flow(client, tenant)
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 20, opted_out=2)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])

    audience = (
        await client.get(f"/api/v1/campaigns/{campaign['id']}/audience", headers=tenant.headers())
    ).json()
    assert (audience["members"], audience["eligible"], audience["excluded"]["opted_out"]) == (20, 18, 2)

    await start_and_work(redis_url, campaign)

    sent = await campaign_messages(campaign["id"])
    assert len(sent) == 18
    assert {m["status"] for m in sent} == {"sent"}
    stats = (await client.get(f"/api/v1/campaigns/{campaign['id']}/stats", headers=tenant.headers())).json()
    assert stats["totals"]["entered"] == 18
    assert stats["totals"]["sent"] == 18
    assert stats["totals"]["waiting"] == 18

    await tap(client, tenant, sender["id"], sent[0], "yes")
    await work(redis_url)
    after = await campaign_messages(campaign["id"])
    assert len(after) == 19
    assert after[-1]["text"] == "Here is your code: SAVE20"
    stats = (await client.get(f"/api/v1/campaigns/{campaign['id']}/stats", headers=tenant.headers())).json()
    assert stats["totals"]["replied"] == 1
    assert stats["totals"]["completed"] == 1
    print(stats)
