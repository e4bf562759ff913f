"""The consent gate (PRODUCT.md 5): which marketing messages an opt-out stops, and that nothing else stops."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from backend.consent import rules, service
from backend.consent.gate import blocking_entries, may_send
from backend.consent.tables import OptOutEntry
from backend.core.errors import InvalidInput
from tests.backend.consent.helpers import EMAIL_A, PHONE_A, PHONE_B, make_category, make_sender


async def _opt_out(tenant, **fields):
    values = {"channel": "sms", "address": PHONE_A, "source": "manual", "actor": "tester", **fields}
    return await service.record_opt_out(tenant.id, **values)


async def _allowed(tenant, **fields) -> bool:
    values = {"channel": "sms", "address": PHONE_A, "kind": "marketing", **fields}
    return (await may_send(tenant.id, **values)).allowed


async def test_no_entry_allows_marketing(tenant):
    decision = await may_send(tenant.id, channel="sms", address=PHONE_A, kind="marketing")
    assert decision.allowed and decision.reason is None and decision.entries == []


async def test_an_opt_out_blocks_marketing_with_the_reason_and_entries(tenant):
    result = await _opt_out(tenant)
    decision = await may_send(tenant.id, channel="sms", address=PHONE_A, kind="marketing")
    assert not decision.allowed
    assert decision.reason == "opted_out"
    assert [entry["id"] for entry in decision.entries] == [result.entry["id"]]


@pytest.mark.parametrize("kind", ["transactional", "conversational"])
async def test_transactional_and_conversational_messages_pass(tenant, kind):
    await _opt_out(tenant, source="keyword")
    assert await _allowed(tenant, kind=kind)
    assert not await _allowed(tenant)


async def test_unknown_kind_is_refused(tenant):
    with pytest.raises(InvalidInput) as caught:
        await may_send(tenant.id, channel="sms", address=PHONE_A, kind="promo")
    assert caught.value.problems[0].field == "kind"


async def test_only_the_same_address_and_channel_are_blocked(tenant):
    await _opt_out(tenant)
    assert await _allowed(tenant, address=PHONE_B)
    assert await _allowed(tenant, channel="whatsapp")
    await _opt_out(tenant, channel="email", address=EMAIL_A)
    assert not await _allowed(tenant, channel="email", address="  Ana@Example.COM ")


async def test_the_address_is_normalised_before_the_check(tenant):
    from backend.workspaces.tables import Workspace

    await _opt_out(tenant)
    assert not await _allowed(tenant, address="+351 912 000 001")
    assert not await _allowed(tenant, address="00351912000001")
    await Workspace.update({Workspace.default_phone_region: "PT"}).where(Workspace.id == tenant.id)
    assert not await _allowed(tenant, address="912000001")
    with pytest.raises(InvalidInput) as caught:
        await _allowed(tenant, address="call me")
    assert caught.value.problems[0].field == "address"


async def test_scope_sender_entry_blocks_only_that_sender(tenant):
    shop = await make_sender(tenant.id, name="Shop", address="+351910000001")
    news = await make_sender(tenant.id, name="News", address="+351910000002")
    await _opt_out(tenant, source="keyword", sender_id=shop["id"])
    assert not await _allowed(tenant, sender_id=shop["id"])
    assert await _allowed(tenant, sender_id=news["id"])
    # A send path that does not say which sender is strict: every scope counts.
    assert not await _allowed(tenant)


async def test_workspace_wide_entry_blocks_every_sender(tenant):
    shop = await make_sender(tenant.id, name="Shop", address="+351910000001")
    news = await make_sender(tenant.id, name="News", address="+351910000002")
    await _opt_out(tenant, source="web_form")
    assert not await _allowed(tenant, sender_id=shop["id"])
    assert not await _allowed(tenant, sender_id=news["id"])


async def test_category_entry_blocks_its_category_and_uncategorised_marketing(tenant):
    promotions = await make_category(tenant.id, "Promotions")
    news = await make_category(tenant.id, "News")
    await _opt_out(tenant, category_id=promotions["id"])
    assert not await _allowed(tenant, category_id=promotions["id"])
    assert await _allowed(tenant, category_id=news["id"])
    # Marketing without a category counts as all marketing: any category's opt-out blocks it.
    assert not await _allowed(tenant)


async def test_all_marketing_entry_blocks_every_category(tenant):
    promotions = await make_category(tenant.id, "Promotions")
    await _opt_out(tenant)
    assert not await _allowed(tenant, category_id=promotions["id"])
    assert not await _allowed(tenant)


async def test_expired_and_revoked_entries_do_not_block(tenant):
    now = datetime.now(UTC)
    await _opt_out(tenant, valid_days=2)
    assert not await _allowed(tenant, now=now + timedelta(days=1))
    assert await _allowed(tenant, now=now + timedelta(days=2, minutes=1))
    await service.record_opt_in(tenant.id, channel="sms", address=PHONE_A, source="manual", actor="tester")
    assert await _allowed(tenant, now=now)


async def test_an_opt_out_takes_effect_for_the_very_next_check(tenant):
    assert await _allowed(tenant)
    await _opt_out(tenant, source="keyword")
    assert not await _allowed(tenant)


@pytest.mark.parametrize("source", ["keyword", "web_form", "unsubscribe_link", "provider", "campaign_reply"])
async def test_toggle_off_never_overrides_the_persons_own_opt_out(tenant, source):
    await _opt_out(tenant, source=source)
    assert not await _allowed(tenant, opted_in_only=False)


@pytest.mark.parametrize("source", ["manual", "api", "import"])
async def test_toggle_off_lets_through_admin_and_import_marks(tenant, source):
    await _opt_out(tenant, source=source)
    assert not await _allowed(tenant)
    assert await _allowed(tenant, opted_in_only=False)


async def test_toggle_off_still_honours_a_manual_mark_extended_by_the_person(tenant):
    await _opt_out(tenant, source="manual", valid_days=3)
    await _opt_out(tenant, source="keyword")
    assert not await _allowed(tenant, opted_in_only=False)


async def test_other_workspaces_entries_never_block(make_tenant):
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    await _opt_out(acme)
    assert not await _allowed(acme)
    assert await _allowed(globex)


async def test_gate_agrees_with_the_rule_for_every_target(tenant, make_tenant):
    """For a table of entries covering every combination, the SQL gate and ``rules.entry_blocks`` give
    the same blocking entries for every target."""
    other = await make_tenant("Other")
    now = datetime.now(UTC)
    c1, c2 = (await make_category(tenant.id, "C1"))["id"], (await make_category(tenant.id, "C2"))["id"]
    s1 = (await make_sender(tenant.id, name="S1", address="+351910000001"))["id"]
    s2 = (await make_sender(tenant.id, name="S2", address="+351910000002"))["id"]
    validities = [None, now + timedelta(days=1), now - timedelta(seconds=1)]
    rows = []
    for category, sender, valid_until, revoked, self_service in itertools.product(
        [None, c1, c2], [None, s1, s2], validities, [False, True], [False, True]
    ):
        rows.append(
            OptOutEntry(
                workspace=tenant.id,
                channel="sms",
                address=PHONE_A,
                category=category,
                sender=sender,
                valid_until=valid_until,
                source="keyword" if self_service else "manual",
                self_service=self_service,
                revoked_at=now - timedelta(hours=1) if revoked else None,
            )
        )
    rows += [
        OptOutEntry(workspace=tenant.id, channel="sms", address=PHONE_B, source="manual"),
        OptOutEntry(workspace=tenant.id, channel="whatsapp", address=PHONE_A, source="manual"),
        OptOutEntry(workspace=other.id, channel="sms", address=PHONE_A, source="keyword", self_service=True),
    ]
    await OptOutEntry.insert(*rows)
    entries = await OptOutEntry.select()
    for row in entries:
        row["self_service"] = bool(row["self_service"])

    checked = 0
    for channel, address, category, sender, opted_in_only in itertools.product(
        ["sms", "whatsapp"], [PHONE_A, PHONE_B], [None, c1, c2], [None, s1, s2], [True, False]
    ):
        target = rules.Target(
            workspace_id=tenant.id,
            channel=channel,
            sender_id=sender,
            category_id=category,
            opted_in_only=opted_in_only,
        )
        expected = sorted(e["id"] for e in entries if rules.entry_blocks(e, target, address, now))
        actual = [e["id"] for e in await blocking_entries(target, address, now)]
        assert actual == expected, target
        decision = await may_send(
            tenant.id,
            channel=channel,
            address=address,
            kind="marketing",
            sender_id=sender,
            category_id=category,
            opted_in_only=opted_in_only,
            now=now,
        )
        assert decision.allowed == (not expected)
        checked += 1
    assert checked == 72
