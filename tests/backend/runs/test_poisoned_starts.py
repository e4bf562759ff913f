"""Keyword and API starts for a contact whose stored data makes the first step fail are never retried for
ever (issue 14): each fails as a unit, writes no run, and ends where someone can see it.

- An API start steps the run inside the request: it answers an error at once and stores nothing (the
  integrator decides whether to try again; Flowgate does not).
- A keyword start runs when the inbound message is handed to the runtime: the inbound event counts its
  attempts and ends ``failed`` after :data:`processing.MAX_ATTEMPTS` with the error, listed by
  ``GET /api/v1/inbound-events``; nothing enqueues it again.
"""

from __future__ import annotations

from backend.inbound import processing
from backend.inbound.tables import InboundEvent
from backend.inbound.tasks import sweep_inbound_events
from backend.runs.tables import Run
from tests.backend.campaigns.helpers import sandbox_sender
from tests.backend.inbound.helpers import run_worker
from tests.backend.runs.helpers import (
    create_contact,
    damage_attributes,
    edge,
    flow_graph,
    inbound,
    message,
    node,
    publish,
    start_api_run,
)

PHONE = "+351939990002"


def one_message(trigger: str, **start: object) -> dict:
    return flow_graph(
        [
            node("start", "start", trigger=trigger, **start),
            message("hello", "Hi {{contact.name | 'there'}}", "transactional"),
            node("end", "end"),
        ],
        [edge("start", "hello"), edge("hello", "end")],
    )


async def test_an_api_start_for_a_damaged_contact_fails_at_once_and_stores_no_run(client, tenant):
    flow = await publish(client, tenant, one_message("api"))
    sender = await sandbox_sender(client, tenant)
    contact = await create_contact(client, tenant, phone=PHONE, name="Ana")
    await damage_attributes(contact["id"])

    response = await start_api_run(client, tenant, flow["id"], sender["id"], contact_id=contact["id"])
    assert response.status_code >= 400  # today a 500 whose detail points at the api log
    assert await Run.select().where(Run.contact == contact["id"]) == []


async def test_a_keyword_start_for_a_damaged_contact_ends_its_event_failed_after_bounded_attempts(
    client, tenant, redis_url
):
    await publish(client, tenant, one_message("keyword", keywords=["PRICE"]), name="Price bot")
    sender = await sandbox_sender(client, tenant)
    contact = await create_contact(client, tenant, phone=PHONE, name="Ana")
    await damage_attributes(contact["id"])

    await inbound(client, tenant, sender["id"], PHONE, text="price please")
    await run_worker(redis_url)

    [event] = await InboundEvent.select().where(InboundEvent.sender == sender["id"])
    assert (event["state"], event["attempts"]) == ("failed", processing.MAX_ATTEMPTS)
    assert event["error"].startswith("ValueError") and "attributes" in event["error"]
    assert await sweep_inbound_events({"redis": None}, older_than=0) == 0  # terminal: nothing retries it
    assert await Run.select().where(Run.contact == contact["id"]) == []
    listed = await client.get("/api/v1/inbound-events", params={"status": "failed"}, headers=tenant.headers())
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["id"] == event["id"] and "attributes" in item["error"]
