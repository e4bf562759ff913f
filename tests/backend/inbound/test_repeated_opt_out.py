"""A repeated STOP changes nothing (issue 14, item 9): no "extended" event, no webhook, no second
confirmation. Signed WhatsApp webhooks from the fakes, processed by a real arq worker on real Redis, and
the confirmations counted where they land: the fake WhatsApp server."""

from __future__ import annotations

from backend.consent import service
from tests.backend.inbound.helpers import (
    CONTACT,
    events,
    make_sender,
    messages,
    opt_outs,
    post_webhook,
    run_worker,
)
from tests.fakes import webhooks as wa

CONFIRMATION = "You are unsubscribed. Reply START to opt back in."


async def _stop(client, sender_id: int, redis_url: str, text: str = "STOP") -> None:
    response = await post_webhook(client, sender_id, wa.whatsapp_webhook(wa.wa_text(CONTACT, text)))
    assert response.status_code == 200, response.text
    await run_worker(redis_url)


async def _history(client, tenant) -> list[dict]:
    response = await client.get(
        "/api/v1/consent-events", params={"channel": "whatsapp", "address": CONTACT}, headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_a_second_stop_from_a_permanently_opted_out_number_changes_nothing(
    client, tenant, redis_url, fake_providers
):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    await _stop(client, sender["id"], redis_url)
    [entry] = await opt_outs()
    assert entry["valid_until"] is None  # a keyword opt-out outside a campaign is permanent

    await _stop(client, sender["id"], redis_url, "stop!")
    await _stop(client, sender["id"], redis_url, "UNSUBSCRIBE")

    assert await opt_outs() == [entry]  # not even updated_at moved
    assert [event["kind"] for event in await _history(client, tenant)] == ["opt_out"]
    sent = [call.body["text"]["body"] for call in fake_providers.sent("whatsapp")]
    assert sent == [CONFIRMATION]  # one confirmation per opt-out
    assert [m["text"] for m in await messages(direction="outbound")] == [CONFIRMATION]
    # Every STOP was still stored and processed: nothing accepted is lost, it just changes nothing.
    assert [e["state"] for e in await events(sender["id"])] == ["processed"] * 3
    assert len(await messages(direction="inbound")) == 3


async def test_a_stop_over_an_admins_mark_is_confirmed_once_then_repeats_change_nothing(
    client, tenant, redis_url, fake_providers
):
    """An admin's (or an import's) mark is not the person's own opt-out: their first STOP makes it theirs
    (an ``extended`` event, one confirmation); the STOPs after that change nothing."""
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    mark = await client.post(
        "/api/v1/optouts",
        json={"channel": "whatsapp", "address": CONTACT, "sender_id": sender["id"]},
        headers=tenant.headers(),
    )
    assert mark.status_code == 201, mark.text
    assert mark.json()["self_service"] is False

    await _stop(client, sender["id"], redis_url)
    await _stop(client, sender["id"], redis_url)

    [entry] = await opt_outs()
    assert (entry["id"], entry["self_service"], entry["valid_until"]) == (mark.json()["id"], True, None)
    assert [event["kind"] for event in await _history(client, tenant)] == ["opt_out", "extended"]
    assert [call.body["text"]["body"] for call in fake_providers.sent("whatsapp")] == [CONFIRMATION]


async def test_a_repeated_manual_opt_out_of_a_permanent_entry_records_nothing(client, tenant):
    """The rule lives in the ledger, so every path shares it: the API answers the entry as it stands."""
    body = {"channel": "sms", "address": CONTACT}
    first = await client.post("/api/v1/optouts", json=body, headers=tenant.headers())
    again = await client.post("/api/v1/optouts", json=body, headers=tenant.headers())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    history = await client.get("/api/v1/consent-events", params=body, headers=tenant.headers())
    assert [event["kind"] for event in history.json()["items"]] == ["opt_out"]


async def test_a_timed_opt_out_repeated_still_adds_up_but_is_confirmed_once(tenant):
    """Seed 000: durations add up, so a second campaign-reply STOP does change the entry (an ``extended``
    event); the person was already confirmed for this opt-out, so no second confirmation is due."""
    values = {"channel": "sms", "address": CONTACT, "source": "campaign_reply", "actor": "test"}
    first = await service.record_opt_out(tenant.id, valid_days=30, **values)
    second = await service.record_opt_out(tenant.id, valid_days=30, **values)
    assert (first.created, first.confirm) == (True, True)
    assert (second.changed, second.created, second.confirm) == (True, False, False)
    assert second.event is not None and second.event["kind"] == "extended"
