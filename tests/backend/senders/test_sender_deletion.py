"""Removing a sender (or moving it to another number) never frees anyone who opted out of it.

The opt-out rows are inserted directly, as the consent services will write them, so these tests do
not depend on the opt-out API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.consent.rules import Target, entry_blocks
from backend.consent.tables import OptOutEntry
from tests.backend.senders.helpers import create_sender

PERSON = "+351934567890"


async def _opt_out(workspace_id: int, sender_id: int | None, address: str = PERSON, **extra) -> int:
    row = await OptOutEntry.insert(
        OptOutEntry(
            workspace=workspace_id,
            channel="sms",
            address=address,
            sender=sender_id,
            source="keyword",
            self_service=True,
            created_by="test",
            updated_at=datetime.now(UTC) - timedelta(days=1),
            **extra,
        )
    ).returning(OptOutEntry.id)
    return row[0]["id"]


async def _entry(entry_id: int) -> dict | None:
    return await OptOutEntry.select().where(OptOutEntry.id == entry_id).first()


async def test_deleting_a_sender_makes_its_opt_outs_workspace_wide(client, tenant):
    sender = await create_sender(client, tenant, "sandbox")
    other = await create_sender(client, tenant, "sandbox", address="+351912345679")
    active = await _opt_out(tenant.id, sender["id"])
    revoked = await _opt_out(tenant.id, sender["id"], address="+351934567891", revoked_at=datetime.now(UTC))
    on_other = await _opt_out(tenant.id, other["id"], address="+351934567892")
    everywhere = await _opt_out(tenant.id, None, address="+351934567893")

    response = await client.delete(f"/api/v1/senders/{sender['id']}", headers=tenant.headers())
    assert response.status_code == 204

    widened = await _entry(active)
    assert widened is not None, "the opt-out was lost with the sender"
    assert widened["sender"] is None
    assert widened["updated_at"] > datetime.now(UTC) - timedelta(minutes=1)
    assert (await _entry(revoked))["sender"] is None
    assert (await _entry(on_other))["sender"] == other["id"]
    assert (await _entry(everywhere))["sender"] is None
    event = (await client.get("/api/v1/audit-log?action=sender.deleted", headers=tenant.headers())).json()[
        "items"
    ][0]
    assert event["data"]["opt_outs_widened"] == 2


async def test_re_adding_a_deleted_number_still_cannot_market_to_who_opted_out(client, tenant):
    sender = await create_sender(client, tenant, "sandbox")
    entry_id = await _opt_out(tenant.id, sender["id"])
    await client.delete(f"/api/v1/senders/{sender['id']}", headers=tenant.headers())
    again = await create_sender(client, tenant, "sandbox")
    entry = await _entry(entry_id)
    target = Target(workspace_id=tenant.id, channel="sms", sender_id=again["id"])
    assert entry_blocks(entry, target, PERSON, datetime.now(UTC))


async def test_moving_a_sender_to_another_number_widens_its_opt_outs(client, tenant):
    sender = await create_sender(client, tenant, "sandbox")
    entry_id = await _opt_out(tenant.id, sender["id"])
    renamed = await client.patch(
        f"/api/v1/senders/{sender['id']}", json={"name": "Same number"}, headers=tenant.headers()
    )
    assert renamed.status_code == 200
    assert (await _entry(entry_id))["sender"] == sender["id"], "a rename keeps the scope"

    moved = await client.patch(
        f"/api/v1/senders/{sender['id']}", json={"address": "+351912345679"}, headers=tenant.headers()
    )
    assert moved.status_code == 200, moved.text
    assert (await _entry(entry_id))["sender"] is None
    event = (await client.get("/api/v1/audit-log?action=sender.updated", headers=tenant.headers())).json()[
        "items"
    ][-1]
    assert event["data"]["opt_outs_widened"] == 1
    assert event["data"]["changes"]["address"] == {"from": "+351912345670", "to": "+351912345679"}


async def test_a_refused_delete_widens_nothing(client, make_tenant):
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    sender = await create_sender(client, acme, "sandbox")
    entry_id = await _opt_out(acme.id, sender["id"])
    assert (
        await client.delete(f"/api/v1/senders/{sender['id']}", headers=globex.headers())
    ).status_code == 404
    assert (
        await client.delete(f"/api/v1/senders/{sender['id']}", headers=acme.headers("viewer"))
    ).status_code == 403
    assert (await _entry(entry_id))["sender"] == sender["id"]
