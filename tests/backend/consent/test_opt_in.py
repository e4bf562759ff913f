"""Opting back in (``record_opt_in``) and the state of an address: what an opt-in may revoke, and that it
always leaves one event behind."""

from __future__ import annotations

from backend.consent import service
from backend.consent.tables import ConsentEvent, OptOutEntry
from tests.backend.consent.helpers import PHONE_A, PHONE_B, make_category, make_sender


async def _opt_out(tenant, **fields):
    values = {"channel": "sms", "address": PHONE_A, "source": "manual", "actor": "tester", **fields}
    return (await service.record_opt_out(tenant.id, **values)).entry


async def _active_ids(tenant) -> set[int]:
    rows = await OptOutEntry.select(OptOutEntry.id).where(
        (OptOutEntry.workspace == tenant.id) & OptOutEntry.revoked_at.is_null()
    )
    return {row["id"] for row in rows}


async def _opt_in(tenant, **fields) -> list[dict]:
    values = {"channel": "sms", "address": PHONE_A, "source": "manual", "actor": "jane", **fields}
    return await service.record_opt_in(tenant.id, **values)


async def test_opt_in_revokes_the_same_scope_in_every_category(tenant):
    promotions = await make_category(tenant.id, "Promotions")
    shop = await make_sender(tenant.id)
    everything = await _opt_out(tenant)
    in_category = await _opt_out(tenant, category_id=promotions["id"])
    on_sender = await _opt_out(tenant, sender_id=shop["id"])
    elsewhere = await _opt_out(tenant, address=PHONE_B)

    revoked = await _opt_in(tenant, reason="resubscribed")
    assert sorted(entry["id"] for entry in revoked) == sorted([everything["id"], in_category["id"]])
    assert all(
        entry["revoked_by"] == "jane" and entry["revoke_reason"] == "resubscribed" for entry in revoked
    )
    assert await _active_ids(tenant) == {on_sender["id"], elsewhere["id"]}


async def test_opt_in_for_a_category_or_a_sender_revokes_only_that(tenant):
    promotions = await make_category(tenant.id, "Promotions")
    news = await make_category(tenant.id, "News")
    shop = await make_sender(tenant.id)
    first = await _opt_out(tenant, category_id=promotions["id"])
    second = await _opt_out(tenant, category_id=news["id"])
    third = await _opt_out(tenant, sender_id=shop["id"])
    assert [e["id"] for e in await _opt_in(tenant, category_id=promotions["id"])] == [first["id"]]
    assert [e["id"] for e in await _opt_in(tenant, sender_id=shop["id"])] == [third["id"]]
    assert await _active_ids(tenant) == {second["id"]}


async def test_only_keyword_entries_limits_what_is_revoked(tenant):
    keyword = await _opt_out(tenant, source="keyword")
    await _opt_out(tenant, source="web_form", channel="whatsapp")
    revoked = await _opt_in(tenant, source="keyword", only_keyword_entries=True)
    assert [entry["id"] for entry in revoked] == [keyword["id"]]
    manual = await _opt_out(tenant, source="manual")
    assert await _opt_in(tenant, source="keyword", only_keyword_entries=True) == []
    assert manual["id"] in await _active_ids(tenant)


async def test_every_opt_in_writes_one_event_even_with_nothing_to_revoke(tenant):
    assert await _opt_in(tenant, reason="asked for offers") == []
    [event] = await ConsentEvent.select().output(load_json=True)
    assert (event["kind"], event["entry_id"], event["reason"]) == ("opt_in", None, "asked for offers")
    assert event["evidence"] == {"revoked_entry_ids": []}
    first = await _opt_out(tenant)
    second = await _opt_out(tenant, channel="sms", category_id=(await make_category(tenant.id))["id"])
    await _opt_in(tenant)
    last = (
        await ConsentEvent.select().order_by(ConsentEvent.id, ascending=False).output(load_json=True).first()
    )
    assert last["entry_id"] is None
    assert sorted(last["evidence"]["revoked_entry_ids"]) == sorted([first["id"], second["id"]])
    assert await ConsentEvent.count().where(ConsentEvent.kind == "opt_in") == 2


async def test_address_state_lists_active_entries_and_the_last_event(tenant):
    state = await service.address_state(tenant.id, "sms", PHONE_A)
    assert (state["opted_out"], state["active_entries"], state["last_event"]) == (False, [], None)
    entry = await _opt_out(tenant, source="keyword")
    state = await service.address_state(tenant.id, "sms", "+351 912 000 001")
    assert state["opted_out"] is True
    assert [row["id"] for row in state["active_entries"]] == [entry["id"]]
    assert state["last_event"]["kind"] == "opt_out"
    await _opt_in(tenant)
    state = await service.address_state(tenant.id, "sms", PHONE_A)
    assert state["opted_out"] is False
    assert state["last_event"]["kind"] == "opt_in"
