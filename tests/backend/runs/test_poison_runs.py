"""A run whose step fails on every attempt ends ``failed`` instead of being re-driven for ever (issue 14).

One bad run no longer rolls back its batch: its batch-mates are stepped without it, its failures are
counted on the run (``failures``, ``last_error``), the sweeper drives it again, and after
:data:`poison.MAX_FAILURES` attempts it ends ``failed`` (``step_error``), shown by the runs API and
counted among the campaign's ``failed_runs``. Real worker on real Redis; the data is damaged in the
database the way a bad write or another version of Flowgate would leave it.
"""

from __future__ import annotations

import contextlib
import sqlite3

import asyncpg
import msgspec
import redis.exceptions

from backend.campaigns.stats import truth
from backend.inbound.tables import InboundEvent
from backend.runs import inbox, poison, service
from backend.runs.tables import Run, RunEvent
from tests.backend.campaigns.helpers import (
    campaign_messages,
    create_campaign,
    group_of,
    phone,
    sandbox_sender,
    start_and_work,
    work,
)
from tests.backend.runs.helpers import (
    edge,
    events_of,
    flow_graph,
    inbound,
    message,
    node,
    publish,
    queue_for,
    run_row,
    runs_of,
    soon,
    started,
    timers_of,
)


def delayed_graph() -> dict:
    return flow_graph(
        [
            node("start", "start", trigger="manual"),
            message("hello", "Hello"),
            node("delay", "pause", seconds=3600),
            message("later", "An hour later"),
            node("end", "end"),
        ],
        [edge("start", "hello"), edge("hello", "pause"), edge("pause", "later"), edge("later", "end")],
    )


def question_graph() -> dict:
    return flow_graph(
        [
            node("start", "start", trigger="api"),
            message("ask", "Which size do you wear?", "transactional"),
            node("wait_for_reply", "answer", timeout=600, save_as="size"),
            message("thanks", "Noted: {{vars.size}}", "transactional"),
            node("end", "end"),
        ],
        [
            edge("start", "ask"),
            edge("ask", "answer"),
            edge("answer", "thanks", "reply"),
            edge("answer", "end", "timeout"),
            edge("thanks", "end"),
        ],
    )


async def sweep_and_work(redis_url: str, minutes: float) -> dict[str, int]:
    """One sweeper pass as if ``minutes`` had passed (with the campaigns plugged in, as in the worker that
    runs it), then everything it enqueued."""
    from backend.campaigns import tasks as campaign_tasks

    async with queue_for(redis_url) as queue, contextlib.AsyncExitStack() as stack:
        campaign_tasks.install(queue, stack)
        swept = await service.sweep(queue, now=soon(minutes=minutes))
    await work(redis_url)
    return swept


