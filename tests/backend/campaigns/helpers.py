"""What the campaign tests stand on: a published flow, a group of contacts (some opted out), a sandbox
sender, a campaign through the API, and the scheduler and worker driven on a controlled clock."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.backend.senders.helpers import body

START = "start"

TWO_STEP: dict[str, Any] = {
    "format_version": 1,
    "nodes": [
        {"kind": "start", "id": "start", "trigger": "manual"},
        {
            "kind": "send_message",
            "id": "offer",
            "text": "Hi {{contact.name | 'there'}}, 20% off this week. Interested?",
            "buttons": [{"id": "yes", "title": "Yes please"}, {"id": "no", "title": "No thanks"}],
            "message_kind": "marketing",
            "reply_timeout": 3600,
        },
        {
            "kind": "send_message",
            "id": "follow_up",
            "text": "Here is your code: SAVE20",
            "message_kind": "marketing",
        },
        {"kind": "end", "id": "done"},
        {"kind": "end", "id": "no_reply"},
        {"kind": "end", "id": "declined"},
    ],
    "edges": [
        {"source": "start", "target": "offer"},
        {"source": "offer", "source_port": "button:yes", "target": "follow_up"},
        {"source": "offer", "source_port": "button:no", "target": "declined"},
        {"source": "offer", "source_port": "next", "target": "no_reply"},
        {"source": "follow_up", "target": "done"},
    ],
}
"""A message with buttons, and a follow-up for those who tap "Yes please" (the issue's "done when")."""

ONE_MESSAGE: dict[str, Any] = {
    "format_version": 1,
    "nodes": [
        {"kind": "start", "id": "start", "trigger": "manual"},
        {
            "kind": "send_message",
            "id": "hello",
            "text": "Hello {{contact.name}}",
            "message_kind": "marketing",
        },
        {"kind": "end", "id": "done"},
    ],
    "edges": [{"source": "start", "target": "hello"}, {"source": "hello", "target": "done"}],
}


def graph(base: dict[str, Any], **start: Any) -> dict[str, Any]:
    result = copy.deepcopy(base)
    result["nodes"][0].update(start)
    return result


async def published_flow(
    client, tenant, flow_graph: dict[str, Any] | None = None, name: str = "Offer"
) -> dict:
    created = await client.post(
        "/api/v1/flows", json={"name": name, "graph": flow_graph or TWO_STEP}, headers=tenant.headers()
    )
    assert created.status_code == 201, created.text
    flow = created.json()
    published = await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    assert published.status_code in (200, 201), published.text
    return flow


async def sandbox_sender(client, tenant, channel: str = "whatsapp", **changes: Any) -> dict:
    response = await client.post(
        "/api/v1/senders",
        json=body("sandbox", **{"channel": channel, "name": f"Sandbox {channel}", **changes}),
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    return response.json()


def phone(i: int) -> str:
    return f"+35191{i:07d}"


async def group_of(
    tenant_id: int,
    size: int,
    *,
    name: str = "Customers",
    opted_out: int = 0,
    source: str = "keyword",
    channel: str = "whatsapp",
    bypass: bool = False,
    first: int = 0,
) -> dict[str, Any]:
    """A group of ``size`` contacts with phones; the first ``opted_out`` of them opted out (``source``)."""
    from backend.audience.tables import Contact, Group, GroupMember
    from backend.consent.service import record_opt_out

    group = (
        await Group.insert(Group(workspace=tenant_id, name=name, bypass_opt_out_filter=bypass)).returning(
            Group.id
        )
    )[0]
    rows = [
        Contact(workspace=tenant_id, phone=phone(first + i), name=f"Contact {first + i}") for i in range(size)
    ]
    contact_ids: list[int] = []
    for start in range(0, len(rows), 1000):
        inserted = await Contact.insert(*rows[start : start + 1000]).returning(Contact.id)
        contact_ids += [row["id"] for row in inserted]
    members = [GroupMember(workspace=tenant_id, group=group["id"], contact=cid) for cid in contact_ids]
    for start in range(0, len(members), 1000):
        await GroupMember.insert(*members[start : start + 1000])
    for i in range(opted_out):
        await record_opt_out(
            tenant_id, channel=channel, address=phone(first + i), source=source, actor="test"
        )
    return {"id": group["id"], "contact_ids": contact_ids}


def campaign_body(flow_id: int, group_id: int, sender_id: int, **fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    result = {
        "name": "Spring offer",
        "description": "20% off for our customers",
        "flow_id": flow_id,
        "group_id": group_id,
        "sender_id": sender_id,
        "kind": "marketing",
        "start_at": (now + timedelta(minutes=5)).isoformat(),
        "end_at": (now + timedelta(days=7)).isoformat(),
        "every": {"unit": "day", "count": 1},
    }
    result.update(fields)
    return result


async def create_campaign(client, tenant, flow_id: int, group_id: int, sender_id: int, **fields: Any) -> dict:
    response = await client.post(
        "/api/v1/campaigns",
        json=campaign_body(flow_id, group_id, sender_id, **fields),
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    return response.json()


def at(iso: str, **delta: float) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")) + timedelta(**delta)


async def tick(redis_url: str, now: datetime) -> dict[str, int]:
    """One scheduler pass at ``now`` (the controlled clock)."""
    from backend.campaigns import scheduler
    from backend.core.queue import connect_queue

    queue = await connect_queue(redis_url)
    try:
        return await scheduler.tick(queue, now)
    finally:
        await queue.aclose()


async def work(redis_url: str) -> None:
    """Every queued job, in this process (burst: triggers, runs, sends), with no tickers."""
    from backend.worker import build_worker

    worker = build_worker(redis_url, burst=True)
    try:
        await worker.main()
    finally:
        await worker.close()


async def start_and_work(redis_url: str, campaign: dict[str, Any]) -> None:
    """Start the campaign (its first trigger fires) and run everything that follows."""
    await tick(redis_url, at(campaign["start_at"], seconds=1))
    await work(redis_url)


async def campaign_messages(campaign_id: int) -> list[dict[str, Any]]:
    from backend.messages.tables import Message

    return (
        await Message.select()
        .where(Message.campaign_id == campaign_id)
        .order_by(Message.id)
        .output(load_json=True)
    )


async def tap(client, tenant, sender_id: int, message: dict[str, Any], button_id: str):
    response = await client.post(
        f"/api/v1/senders/{sender_id}/sandbox/inbound",
        json={"from": message["address"], "button_id": button_id, "in_reply_to": message["id"]},
        headers=tenant.headers(),
    )
    assert response.status_code in (200, 201, 202), response.text
    return response.json()


async def add_members(
    tenant_id: int, group_id: int, count: int, *, first: int, with_phone: bool = True
) -> list[int]:
    """``count`` new contacts (phones ``phone(first + i)``, or email only) added to an existing group."""
    from backend.audience.tables import Contact, GroupMember

    rows = [
        Contact(
            workspace=tenant_id,
            phone=phone(first + i) if with_phone else None,
            email=None if with_phone else f"contact{first + i}@example.com",
            name=f"Contact {first + i}",
        )
        for i in range(count)
    ]
    inserted = await Contact.insert(*rows).returning(Contact.id)
    contact_ids = [row["id"] for row in inserted]
    await GroupMember.insert(
        *[GroupMember(workspace=tenant_id, group=group_id, contact=cid) for cid in contact_ids]
    )
    return contact_ids


async def opt_out(tenant_id: int, indexes: range | list[int], source: str, channel: str = "whatsapp") -> None:
    """Opt out the phones ``phone(i)`` for ``i`` in ``indexes``, workspace-wide, all marketing, by ``source``."""
    from backend.consent.service import record_opt_out

    for i in indexes:
        await record_opt_out(tenant_id, channel=channel, address=phone(i), source=source, actor="test")


async def work_without_sending(redis_url: str) -> None:
    """Like :func:`work`, but the send jobs are not run (as if they had not got their turn yet): the
    campaign's messages stay ``queued`` in the database."""
    from backend.messages.service import SEND_FUNCTION
    from backend.worker import FUNCTIONS, build_worker

    functions = [f for f in FUNCTIONS if (getattr(f, "name", None) or f.__name__) != SEND_FUNCTION]
    worker = build_worker(redis_url, burst=True, functions=functions)
    try:
        await worker.main()
    finally:
        await worker.close()


async def requeue_queued(redis_url: str) -> int:
    """The reconciler's pass over queued messages, without its minute's wait: every queued message is
    enqueued again for sending (what happens when their jobs were lost). How many."""
    from backend.core.queue import connect_queue
    from backend.messages.reconcile import requeue_lost

    queue = await connect_queue(redis_url)
    try:
        return await requeue_lost(queue, datetime.now(UTC), stale_after=timedelta(0))
    finally:
        await queue.aclose()
