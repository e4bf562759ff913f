"""The batch consent gate used at dispatch agrees with the per-message gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.backend.messages.helpers import make_sender


async def test_blocked_addresses_agrees_with_may_send(client, tenant):
    from backend.consent import gate, rules, service
    from backend.consent.tables import OptOutEntry

    sender = await make_sender(client, tenant, "sandbox")
    other = await make_sender(client, tenant, "sandbox", address="+351912345671", name="Other")
    category = await client.post(
        "/api/v1/marketing-categories", json={"name": "Promos"}, headers=tenant.headers()
    )
    assert category.status_code == 201, category.text
    category_id = category.json()["id"]
    addresses = [f"+35191000000{i}" for i in range(6)]
    common = {"channel": "sms", "actor": "test"}
    await service.record_opt_out(tenant.id, address=addresses[0], source="keyword", **common)
    await service.record_opt_out(
        tenant.id, address=addresses[1], source="keyword", sender_id=sender["id"], **common
    )
    await service.record_opt_out(
        tenant.id, address=addresses[2], source="keyword", sender_id=other["id"], **common
    )
    await service.record_opt_out(
        tenant.id, address=addresses[3], source="manual", category_id=category_id, **common
    )
    expired = await service.record_opt_out(tenant.id, address=addresses[4], source="keyword", **common)
    await OptOutEntry.update({OptOutEntry.valid_until: datetime.now(UTC) - timedelta(days=1)}).where(
        OptOutEntry.id == expired.entry["id"]
    )
    now = datetime.now(UTC)
    for sender_id in (sender["id"], other["id"], None):
        for cat in (category_id, None):
            for opted_in_only in (True, False):
                target = rules.Target(tenant.id, "sms", sender_id, cat, opted_in_only)
                batch = await gate.blocked_addresses(target, addresses, now)
                for address in addresses:
                    one = await gate.may_send(
                        tenant.id,
                        channel="sms",
                        address=address,
                        kind="marketing",
                        sender_id=sender_id,
                        category_id=cat,
                        opted_in_only=opted_in_only,
                        now=now,
                    )
                    assert (address in batch) == (not one.allowed), (address, target)
                    if not one.allowed:
                        assert [e["id"] for e in batch[address]] == [e["id"] for e in one.entries]
    assert set(await gate.blocked_addresses(rules.Target(tenant.id, "sms"), addresses, now)) >= {
        addresses[0],
        addresses[1],
        addresses[2],
        addresses[3],
    }
