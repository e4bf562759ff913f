"""What the flow-run tests stand on: small flow graphs, API starts, sandbox replies and direct looks at
the runs' tables (runs, their inbox and their timers) and at the messages they sent."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.backend.campaigns.helpers import published_flow

PHONE = "+351910000001"


def node(kind: str, node_id: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "id": node_id, **fields}


def edge(source: str, target: str, port: str = "next") -> dict[str, Any]:
    return {"source": source, "source_port": port, "target": target}


def flow_graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format_version": 1, "nodes": nodes, "edges": edges}


def message(node_id: str, text: str, kind: str = "marketing", **fields: Any) -> dict[str, Any]:
    return node("send_message", node_id, text=text, message_kind=kind, **fields)


def buttons(*ids: str) -> list[dict[str, str]]:
    return [{"id": button_id, "title": button_id.capitalize()} for button_id in ids]


def offer_graph(trigger: str = "manual", kind: str = "marketing", prefix: str = "") -> dict[str, Any]:
    """start → offer (buttons yes/no) · yes → code · no → bye · anything else or the timeout → other."""
    return flow_graph(
        [
            node("start", "start", trigger=trigger),
            message(
                "offer", f"{prefix}Want 20% off?", kind, buttons=buttons("yes", "no"), reply_timeout=3600
            ),
            message("code", f"{prefix}Your code: SAVE20", kind),
            message("bye", f"{prefix}No problem", kind),
            message("other", f"{prefix}We did not get that", kind),
            node("end", "done"),
        ],
        [
            edge("start", "offer"),
            edge("offer", "code", "button:yes"),
            edge("offer", "bye", "button:no"),
            edge("offer", "other"),
            edge("code", "done"),
            edge("bye", "done"),
            edge("other", "done"),
        ],
    )


async def publish(client, tenant, graph: dict[str, Any], name: str = "Flow") -> dict[str, Any]:
    return await published_flow(client, tenant, graph, name=name)


async def create_contact(client, tenant, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/contacts", json=fields, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()


async def start_api_run(client, tenant, flow_id: int, sender_id: int, **fields: Any):
    """POST /api/v1/flows/{id}/runs; the raw response."""
    return await client.post(
        f"/api/v1/flows/{flow_id}/runs", json={"sender_id": sender_id, **fields}, headers=tenant.headers()
    )


async def started(client, tenant, flow_id: int, sender_id: int, **fields: Any) -> dict[str, Any]:
    response = await start_api_run(client, tenant, flow_id, sender_id, **fields)
    assert response.status_code == 201, response.text
    return response.json()


async def inbound(client, tenant, sender_id: int, sender_from: str, **fields: Any) -> dict[str, Any]:
    """A contact's message through the sandbox sender: ``text`` or ``button_id`` (+ ``in_reply_to``, ``id``)."""
    response = await client.post(
        f"/api/v1/senders/{sender_id}/sandbox/inbound",
        json={"from": sender_from, **fields},
        headers=tenant.headers(),
    )
    assert response.status_code in (200, 201, 202), response.text
    return response.json()


async def patch_settings(client, tenant, **fields: Any) -> dict[str, Any]:
    response = await client.patch("/api/v1/settings", json=fields, headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()


@contextlib.asynccontextmanager
async def queue_for(redis_url: str) -> AsyncIterator[Any]:
    from backend.core.queue import connect_queue

    queue = await connect_queue(redis_url)
    try:
        yield queue
    finally:
        await queue.aclose()


# --- looking at what happened --------------------------------------------------------------------------


async def run_row(run_id: int) -> dict[str, Any]:
    from backend.runs.flows import decode_state
    from backend.runs.tables import Run

    row = await Run.select().where(Run.id == run_id).first()
    assert row is not None, f"no run {run_id}"
    row["decoded"] = decode_state(row["state"])
    return row


def ports(row: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The path a run took: (node, port it left through)."""
    state = row["decoded"]
    return [(entry.node_id, entry.port) for entry in state.path] if state is not None else []


async def runs_of(contact_id: int) -> list[dict[str, Any]]:
    from backend.runs.tables import Run

    return await Run.select().where(Run.contact == contact_id).order_by(Run.id)


async def campaign_run(campaign_id: int) -> dict[str, Any]:
    from backend.runs.tables import Run

    rows = await Run.select(Run.id).where(Run.campaign_id == campaign_id)
    assert len(rows) == 1, rows
    return await run_row(rows[0]["id"])


async def events_of(run_id: int) -> list[dict[str, Any]]:
    from backend.runs.tables import RunEvent

    return await RunEvent.select().where(RunEvent.run == run_id).order_by(RunEvent.id)


async def timers_of(run_id: int) -> list[dict[str, Any]]:
    from backend.runs.tables import RunTimer

    return await RunTimer.select().where(RunTimer.run == run_id).order_by(RunTimer.id)


async def outbound_of(contact_id: int) -> list[dict[str, Any]]:
    from backend.messages.tables import Message

    return (
        await Message.select()
        .where((Message.contact == contact_id) & (Message.direction == "outbound"))
        .order_by(Message.id)
        .output(load_json=True)
    )


async def inbound_of(contact_id: int) -> list[dict[str, Any]]:
    from backend.messages.tables import Message

    return (
        await Message.select()
        .where((Message.contact == contact_id) & (Message.direction == "inbound"))
        .order_by(Message.id)
    )


async def opt_outs(address: str) -> list[dict[str, Any]]:
    from backend.consent.tables import OptOutEntry

    return await OptOutEntry.select().where(OptOutEntry.address == address).order_by(OptOutEntry.id)


def soon(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


def close_to(actual: datetime, expected: datetime, seconds: float = 120) -> bool:
    return abs((actual - expected).total_seconds()) <= seconds


TWICE_ENCODED = '"{\\"tier\\": \\"gold\\"}"'
"""Contact attributes as a writer that JSON-encoded them twice leaves them: a JSON string holding JSON."""


async def damage_attributes(contact_id: int) -> None:
    """Store the contact's attributes encoded twice, as a bad write would (the run that starts with them
    fails: backend/runs/engine.py ``snapshot_of``)."""
    from backend.audience.tables import Contact

    await Contact.raw('UPDATE "contacts" SET attributes = {} WHERE id = {}', TWICE_ENCODED, contact_id)
