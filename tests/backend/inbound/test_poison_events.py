"""Poison events end instead of retrying (issue 14, item 4).

A correctly signed webhook whose content does not have the provider's types is acknowledged (the
provider must not re-deliver it for days), stored as ``rejected`` with the reason, never handed to the
worker, and readable at ``GET /api/v1/inbound-events``. A stored row the worker cannot decode ends
``failed`` after its bounded attempts, shown there too.
Signed bodies from the fakes, a real arq worker on real Redis.
"""

from __future__ import annotations

import msgspec

from backend.inbound.tables import InboundEvent
from tests.backend.inbound.helpers import CONTACT, events, make_sender, messages, post_webhook, run_worker
from tests.fakes import webhooks as wa


async def _queued_jobs(redis_url: str) -> list:
    """The event ids of the inbound processing jobs waiting in the queue."""
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        return [job.args[0] for job in await pool.queued_jobs() if job.function == "process_inbound"]
    finally:
        await pool.aclose()


async def test_a_signed_message_whose_text_is_an_object_is_acknowledged_and_rejected(
    client, tenant, redis_url, fake_providers
):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    poison = wa.wa_text(CONTACT, "placeholder")
    poison["messages"]["text"]["body"] = {"nested": ["not", "a", "text"]}
    good = wa.wa_text(CONTACT, "Do you ship to Porto?")

    response = await post_webhook(client, sender["id"], wa.whatsapp_webhook(poison, good))
    assert response.status_code == 200, response.text  # acknowledged: re-delivering it cannot help

    rejected, pending = await events(sender["id"])
    assert (rejected["state"], rejected["attempts"]) == ("rejected", 0)
    assert rejected["provider_event_id"] == poison["messages"]["id"]
    assert "text" in rejected["error"] and "str" in rejected["error"]
    assert rejected["processed_at"] is not None
    assert pending["state"] == "pending"
    assert await _queued_jobs(redis_url) == [[pending["id"]]]  # the good event only

    await run_worker(redis_url)
    rejected, processed = await events(sender["id"])
    assert (rejected["state"], rejected["attempts"], processed["state"]) == ("rejected", 0, "processed")
    assert [m["text"] for m in await messages(direction="inbound")] == ["Do you ship to Porto?"]

    # The integrator sees it, with the reason, through the API.
    listed = await client.get(
        "/api/v1/inbound-events", params={"status": "rejected"}, headers=tenant.headers()
    )
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["id"], item["status"], item["kind"], item["sender_id"]) == (
        rejected["id"],
        "rejected",
        "message",
        sender["id"],
    )
    assert item["error"] == rejected["error"]
    assert item["payload"]["text"] == {"nested": ["not", "a", "text"]}
    one = await client.get(f"/api/v1/inbound-events/{rejected['id']}", headers=tenant.headers("viewer"))
    assert one.status_code == 200 and one.json() == item

    # A re-delivery of the same signed body finds both rows and stores nothing new.
    again = await post_webhook(client, sender["id"], wa.whatsapp_webhook(poison, good))
    assert again.status_code == 200
    assert len(await events(sender["id"])) == 2


async def test_a_stored_payload_the_worker_cannot_decode_ends_failed_and_is_shown(
    client, tenant, redis_url, fake_providers
):
    """A row the worker cannot read (written by another version: retried, as a newer worker may read it
    during a rolling upgrade) ends ``failed`` after its bounded attempts; the sweeper leaves it, and the
    API shows it with the reason."""
    from backend.inbound import processing
    from backend.inbound.tasks import sweep_inbound_events

    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "hello")))
    [row] = await events(sender["id"])
    broken = {**row["payload"], "text": {"an": "object"}}
    await InboundEvent.update({InboundEvent.payload: msgspec.json.encode(broken).decode()}).where(
        InboundEvent.id == row["id"]
    )

    await run_worker(redis_url)
    [row] = await events(sender["id"])
    assert (row["state"], row["attempts"]) == ("failed", processing.MAX_ATTEMPTS)
    assert await _queued_jobs(redis_url) == []  # no retry scheduled any more
    assert await sweep_inbound_events({"redis": None}, older_than=0) == 0  # terminal
    assert await messages(direction="inbound") == []
    listed = await client.get("/api/v1/inbound-events", params={"status": "failed"}, headers=tenant.headers())
    [item] = listed.json()["items"]
    assert (item["id"], item["attempts"]) == (row["id"], processing.MAX_ATTEMPTS)
    assert "text" in item["error"]


async def test_inbound_events_are_listed_per_workspace_only(client, tenant, make_tenant, fake_providers):
    other_tenant = await make_tenant("Other")
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    await post_webhook(client, sender["id"], wa.whatsapp_webhook(wa.wa_text(CONTACT, "hi")))
    [row] = await events(sender["id"])

    mine = await client.get(
        "/api/v1/inbound-events", params={"sender_id": sender["id"]}, headers=tenant.headers()
    )
    assert [item["id"] for item in mine.json()["items"]] == [row["id"]]
    theirs = await client.get("/api/v1/inbound-events", headers=other_tenant.headers())
    assert (theirs.status_code, theirs.json()["items"]) == (200, [])
    assert (
        await client.get(f"/api/v1/inbound-events/{row['id']}", headers=other_tenant.headers())
    ).status_code == 404
    bad = await client.get("/api/v1/inbound-events", params={"status": "stuck"}, headers=tenant.headers())
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "status"
    assert (await client.get("/api/v1/inbound-events")).status_code == 401


async def test_the_same_rule_holds_for_every_provider_a_viber_text_that_is_a_list(
    client, tenant, redis_url, fake_providers
):
    """The check is made where every provider's events are stored, not in each provider's parser."""
    sender = await make_sender(client, tenant, "viber", fake_providers)
    hook = wa.viber_event("message", user_id=CONTACT, text=["not", "a", "text"])  # type: ignore[arg-type]
    assert (await post_webhook(client, sender["id"], hook)).status_code == 200

    [row] = await events(sender["id"])
    assert (row["state"], row["kind"]) == ("rejected", "message")
    assert "$.text" in row["error"]
    assert await _queued_jobs(redis_url) == []
