"""The live counters equal the database once a campaign settles, per total, per node and per failure;
the report names every contact's outcome and every failure, as JSON pages and as CSV."""

from __future__ import annotations

import csv
import io

from tests.backend.campaigns.helpers import (
    TWO_STEP,
    at,
    create_campaign,
    group_of,
    phone,
    published_flow,
    requeue_queued,
    start_and_work,
    tick,
    work,
    work_without_sending,
)
from tests.backend.inbound.helpers import make_sender, post_webhook
from tests.fakes import webhooks as wa
from tests.fakes.providers import reply, whatsapp_error


async def _setup(client, tenant, fake_providers, size: int = 12, opted_out: int = 2):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    flow = await published_flow(client, tenant, TWO_STEP)
    group = await group_of(tenant.id, size, opted_out=opted_out)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    return sender, campaign


async def _stats(client, tenant, campaign_id: int) -> dict:
    response = await client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=tenant.headers("viewer"))
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_counters_equal_the_database_with_failures_deliveries_reads_and_replies(
    client, tenant, redis_url, fake_providers
):
    from backend.campaigns.stats import truth
    from backend.consent.service import record_opt_out
    from backend.messages.tables import Message

    sender, campaign = await _setup(client, tenant, fake_providers)
    # The provider refuses one number for good (131026: not a WhatsApp user); the rest are accepted.
    fake_providers.script(
        "whatsapp",
        whatsapp_error(131026, "Message undeliverable", status=400),
        *[reply(200, {"messaging_product": "whatsapp", "messages": [{"id": wa.wamid()}]}) for _ in range(9)],
    )
    await tick(redis_url, at(campaign["start_at"], seconds=1))
    await work_without_sending(redis_url)  # the offers are stored and queued, not sent yet
    # Opted out between the audience and the send: the gate stops it at send time.
    await record_opt_out(tenant.id, channel="whatsapp", address=phone(11), source="keyword", actor="test")
    await requeue_queued(redis_url)
    await work(redis_url)

    offers = await Message.select().where(Message.campaign_id == campaign["id"]).order_by(Message.id)
    sent = [m for m in offers if m["status"] == "sent"]
    assert len(offers) == 10 and len(sent) == 8
    # Delivery receipts for five, reads for three, a tap from two of those.
    for message in sent[:5]:
        await post_webhook(
            client,
            sender["id"],
            wa.whatsapp_webhook(
                wa.wa_status(message["provider_message_id"], "delivered", message["address"])
            ),
        )
    for message in sent[:3]:
        await post_webhook(
            client,
            sender["id"],
            wa.whatsapp_webhook(wa.wa_status(message["provider_message_id"], "read", message["address"])),
        )
    for message in sent[:2]:
        await post_webhook(
            client,
            sender["id"],
            wa.whatsapp_webhook(
                wa.wa_button_reply(
                    message["address"], "yes", "Yes please", context_id=message["provider_message_id"]
                )
            ),
        )
    await work(redis_url)

    stats = await _stats(client, tenant, campaign["id"])
    expected = await truth(campaign["id"])
    assert {key: stats["totals"][key] for key in expected} == expected
    assert stats["totals"]["sent"] == 10  # 8 offers and 2 follow-ups
    assert (stats["totals"]["delivered"], stats["totals"]["read"], stats["totals"]["replied"]) == (5, 3, 2)
    assert stats["failures"] == {"opted_out": 1, "rejected": 1}
    offer = stats["nodes"]["offer"]
    assert (offer["entered"], offer["sent"], offer["failed"], offer["waiting"]) == (10, 8, 2, 6)
    assert stats["nodes"]["follow_up"]["sent"] == 2
    edges = {(edge["source"], edge["port"]): edge["count"] for edge in stats["edges"]}
    assert edges[("start", "next")] == 10
    assert edges[("offer", "button:yes")] == 2
    # The two whose offer failed moved on along "next" at once (seed 002): they are not left waiting.
    assert edges[("offer", "next")] == 2
    assert stats["totals"]["completed"] == 4 and stats["totals"]["waiting"] == 6


async def test_the_report_names_every_outcome_as_pages_and_as_csv(client, tenant, redis_url, fake_providers):
    _, campaign = await _setup(client, tenant, fake_providers, size=5, opted_out=0)
    fake_providers.script("whatsapp", whatsapp_error(131026, "Message undeliverable", status=400))
    await start_and_work(redis_url, campaign)

    first = await client.get(
        f"/api/v1/campaigns/{campaign['id']}/report?limit=3", headers=tenant.headers("viewer")
    )
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 3 and page["next_cursor"]
    rest = (
        await client.get(
            f"/api/v1/campaigns/{campaign['id']}/report",
            params={"limit": 3, "cursor": page["next_cursor"]},
            headers=tenant.headers("viewer"),
        )
    ).json()
    rows = page["items"] + rest["items"]
    assert len(rows) == 5 and rest["next_cursor"] is None
    failed = [row for row in rows if row["messages"][0]["status"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["messages"][0]["failure_reason"] == "rejected"
    assert failed[0]["messages"][0]["error_code"] == "131026"
    assert failed[0]["run_status"] == "completed"  # it moved on along "next" to its end
    assert {row["run_status"] for row in rows if row is not failed[0]} == {"waiting"}

    as_csv = await client.get(
        f"/api/v1/campaigns/{campaign['id']}/report",
        headers={**tenant.headers("viewer"), "Accept": "text/csv"},
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(table) == 5
    [bad] = [row for row in table if row["failed"] == "1"]
    assert bad["failures"] == "offer: rejected (131026)"
    assert bad["address"] == failed[0]["address"]
    same = await client.get(
        f"/api/v1/campaigns/{campaign['id']}/report?format=csv", headers=tenant.headers("viewer")
    )
    assert same.text == as_csv.text


async def test_another_workspace_sees_neither_stats_nor_report(client, tenant, make_tenant, fake_providers):
    _, campaign = await _setup(client, tenant, fake_providers, size=2, opted_out=0)
    other = await make_tenant("Rival")
    for path in ("stats", "report", "audience", "audience/excluded"):
        response = await client.get(f"/api/v1/campaigns/{campaign['id']}/{path}", headers=other.headers())
        assert response.status_code == 404, path


async def test_opt_outs_the_campaign_caused_are_counted_on_the_step_they_answered(
    client, tenant, redis_url, fake_providers
):
    """A STOP in reply to the offer counts as an opt-out of the campaign, on the offer's step; a STOP that
    answers nothing of the campaign (another sender's conversation) does not."""
    from backend.messages.tables import Message

    sender, campaign = await _setup(client, tenant, fake_providers, size=3, opted_out=0)
    await start_and_work(redis_url, campaign)
    offers = await Message.select().where(Message.campaign_id == campaign["id"]).order_by(Message.id)
    stop = wa.whatsapp_webhook(wa.wa_text(offers[0]["address"], "STOP"))
    assert (await post_webhook(client, sender["id"], stop)).status_code == 200
    await work(redis_url)

    stats = await _stats(client, tenant, campaign["id"])
    assert stats["totals"]["opted_out"] == 1
    assert stats["nodes"]["offer"]["opted_out"] == 1
    assert stats["totals"]["replied"] == 0  # STOP is the consent service's, never a flow's answer
