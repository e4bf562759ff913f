"""Inbound keywords as the gateway hands them over: what they opt out of, for how long, what START may undo,
and what to reply (PRODUCT.md 4.4, 4.5, 4.7; seed 004)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.consent import service
from backend.consent.gate import may_send
from backend.consent.keywords import CampaignContext, handle_keyword
from backend.consent.tables import ConsentEvent, OptOutEntry
from tests.backend.consent.helpers import PHONE_A, PHONE_B, make_category, make_sender


async def _allowed(tenant, sender_id=None, address=PHONE_A, category_id=None) -> bool:
    decision = await may_send(
        tenant.id,
        channel="sms",
        address=address,
        kind="marketing",
        sender_id=sender_id,
        category_id=category_id,
    )
    return decision.allowed


async def test_stop_opts_out_on_the_sender_only_by_default(tenant):
    shop = await make_sender(tenant.id, name="Shop", address="+351910000001", confirmation_message="Bye!")
    news = await make_sender(tenant.id, name="News", address="+351910000002")
    outcome = await handle_keyword(tenant.id, shop, PHONE_A, " Stop. ")
    assert outcome.action == "opted_out"
    assert outcome.reply_text == "Bye!"
    assert outcome.keyword == "STOP"
    [entry] = outcome.entries
    assert (entry["sender"], entry["source"], entry["valid_until"]) == (shop["id"], "keyword", None)
    assert entry["self_service"]
    assert not await _allowed(tenant, shop["id"])
    assert await _allowed(tenant, news["id"])
    assert await _allowed(tenant, shop["id"], address=PHONE_B)


async def test_a_sender_enforcing_workspace_opt_outs_blocks_every_sender(tenant):
    shop = await make_sender(tenant.id, name="Shop", address="+351910000001", scope="workspace")
    news = await make_sender(tenant.id, name="News", address="+351910000002")
    outcome = await handle_keyword(tenant.id, shop, PHONE_A, "UNSUBSCRIBE")
    assert outcome.entries[0]["sender"] is None
    assert not await _allowed(tenant, news["id"])


async def test_custom_and_multi_word_keywords(tenant):
    shop = await make_sender(tenant.id, opt_out_keywords=["END", "stop all", "opt out"])
    assert (await handle_keyword(tenant.id, shop, PHONE_A, "STOP")).action == "none"
    assert (await handle_keyword(tenant.id, shop, PHONE_A, "please Opt-Out!")).action == "opted_out"
    assert (await handle_keyword(tenant.id, shop, PHONE_B, "Stop All")).keyword == "stop all"


async def test_a_word_containing_a_keyword_does_nothing(tenant):
    shop = await make_sender(tenant.id)
    outcome = await handle_keyword(tenant.id, shop, PHONE_A, "my stopwatch broke")
    assert outcome.action == "none"
    assert await OptOutEntry.count() == 0
    assert await ConsentEvent.count() == 0


async def test_opt_out_wins_over_opt_in_and_help(tenant):
    shop = await make_sender(tenant.id)
    outcome = await handle_keyword(tenant.id, shop, PHONE_A, "start? no, STOP. help")
    assert outcome.action == "opted_out"


async def test_help_replies_without_touching_consent(tenant):
    shop = await make_sender(tenant.id, help_reply="Reply STOP to opt out.")
    outcome = await handle_keyword(tenant.id, shop, PHONE_A, "help!")
    assert (outcome.action, outcome.reply_text, outcome.entries) == ("help", "Reply STOP to opt out.", [])
    assert await ConsentEvent.count() == 0


async def test_empty_confirmation_means_no_reply(tenant):
    shop = await make_sender(tenant.id, confirmation_message="")
    assert (await handle_keyword(tenant.id, shop, PHONE_A, "stop")).reply_text == ""


async def test_reply_to_a_campaign_lasts_the_category_days(tenant):
    now = datetime.now(UTC)
    category = await make_category(tenant.id, "Promotions", days=14)
    shop = await make_sender(tenant.id)
    outcome = await handle_keyword(
        tenant.id, shop, PHONE_A, "STOP", campaign=CampaignContext(campaign_id=7, category_id=category["id"])
    )
    [entry] = outcome.entries
    assert entry["source"] == "campaign_reply"
    assert entry["category"] == category["id"]
    assert abs(entry["valid_until"] - (now + timedelta(days=14))) < timedelta(seconds=30)
    assert entry["self_service"]


async def test_reply_to_an_uncategorised_campaign_lasts_the_workspace_days(tenant):
    now = datetime.now(UTC)
    shop = await make_sender(tenant.id)
    outcome = await handle_keyword(
        tenant.id, shop, PHONE_A, "stop", campaign=CampaignContext(campaign_id=7, category_id=None)
    )
    assert abs(outcome.entries[0]["valid_until"] - (now + timedelta(days=30))) < timedelta(seconds=30)


async def test_evidence_keeps_the_raw_text_and_campaign(tenant):
    shop = await make_sender(tenant.id)
    await handle_keyword(
        tenant.id,
        shop,
        PHONE_A,
        "STOP!!! 🛑",
        campaign=CampaignContext(campaign_id=7, category_id=None),
        evidence={"provider_message_id": "wamid.1"},
    )
    [event] = await ConsentEvent.select().output(load_json=True)
    assert event["evidence"] == {
        "provider_message_id": "wamid.1",
        "text": "STOP!!! 🛑",
        "campaign_id": 7,
        "keyword": "STOP",
    }
    assert event["source"] == "campaign_reply"


async def test_start_reverses_a_keyword_opt_out_on_the_same_scope(tenant):
    shop = await make_sender(tenant.id, opt_in_confirmation_message="Welcome back")
    await handle_keyword(tenant.id, shop, PHONE_A, "STOP")
    outcome = await handle_keyword(tenant.id, shop, PHONE_A, "Start")
    assert outcome.action == "opted_in"
    assert outcome.reply_text == "Welcome back"
    assert [entry["revoked_at"] is not None for entry in outcome.entries] == [True]
    assert await _allowed(tenant, shop["id"])
    kinds = [row["kind"] for row in await ConsentEvent.select().order_by(ConsentEvent.id)]
    assert kinds == ["opt_out", "opt_in"]


async def test_start_reverses_a_campaign_reply_opt_out(tenant):
    category = await make_category(tenant.id, "Promotions")
    shop = await make_sender(tenant.id)
    context = CampaignContext(campaign_id=1, category_id=category["id"])
    await handle_keyword(tenant.id, shop, PHONE_A, "stop", campaign=context)
    await handle_keyword(tenant.id, shop, PHONE_A, "start")
    assert await _allowed(tenant, shop["id"], category_id=category["id"])


async def test_start_never_reverses_forms_links_manual_or_imported_opt_outs(tenant):
    shop = await make_sender(tenant.id)
    for source, sender_id in (
        ("web_form", None),
        ("unsubscribe_link", None),
        ("manual", shop["id"]),
        ("import", shop["id"]),
        ("api", shop["id"]),
    ):
        await service.record_opt_out(
            tenant.id,
            channel="sms",
            address=PHONE_A,
            source=source,
            sender_id=sender_id,
            actor="tester",
            category_id=None,
        )
    outcome = await handle_keyword(tenant.id, shop, PHONE_A, "START")
    assert outcome.action == "opted_in"
    assert outcome.entries == []
    assert await OptOutEntry.count().where(OptOutEntry.revoked_at.is_null()) == 2  # merged per scope
    assert not await _allowed(tenant, shop["id"])


async def test_start_on_one_sender_leaves_another_senders_keyword_opt_out(tenant):
    shop = await make_sender(tenant.id, name="Shop", address="+351910000001")
    news = await make_sender(tenant.id, name="News", address="+351910000002")
    await handle_keyword(tenant.id, shop, PHONE_A, "STOP")
    await handle_keyword(tenant.id, news, PHONE_A, "STOP")
    await handle_keyword(tenant.id, shop, PHONE_A, "START")
    assert await _allowed(tenant, shop["id"])
    assert not await _allowed(tenant, news["id"])


async def test_start_on_a_sender_scope_leaves_a_workspace_keyword_opt_out(tenant):
    enforcing = await make_sender(tenant.id, name="Main", address="+351910000001", scope="workspace")
    shop = await make_sender(tenant.id, name="Shop", address="+351910000002")
    await handle_keyword(tenant.id, enforcing, PHONE_A, "STOP")
    await handle_keyword(tenant.id, shop, PHONE_A, "START")
    assert not await _allowed(tenant, shop["id"])
    await handle_keyword(tenant.id, enforcing, PHONE_A, "START")
    assert await _allowed(tenant, shop["id"])


async def test_keywords_stored_as_json_text_are_read(tenant):
    """A senders row loaded without load_json carries its keyword lists as JSON text."""
    shop = await make_sender(tenant.id)
    raw = {**shop, "opt_out_keywords": '["QUIT"]'}
    assert (await handle_keyword(tenant.id, raw, PHONE_A, "quit")).action == "opted_out"


async def test_another_workspaces_sender_is_refused(make_tenant):
    import pytest

    from backend.core.errors import NotFound

    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    shop = await make_sender(acme.id)
    with pytest.raises(NotFound):
        await handle_keyword(globex.id, shop, PHONE_A, "STOP")
    assert await OptOutEntry.count() == 0


async def test_inside_the_gateways_transaction_the_opt_out_commits_with_it(tenant, redis):
    """The gateway stores an inbound message and its effect together: a rollback takes the opt-out with it,
    and the deliveries are left for the gateway to dispatch after its own commit."""
    import pytest

    from backend.core.database import transaction
    from backend.webhooks.tables import WebhookDelivery
    from tests.backend.consent.helpers import make_webhook_endpoint

    await make_webhook_endpoint(tenant.id)
    shop = await make_sender(tenant.id)
    with pytest.raises(RuntimeError):
        async with transaction():
            outcome = await handle_keyword(tenant.id, shop, PHONE_A, "STOP", queue=object())
            assert outcome.deliveries
            raise RuntimeError("storing the inbound message failed")
    assert await OptOutEntry.count() == 0
    assert await WebhookDelivery.count() == 0
    async with transaction():
        outcome = await handle_keyword(tenant.id, shop, PHONE_A, "STOP")
    assert await WebhookDelivery.count() == len(outcome.deliveries) == 1
    queued = [job.decode() for job in await redis.zrange("arq:queue", 0, -1)]
    assert not [job for job in queued if job.startswith("webhook:")]  # the caller dispatches after its commit


async def test_a_sender_that_is_not_an_address_is_refused(tenant):
    import pytest

    from backend.core.errors import InvalidInput

    shop = await make_sender(tenant.id)
    with pytest.raises(InvalidInput) as caught:
        await handle_keyword(tenant.id, shop, "not-a-phone", "STOP")
    assert caught.value.problems[0].field == "address"
    assert (await handle_keyword(tenant.id, shop, "not-a-phone", "hello")).action == "none"
