"""The unsubscription list's durations (seed 000, PRODUCT.md 4.2): validity, adding up, campaign replies,
and one consent event per change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.consent import service
from backend.consent.tables import ConsentEvent, OptOutEntry
from backend.core.errors import InvalidInput
from tests.backend.consent.helpers import PHONE_A, make_category, make_sender

TOLERANCE = timedelta(seconds=30)


def near(actual: datetime | None, expected: datetime) -> bool:
    return actual is not None and abs(actual - expected) < TOLERANCE


async def _opt_out(tenant, **fields):
    values = {"channel": "sms", "address": PHONE_A, "source": "manual", "actor": "tester", **fields}
    return await service.record_opt_out(tenant.id, **values)


async def _events(tenant) -> list[dict]:
    return await ConsentEvent.select().where(ConsentEvent.workspace == tenant.id).order_by(ConsentEvent.id)


async def test_no_validity_is_permanent(tenant):
    result = await _opt_out(tenant)
    assert result.created
    assert result.entry["valid_until"] is None
    assert result.event["kind"] == "opt_out"


async def test_valid_days_and_valid_until_set_the_end(tenant):
    now = datetime.now(UTC)
    by_days = await _opt_out(tenant, valid_days=10)
    assert near(by_days.entry["valid_until"], now + timedelta(days=10))
    until = now + timedelta(days=3)
    by_date = await _opt_out(tenant, channel="whatsapp", valid_until=until)
    assert near(by_date.entry["valid_until"], until)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"valid_days": 5, "valid_until": datetime.now(UTC) + timedelta(days=1)}, "valid_days"),
        ({"valid_until": datetime.now(UTC) - timedelta(minutes=1)}, "valid_until"),
        ({"valid_until": datetime(2099, 1, 1)}, "valid_until"),  # no time zone
        ({"valid_days": 0}, "valid_days"),
        ({"address": "not a phone"}, "address"),
        ({"channel": "fax"}, "channel"),
        ({"channel": "email", "address": "nobody@"}, "address"),
        ({"source": "rumour"}, "source"),
        ({"category_id": 999_999}, "category_id"),
        ({"sender_id": 999_999}, "sender_id"),
        ({"remarks": "x" * 1001}, "remarks"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(tenant, fields, field):
    with pytest.raises(InvalidInput) as caught:
        await _opt_out(tenant, **fields)
    assert caught.value.problems[0].field == field
    assert await OptOutEntry.count() == 0
    assert await ConsentEvent.count() == 0


async def test_a_sender_on_another_channel_is_refused(tenant):
    whatsapp = await make_sender(tenant.id, channel="whatsapp")
    with pytest.raises(InvalidInput) as caught:
        await _opt_out(tenant, channel="sms", sender_id=whatsapp["id"])
    assert caught.value.problems[0].field == "sender_id"


async def test_national_numbers_use_the_workspace_phone_region(tenant):
    from backend.workspaces.tables import Workspace

    await Workspace.update({Workspace.default_phone_region: "PT"}).where(Workspace.id == tenant.id)
    result = await _opt_out(tenant, address="912 000 001")
    assert result.entry["address"] == PHONE_A


async def test_durations_add_up_on_an_active_entry(tenant):
    now = datetime.now(UTC)
    first = await _opt_out(tenant, valid_days=10)
    second = await _opt_out(tenant, valid_days=5)
    assert not second.created
    assert second.entry["id"] == first.entry["id"]
    assert near(second.entry["valid_until"], now + timedelta(days=15))
    third = await _opt_out(tenant, valid_until=now + timedelta(days=2))
    assert near(third.entry["valid_until"], now + timedelta(days=17))
    assert third.entry["updated_at"] > first.entry["updated_at"]
    assert await OptOutEntry.count() == 1
    assert [event["kind"] for event in await _events(tenant)] == ["opt_out", "extended", "extended"]


async def test_permanent_wins_in_either_order(tenant):
    await _opt_out(tenant, valid_days=10)
    made_permanent = await _opt_out(tenant)
    assert made_permanent.entry["valid_until"] is None
    stays = await _opt_out(tenant, valid_days=7)
    assert stays.entry["valid_until"] is None
    assert not stays.created
    assert await OptOutEntry.count() == 1


async def test_only_the_same_category_and_scope_add_up(tenant):
    promotions = await make_category(tenant.id, "Promotions")
    news = await make_category(tenant.id, "News")
    sender = await make_sender(tenant.id)
    await _opt_out(tenant, valid_days=10)
    for fields in (
        {"category_id": promotions["id"]},
        {"category_id": news["id"]},
        {"sender_id": sender["id"]},
        {"channel": "whatsapp"},
        {"address": "+351912000009"},
    ):
        assert (await _opt_out(tenant, valid_days=3, **fields)).created, fields
    assert await OptOutEntry.count() == 6


async def test_an_expired_or_revoked_entry_is_not_extended(tenant):
    now = datetime.now(UTC)
    expired = await _opt_out(tenant, valid_days=1)
    await OptOutEntry.update({OptOutEntry.valid_until: now - timedelta(hours=1)}).where(
        OptOutEntry.id == expired.entry["id"]
    )
    renewed = await _opt_out(tenant, valid_days=4)
    assert renewed.created
    assert near(renewed.entry["valid_until"], now + timedelta(days=4))
    await service.record_opt_in(tenant.id, channel="sms", address=PHONE_A, source="manual", actor="tester")
    again = await _opt_out(tenant, valid_days=2)
    assert again.created
    assert near(again.entry["valid_until"], now + timedelta(days=2))


async def test_campaign_reply_lasts_the_category_days(tenant):
    now = datetime.now(UTC)
    category = await make_category(tenant.id, "Promotions", days=45)
    result = await _opt_out(tenant, source="campaign_reply", category_id=category["id"])
    assert near(result.entry["valid_until"], now + timedelta(days=45))
    assert result.entry["self_service"]


async def test_campaign_reply_without_category_lasts_the_workspace_setting(tenant):
    from backend.workspaces.tables import Workspace

    now = datetime.now(UTC)
    default = await _opt_out(tenant, source="campaign_reply")
    assert near(default.entry["valid_until"], now + timedelta(days=30))
    await Workspace.update({Workspace.marketing_unsubscription_days: 12}).where(Workspace.id == tenant.id)
    changed = await _opt_out(tenant, channel="whatsapp", source="campaign_reply")
    assert near(changed.entry["valid_until"], now + timedelta(days=12))


async def test_campaign_reply_with_explicit_validity_keeps_it(tenant):
    now = datetime.now(UTC)
    category = await make_category(tenant.id, "Promotions", days=45)
    result = await _opt_out(tenant, source="campaign_reply", category_id=category["id"], valid_days=2)
    assert near(result.entry["valid_until"], now + timedelta(days=2))


@pytest.mark.parametrize("source", ["keyword", "web_form", "unsubscribe_link", "provider"])
async def test_other_self_service_opt_outs_are_permanent(tenant, source):
    await make_category(tenant.id, "Promotions", days=45)
    result = await _opt_out(tenant, source=source)
    assert result.entry["valid_until"] is None
    assert result.entry["self_service"]


@pytest.mark.parametrize("source", ["manual", "api", "import"])
async def test_admin_and_import_entries_are_not_self_service(tenant, source):
    assert not (await _opt_out(tenant, source=source)).entry["self_service"]


async def test_seed_000_category_days_plus_manual_validity(tenant):
    """A customer unsubscribes from a campaign bound to a 30-day category; an admin then adds 7 days:
    the customer is unsubscribed for 37 days."""
    now = datetime.now(UTC)
    category = await make_category(tenant.id, "Multimedia marketing", days=30)
    await _opt_out(tenant, channel="whatsapp", source="campaign_reply", category_id=category["id"])
    manual = await _opt_out(tenant, channel="whatsapp", category_id=category["id"], valid_days=7)
    assert near(manual.entry["valid_until"], now + timedelta(days=37))
    assert manual.entry["self_service"], "a manual extension never downgrades the person's own opt-out"


async def test_every_change_writes_one_event_with_what_happened(tenant):
    category = await make_category(tenant.id, "Promotions")
    sender = await make_sender(tenant.id, name="Shop SMS")
    result = await _opt_out(
        tenant,
        category_id=category["id"],
        sender_id=sender["id"],
        valid_days=3,
        remarks="asked on the phone",
        actor="jane@acme.example",
        evidence={"ticket": 42},
    )
    [event] = await _events(tenant)
    assert event["kind"] == "opt_out"
    assert event["source"] == "manual"
    assert (event["category_id"], event["category_name"]) == (category["id"], "Promotions")
    assert (event["sender_id"], event["sender_name"]) == (sender["id"], "Shop SMS")
    assert event["entry_id"] == result.entry["id"]
    assert event["valid_until"] == result.entry["valid_until"]
    assert event["actor"] == "jane@acme.example"
    assert event["reason"] == "asked on the phone"
    assert result.event["evidence"] == {"ticket": 42}
    assert result.event["id"] == event["id"]


async def test_concurrent_opt_outs_for_one_address_add_up_in_one_entry(tenant):
    import asyncio

    now = datetime.now(UTC)
    await asyncio.gather(*(_opt_out(tenant, valid_days=2) for _ in range(5)))
    [entry] = await OptOutEntry.select().where(OptOutEntry.workspace == tenant.id)
    assert near(entry["valid_until"], now + timedelta(days=10))
    assert await ConsentEvent.count() == 5
