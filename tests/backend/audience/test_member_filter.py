"""Group members filtered by opt-out, in the database, by the consent gate's own rule (PRODUCT.md 4.10,
5; seeds 002 and 003): what the listing and the audience count leave out, and what they must not."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from backend.audience.tables import Contact, Group, GroupMember
from backend.consent.tables import MarketingCategory, OptOutEntry
from backend.senders.tables import Sender

NOW = datetime.now(UTC)


async def _group(tenant, name="Customers", bypass=False) -> int:
    row = await Group.insert(Group(workspace=tenant.id, name=name, bypass_opt_out_filter=bypass)).returning(
        Group.id
    )
    return row[0]["id"]


async def _members(tenant, group_id, count, *, with_email=False, with_phone=True) -> list[dict]:
    rows = [
        Contact(
            workspace=tenant.id,
            phone=f"+1415555{number:04d}" if with_phone else None,
            email=f"m{number}@example.com" if with_email or not with_phone else None,
            created_at=NOW,
            updated_at=NOW,
        )
        for number in range(count)
    ]
    contacts = []
    for start in range(0, len(rows), 1000):
        contacts += await Contact.insert(*rows[start : start + 1000]).returning(
            Contact.id, Contact.phone, Contact.email
        )
    contacts.sort(key=lambda row: row["id"])
    for start in range(0, len(contacts), 1000):
        await GroupMember.insert(
            *[
                GroupMember(workspace=tenant.id, group=group_id, contact=contact["id"])
                for contact in contacts[start : start + 1000]
            ]
        )
    return contacts


async def _opt_out(tenant, address, channel="sms", **values):
    values.setdefault("source", "manual")
    values.setdefault("self_service", values["source"] in {"keyword", "web_form", "unsubscribe_link"})
    await OptOutEntry.insert(OptOutEntry(workspace=tenant.id, channel=channel, address=address, **values))


async def _sender(tenant, name, channel="sms") -> int:
    row = await Sender.insert(
        Sender(
            workspace=tenant.id,
            name=name,
            channel=channel,
            provider="sandbox",
            address=f"+1202555{random.randint(1000, 9999)}",
        )
    ).returning(Sender.id)
    return row[0]["id"]


async def _category(tenant, name) -> int:
    row = await MarketingCategory.insert(MarketingCategory(workspace=tenant.id, name=name)).returning(
        MarketingCategory.id
    )
    return row[0]["id"]


async def _listed(client, tenant, group_id, **params) -> tuple[list[int], dict]:
    ids, cursor, page = [], None, {}
    while True:
        query = {"limit": 500, **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(
            f"/api/v1/groups/{group_id}/members", params=query, headers=tenant.headers("viewer")
        )
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, page


async def _audience(client, tenant, group_id, **params) -> dict:
    response = await client.get(
        f"/api/v1/groups/{group_id}/audience", params=params, headers=tenant.headers("viewer")
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_seed_002_a_thousand_members_ten_opted_out_leaves_990(client, tenant):
    group_id = await _group(tenant)
    contacts = await _members(tenant, group_id, 1000)
    opted_out = random.sample(contacts, 10)
    for contact in opted_out:
        await _opt_out(tenant, contact["phone"], source=random.choice(["manual", "keyword", "web_form"]))

    everyone, _ = await _listed(client, tenant, group_id, channel="sms")
    assert len(everyone) == 1000
    eligible, page = await _listed(client, tenant, group_id, channel="sms", exclude_opted_out="true")
    assert len(eligible) == 990 and page["opt_out_filter_applied"] is True
    assert set(everyone) - set(eligible) == {contact["id"] for contact in opted_out}

    counts = await _audience(client, tenant, group_id, channel="sms")
    assert counts["members"] == 1000
    assert counts["eligible"] == 990
    assert counts["excluded"] == {"opted_out": 10, "no_address": 0}
    assert counts["opt_out_filter_applied"] is True
    # The opt-outs are on sms: the same people on WhatsApp are not excluded.
    assert (await _audience(client, tenant, group_id, channel="whatsapp"))["eligible"] == 1000


async def test_members_without_an_address_on_the_channel(client, tenant):
    group_id = await _group(tenant)
    phones = await _members(tenant, group_id, 3)
    emails_only = await _members(tenant, group_id, 2, with_phone=False)
    await _opt_out(tenant, emails_only[0]["email"], channel="email")

    sms, _ = await _listed(client, tenant, group_id, channel="sms")
    assert sms == [contact["id"] for contact in phones]
    email, _ = await _listed(client, tenant, group_id, channel="email", exclude_opted_out="true")
    assert email == [emails_only[1]["id"]]
    counts = await _audience(client, tenant, group_id, channel="email")
    assert counts == {
        **counts,
        "members": 5,
        "eligible": 1,
        "excluded": {"opted_out": 1, "no_address": 3},
    }


async def test_sender_scoped_entry_excludes_only_for_that_sender_or_when_no_sender_is_given(client, tenant):
    group_id = await _group(tenant)
    contact = (await _members(tenant, group_id, 1))[0]
    shop, promo = await _sender(tenant, "Shop"), await _sender(tenant, "Promo")
    await _opt_out(tenant, contact["phone"], sender=shop, source="keyword")

    async def excluded(**params) -> bool:
        ids, _ = await _listed(client, tenant, group_id, channel="sms", exclude_opted_out="true", **params)
        counts = await _audience(client, tenant, group_id, channel="sms", **params)
        assert counts["eligible"] == len(ids)
        return ids == []

    assert await excluded(sender_id=shop)
    assert not await excluded(sender_id=promo)
    assert await excluded()  # unknown sender: every entry counts


async def test_expired_and_revoked_entries_do_not_exclude(client, tenant):
    group_id = await _group(tenant)
    expired, revoked, future, permanent = await _members(tenant, group_id, 4)
    await _opt_out(tenant, expired["phone"], valid_until=NOW - timedelta(minutes=1))
    await _opt_out(tenant, revoked["phone"], revoked_at=NOW - timedelta(days=1))
    await _opt_out(tenant, future["phone"], valid_until=NOW + timedelta(days=30))
    await _opt_out(tenant, permanent["phone"])

    ids, _ = await _listed(client, tenant, group_id, channel="sms", exclude_opted_out="true")
    assert ids == [expired["id"], revoked["id"]]


async def test_category_rules(client, tenant):
    group_id = await _group(tenant)
    news, deals = await _category(tenant, "News"), await _category(tenant, "Deals")
    only_news, all_marketing = await _members(tenant, group_id, 2)
    await _opt_out(tenant, only_news["phone"], category=news)
    await _opt_out(tenant, all_marketing["phone"])

    async def eligible(**params) -> list[int]:
        ids, _ = await _listed(client, tenant, group_id, channel="sms", exclude_opted_out="true", **params)
        return ids

    assert await eligible(category_id=news) == []
    assert await eligible(category_id=deals) == [only_news["id"]]
    # A message without a category counts as all marketing: any category's opt-out blocks it.
    assert await eligible() == []


async def test_opted_in_only_false_still_honours_the_persons_own_opt_outs(client, tenant):
    group_id = await _group(tenant)
    by_admin, by_import, by_keyword, by_form, by_link = await _members(tenant, group_id, 5)
    await _opt_out(tenant, by_admin["phone"], source="manual")
    await _opt_out(tenant, by_import["phone"], source="import")
    await _opt_out(tenant, by_keyword["phone"], source="keyword")
    await _opt_out(tenant, by_form["phone"], source="web_form")
    await _opt_out(tenant, by_link["phone"], source="unsubscribe_link")

    strict, _ = await _listed(client, tenant, group_id, channel="sms", exclude_opted_out="true")
    assert strict == []
    relaxed, _ = await _listed(
        client, tenant, group_id, channel="sms", exclude_opted_out="true", opted_in_only="false"
    )
    assert relaxed == [by_admin["id"], by_import["id"]]
    counts = await _audience(client, tenant, group_id, channel="sms", opted_in_only="false")
    assert counts["eligible"] == 2 and counts["excluded"]["opted_out"] == 3


async def test_a_bypass_group_lists_everyone_and_says_so(client, tenant):
    group_id = await _group(tenant, "Order updates", bypass=True)
    contacts = await _members(tenant, group_id, 3)
    await _opt_out(tenant, contacts[0]["phone"], source="keyword")

    ids, page = await _listed(client, tenant, group_id, channel="sms", exclude_opted_out="true")
    assert ids == [contact["id"] for contact in contacts]
    assert page["opt_out_filter_applied"] is False
    counts = await _audience(client, tenant, group_id, channel="sms")
    assert counts["eligible"] == 3 and counts["opt_out_filter_applied"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"exclude_opted_out": "true"}, "channel"),
        ({"channel": "fax"}, "channel"),
        ({"channel": "sms", "exclude_opted_out": "true", "sender_id": 999999}, "sender_id"),
        ({"channel": "sms", "exclude_opted_out": "true", "category_id": 999999}, "category_id"),
    ],
)
async def test_filter_parameters_are_checked(client, tenant, params, field):
    group_id = await _group(tenant)
    response = await client.get(f"/api/v1/groups/{group_id}/members", params=params, headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]


async def test_a_sender_or_category_of_another_workspace_is_refused(client, make_tenant):
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    group_id = await _group(acme)
    their_sender, their_category = await _sender(globex, "Theirs"), await _category(globex, "Theirs")
    email_sender = await _sender(acme, "Mail", channel="email")
    for params, field in (
        ({"sender_id": their_sender}, "sender_id"),
        ({"category_id": their_category}, "category_id"),
        ({"sender_id": email_sender}, "sender_id"),
    ):
        response = await client.get(
            f"/api/v1/groups/{group_id}/audience", params={"channel": "sms", **params}, headers=acme.headers()
        )
        assert response.status_code == 400, params
        assert response.json()["errors"][0]["field"] == field
    missing = await client.get(f"/api/v1/groups/{group_id}/audience", headers=acme.headers())
    assert missing.status_code == 400 and "channel" in missing.json()["detail"]


async def test_the_listing_agrees_with_the_gates_rule_for_every_entry(client, tenant):
    """Random entries, every target: the SQL anti-join excludes exactly whom ``entry_blocks`` blocks."""
    from backend.consent.rules import Target, entry_blocks

    rng = random.Random(20261122)
    group_id = await _group(tenant)
    contacts = await _members(tenant, group_id, 60)
    senders = [await _sender(tenant, "A"), await _sender(tenant, "B")]
    categories = [await _category(tenant, "X"), await _category(tenant, "Y")]
    for contact in contacts:
        for _ in range(rng.randint(0, 2)):
            source = rng.choice(["manual", "import", "keyword", "web_form"])
            await _opt_out(
                tenant,
                contact["phone"],
                channel=rng.choice(["sms", "sms", "whatsapp"]),
                sender=rng.choice([None, *senders]),
                category=rng.choice([None, *categories]),
                valid_until=rng.choice([None, NOW - timedelta(hours=1), NOW + timedelta(days=3)]),
                revoked_at=rng.choice([None, None, None, NOW - timedelta(hours=2)]),
                source=source,
            )
    entries = await OptOutEntry.select().where(OptOutEntry.workspace == tenant.id)
    for sender_id in (None, *senders):
        for category_id in (None, *categories):
            for opted_in_only in (True, False):
                target = Target(tenant.id, "sms", sender_id, category_id, opted_in_only)
                expected = [
                    contact["id"]
                    for contact in contacts
                    if not any(
                        entry_blocks(entry, target, contact["phone"], datetime.now(UTC)) for entry in entries
                    )
                ]
                params = {"opted_in_only": str(opted_in_only).lower()}
                if sender_id is not None:
                    params["sender_id"] = sender_id
                if category_id is not None:
                    params["category_id"] = category_id
                ids, _ = await _listed(
                    client, tenant, group_id, channel="sms", exclude_opted_out="true", **params
                )
                assert ids == expected, params
                counts = await _audience(client, tenant, group_id, channel="sms", **params)
                assert counts["eligible"] == len(expected), params
