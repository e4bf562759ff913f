"""The consent ledger (PRODUCT.md 4.3) and consent webhooks written with it (4.8): history by address,
oldest first, kept after the contact is gone; deliveries committed in the same transaction as the event."""

from __future__ import annotations

import pytest

from backend.consent import service
from backend.consent.tables import ConsentEvent, OptOutEntry
from backend.core.database import transaction
from backend.webhooks.tables import WebhookDelivery
from tests.backend.consent.helpers import EMAIL_A, PHONE_A, PHONE_B, make_category, make_webhook_endpoint


async def _events(client, tenant, **params) -> list[dict]:
    response = await client.get("/api/v1/consent-events", params=params, headers=tenant.headers("viewer"))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_history_by_address_oldest_first(client, tenant):
    await service.record_opt_out(
        tenant.id, channel="sms", address=PHONE_A, source="keyword", actor="kw", evidence={"text": "STOP"}
    )
    await service.record_opt_out(tenant.id, channel="sms", address=PHONE_B, source="manual", actor="jane")
    await service.record_opt_in(
        tenant.id,
        channel="sms",
        address=PHONE_A,
        source="manual",
        actor="jane",
        reason="called to resubscribe",
    )
    history = await _events(client, tenant, channel="sms", address="+351 912 000 001")
    assert [(e["kind"], e["source"], e["reason"]) for e in history] == [
        ("opt_out", "keyword", ""),
        ("opt_in", "manual", "called to resubscribe"),
    ]
    assert history[0]["evidence"] == {"text": "STOP"}
    assert history[1]["actor"] == "jane"
    assert len(await _events(client, tenant)) == 3
    assert len(await _events(client, tenant, kind="opt_in")) == 1


async def test_history_filters_since_and_pages(client, tenant):
    for index in range(5):
        await service.record_opt_out(
            tenant.id, channel="sms", address=PHONE_A, source="api", actor="x", valid_days=1 + index
        )
    everything = await _events(client, tenant)
    since = everything[3]["at"]
    assert [e["id"] for e in await _events(client, tenant, since=since)] == [e["id"] for e in everything[3:]]
    page = (
        await client.get("/api/v1/consent-events", params={"limit": 2}, headers=tenant.headers("viewer"))
    ).json()
    assert [e["id"] for e in page["items"]] == [e["id"] for e in everything[:2]]
    rest = (
        await client.get(
            "/api/v1/consent-events",
            params={"limit": 10, "cursor": page["next_cursor"]},
            headers=tenant.headers("viewer"),
        )
    ).json()
    assert [e["id"] for e in rest["items"]] == [e["id"] for e in everything[2:]]


async def test_history_bad_filters_name_the_parameter(client, tenant):
    for params, field in (
        ({"address": "nope"}, "address"),
        ({"since": "today"}, "since"),
        ({"kind": "x"}, "kind"),
    ):
        response = await client.get("/api/v1/consent-events", params=params, headers=tenant.headers("viewer"))
        assert response.status_code == 400, params
        assert field in response.json()["detail"]


async def test_history_survives_deleting_the_contact(client, tenant):
    from backend.audience.tables import Contact

    created = await client.post(
        "/api/v1/contacts", json={"phone": PHONE_A, "email": EMAIL_A, "name": "Ana"}, headers=tenant.headers()
    )
    if created.status_code == 201:
        contact_id = created.json()["id"]
    else:  # the contacts API is not there yet: the table is
        contact_id = (
            await Contact.insert(
                Contact(workspace=tenant.id, phone=PHONE_A, email=EMAIL_A, name="Ana")
            ).returning(Contact.id)
        )[0]["id"]
    await service.record_opt_out(tenant.id, channel="sms", address=PHONE_A, source="keyword", actor="kw")
    await service.record_opt_out(
        tenant.id, channel="email", address=EMAIL_A, source="unsubscribe_link", actor="link"
    )
    deleted = await client.delete(f"/api/v1/contacts/{contact_id}", headers=tenant.headers())
    if deleted.status_code not in (200, 204):
        await Contact.delete().where(Contact.id == contact_id)
    assert not await Contact.exists().where(Contact.id == contact_id)
    assert [e["source"] for e in await _events(client, tenant, address=PHONE_A)] == ["keyword"]
    assert [e["source"] for e in await _events(client, tenant, address=EMAIL_A)] == ["unsubscribe_link"]
    checked = await client.get(
        "/api/v1/optouts/check",
        params={"channel": "sms", "address": PHONE_A},
        headers=tenant.headers("viewer"),
    )
    assert checked.json()["opted_out"] is True