async def contact_runs(client, tenant, contact_id: int) -> list[dict]:
    response = await client.get(f"/api/v1/contacts/{contact_id}/runs", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_a_poisoned_run_lets_its_batch_go_on_and_ends_failed_after_bounded_attempts(
    client, tenant, redis_url
):
    flow = await publish(client, tenant, delayed_graph())
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 3)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    await start_and_work(redis_url, campaign)
    run_ids = sorted([row["id"] for cid in group["contact_ids"] for row in await runs_of(cid)])
    assert len(run_ids) == 3
    moved = await inbox.fire_due_timers(now=soon(minutes=61))
    assert moved == run_ids
    poisoned = run_ids[1]
    # The timer event of one run no longer decodes: no retry can make it readable.
    await RunEvent.update({RunEvent.event: '{"kind": "timer", "timer_id": '}).where(RunEvent.run == poisoned)

    async with queue_for(redis_url) as queue:
        await service.enqueue_drive(queue, moved)  # one batch of three, as the timer ticker enqueues it
    await work(redis_url)

    later = [m for m in await campaign_messages(campaign["id"]) if m["text"] == "An hour later"]
    assert sorted(int(m["run_id"]) for m in later) == [run_ids[0], run_ids[2]]  # its batch-mates moved on
    for run_id in (run_ids[0], run_ids[2]):
        row = await run_row(run_id)
        assert (row["status"], row["failures"], row["last_error"]) == ("completed", 0, "")
    row = await run_row(poisoned)
    assert (row["status"], row["failures"]) == ("waiting", 1)
    assert row["last_error"].startswith("DecodeError")
    assert [e["status"] for e in await events_of(poisoned)] == ["pending"]

    for attempt in range(2, poison.MAX_FAILURES + 1):  # the timer fired (its event was stored) at +61 min
        swept = await sweep_and_work(redis_url, minutes=61 + 5 * attempt)
        assert swept["driven"] == 1
        assert (await run_row(poisoned))["failures"] == attempt

    row = await run_row(poisoned)
    assert (row["status"], row["ended_reason"]) == ("failed", "step_error")
    assert row["ended_at"] is not None and row["waiting_kind"] is None
    assert [e["status"] for e in await events_of(poisoned)] == ["ignored"]
    assert await timers_of(poisoned) == []
    assert (await sweep_and_work(redis_url, minutes=120))["driven"] == 0  # nothing drives it any more

    [shown] = await contact_runs(client, tenant, row["contact"])
    assert (shown["status"], shown["ended_reason"], shown["failures"]) == ("failed", "step_error", 5)
    assert shown["last_error"].startswith("DecodeError") and shown["waiting"] is None

    stats = await client.get(f"/api/v1/campaigns/{campaign['id']}/stats", headers=tenant.headers())
    assert stats.status_code == 200, stats.text
    totals = stats.json()["totals"]
    assert (totals["failed_runs"], totals["completed"], totals["waiting"]) == (1, 2, 0)
    expected = await truth(campaign["id"])
    assert {key: totals.get(key, 0) for key in expected} == expected
    assert stats.json()["nodes"]["pause"]["waiting"] == 0

    report = await client.get(f"/api/v1/campaigns/{campaign['id']}/report", headers=tenant.headers())
    assert report.status_code == 200, report.text
    by_run = {item["run_id"]: item for item in report.json()["items"]}
    assert (by_run[poisoned]["run_status"], by_run[poisoned]["ended_reason"]) == ("failed", "step_error")


async def test_a_run_whose_state_does_not_decode_ends_failed_and_its_reply_is_still_processed(
    client, tenant, redis_url
):
    flow = await publish(client, tenant, question_graph())
    sender = await sandbox_sender(client, tenant)
    run = await started(client, tenant, flow["id"], sender["id"], to=phone(1))
    assert run["status"] == "waiting" and run["failures"] == 0 and run["last_error"] == ""
    await Run.update({Run.state: '{"status": "waiting", "vars": '}).where(Run.id == run["id"])

    await inbound(client, tenant, sender["id"], phone(1), text="M")
    await work(redis_url)

    # The reply was stored and handed over: the inbound event is done, the run's failure is the run's.
    [event] = await InboundEvent.select(InboundEvent.state).where(InboundEvent.sender == sender["id"])
    assert event["state"] == "processed"
    row = await Run.select().where(Run.id == run["id"]).first()  # run_row would decode the state
    assert (row["status"], row["failures"]) == ("waiting", 1)
    [shown] = await contact_runs(client, tenant, run["contact_id"])  # listed despite the unreadable state
    assert (shown["status"], shown["failures"], shown["variables"]) == ("waiting", 1, {})

    for attempt in range(2, poison.MAX_FAILURES + 1):
        await sweep_and_work(redis_url, minutes=5 * attempt)
    [shown] = await contact_runs(client, tenant, run["contact_id"])
    assert (shown["status"], shown["ended_reason"], shown["failures"]) == ("failed", "step_error", 5)
    assert shown["last_error"].startswith("DecodeError") and shown["ended_at"] is not None


def test_a_busy_or_lost_database_is_transient_and_bad_data_is_not():
    transient = [
        sqlite3.OperationalError("database is locked"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.InterfaceError("connection is closed"),
        ConnectionResetError("reset by peer"),
        TimeoutError(),
        redis.exceptions.ConnectionError("Connection refused"),
    ]
    for exc in transient:
        assert poison.is_transient(exc), exc
    wrapped = RuntimeError("while stepping")
    wrapped.__cause__ = sqlite3.OperationalError("database is locked")
    assert poison.is_transient(wrapped)

    poisonous = [
        msgspec.DecodeError("JSON is malformed"),
        msgspec.ValidationError("Expected `str`, got `int`"),
        KeyError("node"),
        sqlite3.IntegrityError("NOT NULL constraint failed: messages.address"),
        asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape sequence"),
        asyncpg.exceptions.NotNullViolationError("null value in column"),
        asyncpg.exceptions._base.DataError("invalid input for query argument $1"),
    ]
    for exc in poisonous:
        assert not poison.is_transient(exc), exc
