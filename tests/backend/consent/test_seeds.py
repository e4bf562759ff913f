"""The seed scenarios end to end over the API (issue 6 "Done when"): seed 000's manual entry with a category
and validity whose durations add up, seed 004's per-number STOP and workspace-level opt-outs, and seed
003's history by address with reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.consent import service
from backend.consent.keywords import CampaignContext, handle_keyword
from tests.backend.consent.helpers import PHONE_A, PHONE_B, check, make_category, make_sender


async def _category(client, tenant, name: str, days: int) -> dict:
    """Through the marketing-categories API when it answers, else straight into the table."""
    response = await client.post(
        "/api/v1/marketing-categories",
        json={"name": name, "unsubscribe_days": days},
        headers=tenant.headers(),
    )
    if response.status_code == 201:
        return response.json()
    return await make_category(tenant.id, name, days)


def _until(entry: dict) -> datetime:
    return datetime.fromisoformat(entry["valid_until"])


async def test_seed_000_manual_entry_with_category_and_validity(client, tenant):
    promotions = await _category(client, tenant, "Multimedia promotions", 30)
    news = await _category(client, tenant, "Newsletter", 30)
    now = datetime.now(UTC)
    response = await client.post(
        "/api/v1/optouts",
        json={
            "channel": "whatsapp",
            "address": PHONE_A,
            "category_id": promotions["id"],
            "valid_until": (now + timedelta(days=20)).isoformat(),
            "remarks": "Rejected multimedia marketing on the phone",
        },
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    assert (entry["channel"], entry["category_name"], entry["remarks"]) == (
        "whatsapp",
        "Multimedia promotions",
        "Rejected multimedia marketing on the phone",
    )
    assert abs(_until(entry) - (now + timedelta(days=20))) < timedelta(seconds=30)

    blocked = await check(client, tenant, channel="whatsapp", address=PHONE_A, category_id=promotions["id"])
    assert blocked["opted_out"] is True
    other_category = await check(client, tenant, channel="whatsapp", address=PHONE_A, category_id=news["id"])
    assert other_category["opted_out"] is False
    # After the validity time the customer receives marketing again.
    from backend.consent.gate import may_send

    later = await may_send(
        tenant.id,
        channel="whatsapp",
        address=PHONE_A,
        kind="marketing",
        category_id=promotions["id"],
        now=now + timedelta(days=21),
    )
    assert later.allowed


async def test_seed_000_unsubscribing_from_a_campaign_then_a_manual_record_adds_up(client, tenant):
    """Method 2: the customer unsubscribes from a campaign bound to a 30-day category; the admin then adds
    a record of 10 days: the customer is unsubscribed for 30 + 10 days."""
    category = await _category(client, tenant, "Multimedia marketing", 30)
    whatsapp = await make_sender(tenant.id, name="Shop WhatsApp", channel="whatsapp")
    now = datetime.now(UTC)
    outcome = await handle_keyword(
        tenant.id,
        whatsapp,
        PHONE_A,
        "unsubscribe",
        campaign=CampaignContext(campaign_id=1, category_id=category["id"]),
    )
    assert outcome.action == "opted_out"
    response = await client.post(
        "/api/v1/optouts",
        json={
            "channel": "whatsapp",
            "address": PHONE_A,
            "category_id": category["id"],
            "sender_id": whatsapp["id"],
            "valid_days": 10,
        },
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text  # the active entry was extended
    assert abs(_until(response.json()) - (now + timedelta(days=40))) < timedelta(seconds=30)
    assert response.json()["self_service"] is True

    # Without a category the workspace's duration (default 30 days) applies instead.
    await handle_keyword(
        tenant.id, whatsapp, PHONE_B, "STOP", campaign=CampaignContext(campaign_id=2, category_id=None)
    )
    listed = (
        await client.get("/api/v1/optouts", params={"address": PHONE_B}, headers=tenant.headers("viewer"))
    ).json()["items"]
    assert abs(_until(listed[0]) - (now + timedelta(days=30))) < timedelta(seconds=30)


async def test_seed_004_stop_on_one_number_and_workspace_level_opt_outs(client, tenant):
    number_1 = await make_sender(tenant.id, name="Interact 1", address="+351910000001")
    number_2 = await make_sender(tenant.id, name="Interact 2", address="+351910000002")
    enforcing = await make_sender(tenant.id, name="Interact 3", address="+351910000003", scope="workspace")

    # STOP to number 1 blocks number 1 only: the customer can still be messaged from number 2.
    assert (await handle_keyword(tenant.id, number_1, PHONE_A, "STOP")).action == "opted_out"
    assert (await check(client, tenant, channel="sms", address=PHONE_A, sender_id=number_1["id"]))[
        "opted_out"
    ]
    assert not (await check(client, tenant, channel="sms", address=PHONE_A, sender_id=number_2["id"]))[
        "opted_out"
    ]

    # A number enforcing account-level opt-outs: STOP there blocks every number.
    assert (await handle_keyword(tenant.id, enforcing, PHONE_B, "unsubscribe")).action == "opted_out"
    for sender in (number_1, number_2, enforcing):
        assert (await check(client, tenant, channel="sms", address=PHONE_B, sender_id=sender["id"]))[
            "opted_out"
        ]

    # The web opt-out form applies to all messages, however the numbers are configured.
    await service.record_opt_out(
        tenant.id, channel="sms", address="+351912000003", source="web_form", actor="web form"
    )
    for sender in (number_1, number_2, enforcing):
        assert (await check(client, tenant, channel="sms", address="+351912000003", sender_id=sender["id"]))[
            "opted_out"
        ]

    # Custom keywords on a number (END, CANCEL) opt out too.
    custom = await make_sender(
        tenant.id,
        name="Interact 4",
        address="+351910000004",
        opt_out_keywords=["STOP", "UNSUBSCRIBE", "END", "CANCEL"],
    )
    assert (await handle_keyword(tenant.id, custom, "+351912000004", "Cancel!")).action == "opted_out"

    # Manual opt-outs from another channel of contact (e.g. a phone call) go through the API.
    manual = await client.post(
        "/api/v1/optouts",
        json={"channel": "sms", "address": "+351912000005", "remarks": "asked by phone"},
        headers=tenant.headers("marketer"),
    )
    assert manual.status_code == 201
    assert (await check(client, tenant, channel="sms", address="+351912000005", sender_id=number_1["id"]))[
        "opted_out"
    ]


async def test_seed_003_history_by_address_with_reasons(client, tenant):
    shop = await make_sender(tenant.id, name="Shop SMS")
    await handle_keyword(tenant.id, shop, PHONE_A, "Stop please", evidence={"provider_message_id": "SM1"})
    [entry] = (
        await client.get("/api/v1/optouts", params={"address": PHONE_A}, headers=tenant.headers("viewer"))
    ).json()["items"]
    revoked = await client.delete(
        f"/api/v1/optouts/{entry['id']}",
        params={"reason": "Customer asked to resubscribe at the counter"},
        headers=tenant.headers("admin"),
    )
    assert revoked.status_code == 200, revoked.text
    await service.record_opt_out(
        tenant.id,
        channel="sms",
        address=PHONE_A,
        source="unsubscribe_link",
        actor="unsubscribe link",
        evidence={"token": "t0k", "ip": "203.0.113.9"},
    )
    history = (
        await client.get(
            "/api/v1/consent-events",
            params={"channel": "sms", "address": PHONE_A},
            headers=tenant.headers("viewer"),
        )
    ).json()["items"]
    assert [(event["kind"], event["source"]) for event in history] == [
        ("opt_out", "keyword"),
        ("opt_in", "api"),
        ("opt_out", "unsubscribe_link"),
    ]
    assert history[0]["evidence"]["text"] == "Stop please"
    assert history[0]["sender_name"] == "Shop SMS"
    assert history[1]["reason"] == "Customer asked to resubscribe at the counter"
    assert history[1]["actor"].startswith("API key")
    assert history[2]["evidence"]["ip"] == "203.0.113.9"
    assert [event["at"] for event in history] == sorted(event["at"] for event in history)
    # Transactional messages are unaffected throughout (seed 003: opt-out management has no influence).
    from backend.consent.gate import may_send

    assert (await may_send(tenant.id, channel="sms", address=PHONE_A, kind="transactional")).allowed