async def test_events_are_never_changed_by_later_changes(tenant):
    first = await service.record_opt_out(
        tenant.id, channel="sms", address=PHONE_A, source="api", actor="a", valid_days=3
    )
    await service.record_opt_out(tenant.id, channel="sms", address=PHONE_A, source="api", actor="b")
    await service.record_opt_in(tenant.id, channel="sms", address=PHONE_A, source="api", actor="c")
    original = await ConsentEvent.select().where(ConsentEvent.id == first.event["id"]).first()
    assert original["valid_until"] == first.entry["valid_until"]
    assert original["actor"] == "a"
    assert await ConsentEvent.count() == 3


async def test_each_event_creates_webhook_deliveries_with_the_event(tenant, make_tenant):
    category = await make_category(tenant.id, "Promotions")
    everything = await make_webhook_endpoint(tenant.id, ["*"])
    opt_ins_only = await make_webhook_endpoint(tenant.id, ["consent.opted_in"])
    other = await make_tenant("Other")
    await make_webhook_endpoint(other.id, ["*"])

    result = await service.record_opt_out(
        tenant.id, channel="sms", address=PHONE_A, source="web_form", actor="form", category_id=category["id"]
    )
    [delivery] = await WebhookDelivery.select().output(load_json=True)
    assert delivery["endpoint"] == everything
    assert delivery["event_type"] == "consent.opted_out"
    assert delivery["payload"]["data"] == result.event
    assert delivery["payload"]["data"]["category_name"] == "Promotions"
    assert result.deliveries == [delivery["id"]]

    await service.record_opt_in(
        tenant.id, channel="sms", address=PHONE_A, source="manual", actor="jane", category_id=category["id"]
    )
    opted_in = await WebhookDelivery.select().where(WebhookDelivery.event_type == "consent.opted_in")
    assert sorted(row["endpoint"] for row in opted_in) == sorted([everything, opt_ins_only])
    assert await WebhookDelivery.count().where(WebhookDelivery.workspace == other.id) == 0


async def test_entry_event_and_deliveries_commit_together_or_not_at_all(tenant):
    await make_webhook_endpoint(tenant.id)
    with pytest.raises(RuntimeError):
        async with transaction():
            result = await service.record_opt_out(
                tenant.id, channel="sms", address=PHONE_A, source="keyword", actor="kw"
            )
            assert result.deliveries  # written inside this transaction…
            raise RuntimeError("the caller's transaction fails after the opt-out")
    # …and gone with it.
    assert await OptOutEntry.count() == 0
    assert await ConsentEvent.count() == 0
    assert await WebhookDelivery.count() == 0


async def test_deliveries_are_enqueued_after_the_commit(tenant, redis_url, redis):
    from backend.core.queue import connect_queue

    await make_webhook_endpoint(tenant.id)
    queue = await connect_queue(redis_url)
    try:
        result = await service.record_opt_out(
            tenant.id, channel="sms", address=PHONE_A, source="keyword", actor="kw", queue=queue
        )
    finally:
        await queue.aclose()
    queued = {job.decode() for job in await redis.zrange("arq:queue", 0, -1)}
    assert f"webhook:{result.deliveries[0]}:0" in queued


async def test_api_writes_enqueue_their_deliveries(client, tenant, redis):
    await make_webhook_endpoint(tenant.id)
    entry = (
        await client.post(
            "/api/v1/optouts", json={"channel": "sms", "address": PHONE_A}, headers=tenant.headers("marketer")
        )
    ).json()
    await client.delete(f"/api/v1/optouts/{entry['id']}", headers=tenant.headers("marketer"))
    deliveries = await WebhookDelivery.select().order_by(WebhookDelivery.id)
    assert [row["event_type"] for row in deliveries] == ["consent.opted_out", "consent.opted_in"]
    queued = {job.decode() for job in await redis.zrange("arq:queue", 0, -1)}
    assert {f"webhook:{row['id']}:0" for row in deliveries} <= queued


async def test_events_keep_references_to_ids_beyond_32_bits(tenant):
    """Categories, senders and entries have 64-bit ids; the history must store whichever one it names
    (a 32-bit column refused ids past 2^31 on PostgreSQL)."""
    big = 2**40 + 7
    await ConsentEvent.insert(
        ConsentEvent(
            workspace=tenant.id,
            channel="sms",
            address=PHONE_A,
            kind="opt_out",
            source="api",
            category_id=big,
            sender_id=big + 1,
            entry_id=big + 2,
        )
    )
    stored = await ConsentEvent.select(
        ConsentEvent.category_id, ConsentEvent.sender_id, ConsentEvent.entry_id
    ).first()
    assert stored == {"category_id": big, "sender_id": big + 1, "entry_id": big + 2}
