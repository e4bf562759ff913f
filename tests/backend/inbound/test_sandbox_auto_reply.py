"""The sandbox's simulated customers (sender config ``auto_reply``) on a real worker and Redis: their
statuses and answers take the webhook's path, so messages, consent, runs and campaign counters see them
exactly as they would see a provider's."""

from __future__ import annotations

from typing import Any

from backend.campaigns.stats import truth
from tests.backend.campaigns.helpers import (
    campaign_messages,
    create_campaign,
    group_of,
    phone,
    published_flow,
    sandbox_sender,
    start_and_work,
)
from tests.backend.inbound.helpers import events, messages, run_worker
from tests.backend.runs.helpers import offer_graph, opt_outs, ports, run_row, started

AT_ONCE = {"delivered": 1.0, "read": 1.0, "reply": 1.0, "stop": 0.0, "delay_seconds": [0, 0]}
"""Every message delivered, read and answered, with no delay: what a burst worker can finish."""


async def _stats(client, tenant, campaign_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_sent_message_is_delivered_read_and_its_tap_resumes_the_waiting_run(
    client, tenant, redis_url
):
    sender = await sandbox_sender(client, tenant, config={"auto_reply": AT_ONCE})
    flow = await published_flow(client, tenant, offer_graph(trigger="api"), name="Offer")
    run = await started(client, tenant, flow["id"], sender["id"], to=phone(1))

    await run_worker(redis_url)

    offer, follow_up = await messages(direction="outbound")
    assert offer["text"] == "Want 20% off?"
    assert (offer["status"], offer["provider_message_id"]) == ("read", f"sandbox-{offer['id']}")
    assert None not in (offer["sent_at"], offer["delivered_at"], offer["read_at"])
    [tap, answer] = await messages(direction="inbound")
    assert tap["button_id"] in ("yes", "no") and tap["in_reply_to"] == offer["id"]
    # The tap resumed the run along the tapped button, and the flow's next message went out (and was
    # answered in turn, as a quoted text that no run waits for).
    row = await run_row(run["id"])
    assert row["status"] == "completed"
    assert ("offer", f"button:{tap['button_id']}") in ports(row)
    assert follow_up["text"] == {"yes": "Your code: SAVE20", "no": "No problem"}[tap["button_id"]]
    assert follow_up["status"] == "read"
    assert (answer["in_reply_to"], answer["button_id"]) == (follow_up["id"], None)
    assert answer["text"]
    # Everything arrived as the sandbox sender's inbound events, processed once each.
    stored = await events(sender["id"])
    assert sorted(event["provider_event_id"] for event in stored) == sorted(
        f"sandbox-{message['id']}:{step}"
        for message in (offer, follow_up)
        for step in ("delivered", "read", "answer")
    )
    assert {event["state"] for event in stored} == {"processed"}


async def test_a_campaign_funnel_fills_and_its_counters_agree_with_the_database(client, tenant, redis_url):
    sender = await sandbox_sender(client, tenant, config={"auto_reply": AT_ONCE})
    flow = await published_flow(client, tenant)
    group = await group_of(tenant.id, 6, opted_out=1)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])

    await start_and_work(redis_url, campaign)

    stats = await _stats(client, tenant, campaign["id"])
    offer = stats["nodes"]["offer"]
    assert (offer["sent"], offer["delivered"], offer["read"], offer["replied"]) == (5, 5, 5, 5)
    edges = {(edge["source"], edge["port"]): edge["count"] for edge in stats["edges"]}
    assert edges[("offer", "button:yes")] + edges[("offer", "button:no")] == 5
    assert stats["totals"]["waiting"] == 0
    expected = await truth(campaign["id"])
    assert {key: stats["totals"].get(key, 0) for key in expected} == expected


async def test_stop_answers_opt_the_customer_out_through_the_keyword_path(client, tenant, redis_url):
    sender = await sandbox_sender(
        client, tenant, config={"auto_reply": {**AT_ONCE, "stop": 1.0}}, confirmation_message="Unsubscribed."
    )
    flow = await published_flow(client, tenant)
    group = await group_of(tenant.id, 2)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])

    await start_and_work(redis_url, campaign)

    for index in range(2):
        [entry] = await opt_outs(phone(index))
        assert (entry["source"], entry["sender"]) == ("campaign_reply", sender["id"])
    confirmations = await messages(origin="keyword_reply")
    assert [(m["text"], m["kind"], m["status"]) for m in confirmations] == [
        ("Unsubscribed.", "transactional", "read")
    ] * 2
    # The confirmation is answered too, but never with another STOP (no endless exchange).
    answers = await messages(direction="inbound")
    assert sorted(m["text"] == "STOP" for m in answers) == [False, False, True, True]
    stats = await _stats(client, tenant, campaign["id"])
    assert stats["totals"]["opted_out"] == 2
    assert stats["nodes"]["offer"]["opted_out"] == 2


async def test_without_auto_reply_the_sandbox_only_accepts(client, tenant, redis_url):
    sender = await sandbox_sender(client, tenant)
    flow = await published_flow(client, tenant)
    group = await group_of(tenant.id, 3)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])

    await start_and_work(redis_url, campaign)

    sent = await campaign_messages(campaign["id"])
    assert [message["status"] for message in sent] == ["sent"] * 3
    assert await events(sender["id"]) == []
    assert await messages(direction="inbound") == []
