"""The campaign scheduler on a controlled clock (PRODUCT.md 7, seed 001): start and version pinning, the
execution plan, one catch-up after downtime, never two triggers at once, lost triggers revived, members
enrolled once (or again with re-entry), the end of a campaign, and suspend/resume.

The clock: :func:`did` runs one scheduler pass at a given moment; :func:`work` then runs every job it
queued (triggers, runs, sends) in a burst worker. Real services throughout, no mocks.
"""

from __future__ import annotations

import asyncio
import copy
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.backend.campaigns.helpers import (
    ONE_MESSAGE,
    TWO_STEP,
    add_members,
    at,
    campaign_messages,
    create_campaign,
    group_of,
    phone,
    published_flow,
    requeue_queued,
    sandbox_sender,
    tap,
    tick,
    work,
    work_without_sending,
)

NOTHING = (0, 0, 0)
"""(ended, started, fired) of a scheduler pass that did nothing."""
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
ON_SQLITE = not os.environ.get("FLOWGATE_TEST_DATABASE_URL", "").strip()


# --- helpers ----------------------------------------------------------------------------------------


async def did(redis_url: str, now: datetime) -> tuple[int, int, int]:
    """One scheduler pass at ``now``: how many campaigns it ended and started, how many triggers fired."""
    result = await tick(redis_url, now)
    return result["ended"], result["started"], result["fired"]


async def revive(redis_url: str, now: datetime) -> int:
    """The scheduler's repair pass at ``now``: how many stale triggers it enqueued again."""
    from backend.campaigns import scheduler
    from backend.core.queue import connect_queue

    queue = await connect_queue(redis_url)
    try:
        if hasattr(scheduler, "revive"):
            return (await scheduler.revive(queue, now))["triggers"]
        return await scheduler.revive_stale_triggers(queue, now)
    finally:
        await queue.aclose()


def moment(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else at(value)


def soon() -> datetime:
    """A start time the API accepts (later than now), on a whole second."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)


async def read(client, tenant, campaign_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/campaigns/{campaign_id}", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()


async def stats_of(client, tenant, campaign_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()


async def triggers_of(campaign_id: int) -> list[dict[str, Any]]:
    from backend.campaigns.tables import CampaignTrigger

    return (
        await CampaignTrigger.select()
        .where(CampaignTrigger.campaign == campaign_id)
        .order_by(CampaignTrigger.id)
    )


async def runs_of(campaign_id: int) -> list[dict[str, Any]]:
    from backend.runs.tables import Run

    return await Run.select().where(Run.campaign_id == campaign_id).order_by(Run.contact, Run.entry)


async def timers_of(campaign_id: int) -> list[dict[str, Any]]:
    from backend.runs.tables import RunTimer

    return await RunTimer.select().where(RunTimer.campaign_id == campaign_id)


async def version_id(flow_id: int, number: int) -> int:
    from backend.flows.tables import FlowVersion

    row = (
        await FlowVersion.select(FlowVersion.id)
        .where((FlowVersion.flow == flow_id) & (FlowVersion.number == number))
        .first()
    )
    assert row is not None
    return row["id"]


async def publish_graph(client, tenant, flow_id: int, graph: dict[str, Any]) -> int:
    """Save ``graph`` as the flow's draft and publish it; the new version's number."""
    current = (await client.get(f"/api/v1/flows/{flow_id}", headers=tenant.headers())).json()
    saved = await client.put(
        f"/api/v1/flows/{flow_id}",
        json={"graph": graph, "revision": current["revision"]},
        headers=tenant.headers(),
    )
    assert saved.status_code == 200, saved.text
    published = await client.post(f"/api/v1/flows/{flow_id}/publish", headers=tenant.headers())
    assert published.status_code == 201, published.text
    return published.json()["version"]


def saying(text: str) -> dict[str, Any]:
    """ONE_MESSAGE with another text."""
    graph = copy.deepcopy(ONE_MESSAGE)
    graph["nodes"][1]["text"] = text
    return graph


async def new_campaign(
    client,
    tenant,
    flow_graph: dict[str, Any],
    group_size: int,
    *,
    every: tuple[str, int] = ("hour", 1),
    period: timedelta = timedelta(days=7),
    **fields: Any,
):
    """A published flow, a sandbox sender, a group and a campaign starting at :func:`soon` for ``period``."""
    flow = await published_flow(client, tenant, flow_graph)
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, group_size)
    start = soon()
    campaign = await create_campaign(
        client,
        tenant,
        flow["id"],
        group["id"],
        sender["id"],
        start_at=start.isoformat(),
        end_at=(start + period).isoformat(),
        every={"unit": every[0], "count": every[1]},
        **fields,
    )
    assert moment(campaign["start_at"]) == start
    return flow, sender, group, campaign, start


def addresses(messages: list[dict[str, Any]]) -> list[str]:
    return sorted(message["address"] for message in messages)


# --- start and the pinned version -------------------------------------------------------------------


async def test_a_campaign_starts_at_its_start_time_on_the_latest_published_version(client, tenant, redis_url):
    flow = await published_flow(client, tenant, ONE_MESSAGE)
    assert await publish_graph(client, tenant, flow["id"], saying("Version two for {{contact.name}}")) == 2
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 3)
    start = soon()
    campaign = await create_campaign(
        client,
        tenant,
        flow["id"],
        group["id"],
        sender["id"],
        start_at=start.isoformat(),
        every={"unit": "hour", "count": 1},
    )
    assert (campaign["status"], campaign["flow_version"]) == ("scheduled", None)

    assert await did(redis_url, start - timedelta(seconds=1)) == NOTHING
    await work(redis_url)
    before = await read(client, tenant, campaign["id"])
    assert (before["status"], before["triggers_fired"], before["started_at"]) == ("scheduled", 0, None)
    assert await triggers_of(campaign["id"]) == []
    assert await campaign_messages(campaign["id"]) == []

    assert await did(redis_url, start) == (0, 1, 1)
    running = await read(client, tenant, campaign["id"])
    assert running["status"] == "running"
    assert running["flow_version"] == 2
    assert moment(running["started_at"]) == start
    assert moment(running["last_trigger_at"]) == start
    assert moment(running["next_trigger_at"]) == start + HOUR
    assert running["triggers_fired"] == 1

    # A newer version published after the start changes neither the campaign nor its runs.
    assert await publish_graph(client, tenant, flow["id"], saying("Version three for {{contact.name}}")) == 3
    await work(redis_url)
    sent = await campaign_messages(campaign["id"])
    assert [m["text"] for m in sent] == [f"Version two for Contact {i}" for i in range(3)]
    assert (await read(client, tenant, campaign["id"]))["flow_version"] == 2

    # Members enrolled by a later trigger run the pinned version too.
    await add_members(tenant.id, group["id"], 2, first=100)
    assert await did(redis_url, start + HOUR) == (0, 0, 1)
    await work(redis_url)
    sent = await campaign_messages(campaign["id"])
    assert len(sent) == 5
    assert all(m["text"].startswith("Version two for ") for m in sent), [m["text"] for m in sent]
    v2 = await version_id(flow["id"], 2)
    runs = await runs_of(campaign["id"])
    assert len(runs) == 5
    assert {run["flow_version"] for run in runs} == {v2}
    assert (await read(client, tenant, campaign["id"]))["flow_version"] == 2


async def test_runs_finish_on_the_version_they_started_on(client, tenant, redis_url):
    """A run waiting in version 1 when version 2 is published finishes on version 1's graph."""
    flow, sender, _, campaign, start = await new_campaign(client, tenant, TWO_STEP, 2)
    await did(redis_url, start)
    await work(redis_url)
    changed = copy.deepcopy(TWO_STEP)
    changed["nodes"][2]["text"] = "A different code"
    assert await publish_graph(client, tenant, flow["id"], changed) == 2

    offers = await campaign_messages(campaign["id"])
    await tap(client, tenant, sender["id"], offers[0], "yes")
    await work(redis_url)
    after = await campaign_messages(campaign["id"])
    assert after[-1]["text"] == "Here is your code: SAVE20"
    assert (await read(client, tenant, campaign["id"]))["flow_version"] == 1


async def test_a_new_flow_never_runs_the_graph_of_a_deleted_flow(client, tenant, redis_url):
    """A worker that ran flow A keeps running flow B's campaign on flow B's graph after A was deleted."""
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 2)
    flow_a = await published_flow(client, tenant, saying("Old offer from flow A"), name="A")
    old = await create_campaign(client, tenant, flow_a["id"], group["id"], sender["id"])
    await did(redis_url, moment(old["start_at"]))
    await work(redis_url)
    assert {m["text"] for m in await campaign_messages(old["id"])} == {"Old offer from flow A"}
    assert (await client.post(f"/api/v1/campaigns/{old['id']}/suspend", headers=tenant.headers())).is_success
    assert (await client.delete(f"/api/v1/campaigns/{old['id']}", headers=tenant.headers())).is_success
    assert (await client.delete(f"/api/v1/flows/{flow_a['id']}", headers=tenant.headers())).is_success

    flow_b = await published_flow(client, tenant, saying("New offer from flow B"), name="B")
    campaign = await create_campaign(client, tenant, flow_b["id"], group["id"], sender["id"])
    await did(redis_url, moment(campaign["start_at"]))
    await work(redis_url)
    assert {m["text"] for m in await campaign_messages(campaign["id"])} == {"New offer from flow B"}


# --- the execution plan -----------------------------------------------------------------------------


@pytest.mark.parametrize(("unit", "count"), [("minute", 15), ("hour", 2)])
async def test_triggers_fire_every_n_units_inside_the_period(client, tenant, redis_url, unit, count):
    step = timedelta(minutes=count) if unit == "minute" else timedelta(hours=count)
    _, _, _, campaign, start = await new_campaign(
        client, tenant, ONE_MESSAGE, 2, every=(unit, count), period=4 * step
    )
    assert campaign["planned_triggers"] == 4

    fired_at: list[datetime] = []
    for offset in (
        timedelta(0),
        step / 2,
        step - timedelta(seconds=1),
        step,
        2 * step + timedelta(seconds=30),
        3 * step,
        4 * step - timedelta(seconds=1),
    ):
        now = start + offset
        ended, _, fired = await did(redis_url, now)
        assert ended == 0
        assert fired in (0, 1)
        if fired:
            fired_at.append(now)
        await work(redis_url)
    assert fired_at == [start, start + step, start + 2 * step + timedelta(seconds=30), start + 3 * step]

    triggers = await triggers_of(campaign["id"])
    assert [t["slot_at"] for t in triggers] == [start + k * step for k in range(4)]
    assert {t["status"] for t in triggers} == {"done"}
    current = await read(client, tenant, campaign["id"])
    assert current["status"] == "running"
    assert current["triggers_fired"] == 4
    assert current["next_trigger_at"] is None  # the next slot is the end: outside the period

    assert await did(redis_url, start + 4 * step) == (1, 0, 0)
    assert (await read(client, tenant, campaign["id"]))["status"] == "ended"
    assert len(await triggers_of(campaign["id"])) == 4
    # Each contact got the flow once: later triggers enroll no one already in it.
    assert len(await campaign_messages(campaign["id"])) == 2


@pytest.mark.parametrize("first_tick_late", [False, True], ids=["mid-campaign", "before-the-first-start"])
async def test_after_downtime_one_catch_up_trigger_fires_not_a_burst(
    client, tenant, redis_url, first_tick_late
):
    _, _, group, campaign, start = await new_campaign(client, tenant, ONE_MESSAGE, 3)
    if not first_tick_late:
        assert await did(redis_url, start) == (0, 1, 1)
        await work(redis_url)
        await add_members(tenant.id, group["id"], 1, first=100)

    late = start + 5.5 * HOUR
    assert await did(redis_url, late) == (0, 1 if first_tick_late else 0, 1)
    current = await read(client, tenant, campaign["id"])
    assert current["status"] == "running"
    assert moment(current["last_trigger_at"]) == start + 5 * HOUR
    assert moment(current["next_trigger_at"]) == start + 6 * HOUR  # the next slot after now
    triggers = await triggers_of(campaign["id"])
    assert len(triggers) == (1 if first_tick_late else 2)
    assert triggers[-1]["slot_at"] == start + 5 * HOUR
    assert current["triggers_fired"] == len(triggers)

    await work(redis_url)
    assert await did(redis_url, late + timedelta(seconds=10)) == NOTHING
    assert await did(redis_url, start + 6 * HOUR - timedelta(seconds=1)) == NOTHING
    assert await did(redis_url, start + 6 * HOUR) == (0, 0, 1)
    await work(redis_url)
    assert len(await triggers_of(campaign["id"])) == len(triggers) + 1
    messages = await campaign_messages(campaign["id"])
    expected = [phone(i) for i in range(3)] + ([] if first_tick_late else [phone(100)])
    assert addresses(messages) == sorted(expected)


# --- never two triggers at once ---------------------------------------------------------------------


async def test_two_concurrent_ticks_fire_one_trigger(client, tenant, redis_url, redis):
    from backend.campaigns import scheduler
    from backend.core.queue import connect_queue

    _, _, _, campaign, start = await new_campaign(client, tenant, ONE_MESSAGE, 4)

    async def concurrent_ticks(now: datetime) -> list[dict[str, int]]:
        queues = [await connect_queue(redis_url), await connect_queue(redis_url)]
        try:
            return list(await asyncio.gather(*(scheduler.tick(queue, now) for queue in queues)))
        finally:
            for queue in queues:
                await queue.aclose()

    results = await concurrent_ticks(start + timedelta(seconds=1))
    assert sum(r["started"] for r in results) == 1
    assert sum(r["fired"] for r in results) == 1
    assert len(await triggers_of(campaign["id"])) == 1
    assert len([key async for key in redis.scan_iter(match="arq:job:trigger:*")]) == 1

    await work(redis_url)
    results = await concurrent_ticks(start + HOUR + timedelta(seconds=1))
    assert sum(r["fired"] for r in results) == 1
    assert len(await triggers_of(campaign["id"])) == 2
    await work(redis_url)
    assert (await read(client, tenant, campaign["id"]))["triggers_fired"] == 2
    messages = await campaign_messages(campaign["id"])
    assert addresses(messages) == [phone(i) for i in range(4)]


async def test_no_trigger_fires_while_the_previous_one_is_still_running(client, tenant, redis_url):
    _, _, group, campaign, start = await new_campaign(client, tenant, ONE_MESSAGE, 3, every=("minute", 1))
    assert await did(redis_url, start) == (0, 1, 1)
    [first] = await triggers_of(campaign["id"])
    assert first["status"] == "running"  # its job has not run yet
    await add_members(tenant.id, group["id"], 1, first=100)

    assert await did(redis_url, start + MINUTE) == NOTHING
    assert await did(redis_url, start + 1.5 * MINUTE) == NOTHING
    assert len(await triggers_of(campaign["id"])) == 1
    current = await read(client, tenant, campaign["id"])
    assert current["triggers_fired"] == 1
    assert moment(current["next_trigger_at"]) == start + MINUTE  # still due: it waits its turn

    await work(redis_url)
    assert (await triggers_of(campaign["id"]))[0]["status"] == "done"
    assert await did(redis_url, start + 1.75 * MINUTE) == (0, 0, 1)
    triggers = await triggers_of(campaign["id"])
    assert [t["slot_at"] for t in triggers] == [start, start + MINUTE]
    assert moment((await read(client, tenant, campaign["id"]))["next_trigger_at"]) == start + 2 * MINUTE
    await work(redis_url)
    assert addresses(await campaign_messages(campaign["id"])) == sorted(
        [phone(0), phone(1), phone(2), phone(100)]
    )


async def test_a_trigger_whose_job_was_lost_is_enqueued_again(client, tenant, redis_url, redis):
    _, _, _, campaign, start = await new_campaign(client, tenant, ONE_MESSAGE, 4)
    assert await did(redis_url, start) == (0, 1, 1)
    await redis.flushdb()  # Redis lost the trigger's job
    await work(redis_url)
    assert await campaign_messages(campaign["id"]) == []
    assert (await triggers_of(campaign["id"]))[0]["status"] == "running"

    assert await revive(redis_url, start + timedelta(seconds=59)) == 0  # its heartbeat is still fresh
    assert await revive(redis_url, start + timedelta(seconds=61)) == 1
    await work(redis_url)
    [trigger] = await triggers_of(campaign["id"])
    assert (trigger["status"], trigger["enrolled"]) == ("done", 4)
    messages = await campaign_messages(campaign["id"])
    assert addresses(messages) == [phone(i) for i in range(4)]
    assert {m["status"] for m in messages} == {"sent"}
    assert await revive(redis_url, start + timedelta(minutes=10)) == 0  # a done trigger stays done


# --- who each trigger enrolls -----------------------------------------------------------------------


async def test_members_added_later_are_enrolled_by_the_next_trigger_and_no_one_twice(
    client, tenant, redis_url
):
    _, _, group, campaign, start = await new_campaign(client, tenant, ONE_MESSAGE, 4)
    await did(redis_url, start)
    await work(redis_url)
    assert addresses(await campaign_messages(campaign["id"])) == [phone(i) for i in range(4)]

    await add_members(tenant.id, group["id"], 3, first=100)
    await did(redis_url, start + HOUR)
    await work(redis_url)
    messages = await campaign_messages(campaign["id"])
    assert addresses(messages) == sorted([phone(i) for i in range(4)] + [phone(100 + i) for i in range(3)])

    await did(redis_url, start + 2 * HOUR)
    await work(redis_url)
    assert len(await campaign_messages(campaign["id"])) == 7
    assert [t["enrolled"] for t in await triggers_of(campaign["id"])] == [4, 3, 0]
    runs = await runs_of(campaign["id"])
    assert len(runs) == 7
    assert {run["entry"] for run in runs} == {1}
    assert {run["status"] for run in runs} == {"completed"}  # finished runs still count as entered
    stats = await stats_of(client, tenant, campaign["id"])
    assert (stats["totals"]["entered"], stats["totals"]["sent"]) == (7, 7)


async def test_with_reentry_a_finished_contact_enters_again_but_a_waiting_one_does_not(
    client, tenant, redis_url
):
    _, sender, group, campaign, start = await new_campaign(client, tenant, TWO_STEP, 3, allow_reentry=True)
    await did(redis_url, start)
    await work(redis_url)
    offers = await campaign_messages(campaign["id"])
    assert len(offers) == 3
    first = next(m for m in offers if m["address"] == phone(0))
    await tap(client, tenant, sender["id"], first, "no")  # contact 0 declines: their run completes
    await work(redis_url)

    await did(redis_url, start + HOUR)
    await work(redis_url)
    by_contact: dict[int, list[tuple[int, str]]] = {}
    for run in await runs_of(campaign["id"]):
        by_contact.setdefault(run["contact"], []).append((run["entry"], run["status"]))
    c0, c1, c2 = group["contact_ids"]
    assert by_contact == {
        c0: [(1, "completed"), (2, "waiting")],
        c1: [(1, "waiting")],
        c2: [(1, "waiting")],
    }
    messages = await campaign_messages(campaign["id"])
    assert len(messages) == 4
    assert [m["address"] for m in messages].count(phone(0)) == 2

    # Entry 2 still waits: the next trigger does not enter contact 0 a third time.
    await did(redis_url, start + 2 * HOUR)
    await work(redis_url)
    assert len(await runs_of(campaign["id"])) == 4
    assert len(await campaign_messages(campaign["id"])) == 4


async def test_without_reentry_a_finished_contact_never_enters_again(client, tenant, redis_url):
    _, sender, _, campaign, start = await new_campaign(client, tenant, TWO_STEP, 2)
    await did(redis_url, start)
    await work(redis_url)
    offers = await campaign_messages(campaign["id"])
    await tap(client, tenant, sender["id"], offers[0], "no")
    await work(redis_url)
    await did(redis_url, start + HOUR)
    await work(redis_url)
    runs = await runs_of(campaign["id"])
    assert sorted((run["entry"], run["status"]) for run in runs) == [(1, "completed"), (1, "waiting")]
    assert len(await campaign_messages(campaign["id"])) == 2


# --- the end ----------------------------------------------------------------------------------------


async def test_at_its_end_a_campaign_expires_its_waiting_runs_and_sends_nothing_more(
    client, tenant, redis_url
):
    _, sender, _, campaign, start = await new_campaign(client, tenant, TWO_STEP, 4, period=2 * HOUR)
    end = start + 2 * HOUR
    await did(redis_url, start)
    await work(redis_url)
    offers = await campaign_messages(campaign["id"])
    assert len(offers) == 4
    assert {run["status"] for run in await runs_of(campaign["id"])} == {"waiting"}
    assert len(await timers_of(campaign["id"])) == 4  # the offer's reply timeout

    assert (await did(redis_url, end - timedelta(seconds=1)))[0] == 0
    assert await did(redis_url, end) == (1, 0, 0)
    ended = await read(client, tenant, campaign["id"])
    assert ended["status"] == "ended"
    assert moment(ended["ended_at"]) == end
    assert ended["next_trigger_at"] is None
    runs = await runs_of(campaign["id"])
    assert {(run["status"], run["ended_reason"]) for run in runs} == {("expired", "campaign_ended")}
    assert await timers_of(campaign["id"]) == []

    # A tap on the offer after the end gets no follow-up.
    await tap(client, tenant, sender["id"], offers[0], "yes")
    await work(redis_url)
    assert len(await campaign_messages(campaign["id"])) == 4
    assert {run["status"] for run in await runs_of(campaign["id"])} == {"expired"}
    stats = await stats_of(client, tenant, campaign["id"])
    assert stats["status"] == "ended"
    assert stats["totals"]["expired"] == 4
    assert stats["totals"].get("waiting", 0) == 0
    assert await did(redis_url, end + HOUR) == NOTHING


@pytest.mark.parametrize("paused_first", [False, True], ids=["queued", "held"])
async def test_at_its_end_unsent_messages_fail_with_campaign_ended(client, tenant, redis_url, paused_first):
    """Messages still queued (or held by a suspend) when the end comes are never sent."""
    _, _, _, campaign, start = await new_campaign(client, tenant, TWO_STEP, 4, period=2 * HOUR)
    end = start + 2 * HOUR
    assert await did(redis_url, start) == (0, 1, 1)
    await work_without_sending(redis_url)  # the runs step; the send jobs have not run yet
    assert [m["status"] for m in await campaign_messages(campaign["id"])] == ["queued"] * 4
    if paused_first:
        suspended = await client.post(f"/api/v1/campaigns/{campaign['id']}/suspend", headers=tenant.headers())
        assert suspended.status_code == 200, suspended.text
        assert {m["status"] for m in await campaign_messages(campaign["id"])} == {"held"}

    assert await did(redis_url, end) == (1, 0, 0)
    assert (await read(client, tenant, campaign["id"]))["status"] == "ended"
    messages = await campaign_messages(campaign["id"])
    assert {(m["status"], m["failure_reason"]) for m in messages} == {("failed", "campaign_ended")}
    assert {run["status"] for run in await runs_of(campaign["id"])} == {"expired"}

    # The reconciler finds nothing left to send, and a worker sends nothing.
    assert await requeue_queued(redis_url) == 0
    await work(redis_url)
    messages = await campaign_messages(campaign["id"])
    assert {(m["status"], m["failure_reason"]) for m in messages} == {("failed", "campaign_ended")}
    assert all(m["sent_at"] is None for m in messages)
    stats = await stats_of(client, tenant, campaign["id"])
    assert stats["failures"].get("campaign_ended") == 4
    assert stats["totals"].get("sent", 0) == 0


async def test_ending_a_campaign_by_hand_stops_it_as_its_end_would_and_keeps_its_numbers(
    client, tenant, redis_url
):
    _, _, _, campaign, start = await new_campaign(client, tenant, TWO_STEP, 4)
    url = f"/api/v1/campaigns/{campaign['id']}/end"
    assert await did(redis_url, start) == (0, 1, 1)
    await work_without_sending(redis_url)  # four offers queued, four runs waiting on them
    assert [m["status"] for m in await campaign_messages(campaign["id"])] == ["queued"] * 4

    assert (await client.post(url, headers=tenant.headers("viewer"))).status_code == 403
    ended = await client.post(url, headers=tenant.headers("marketer"))
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "ended" and ended.json()["next_trigger_at"] is None
    messages = await campaign_messages(campaign["id"])
    assert {(m["status"], m["failure_reason"]) for m in messages} == {("failed", "campaign_ended")}
    runs = await runs_of(campaign["id"])
    assert {(run["status"], run["ended_reason"]) for run in runs} == {("expired", "campaign_ended")}

    # Nothing more is sent or fired, and the numbers stay (deleting would have lost them).
    await work(redis_url)
    assert all(m["sent_at"] is None for m in await campaign_messages(campaign["id"]))
    assert await did(redis_url, start + 3 * HOUR) == NOTHING
    stats = await stats_of(client, tenant, campaign["id"])
    assert stats["status"] == "ended"
    assert stats["totals"]["entered"] == 4 and stats["failures"] == {"campaign_ended": 4}
    report = await client.get(f"/api/v1/campaigns/{campaign['id']}/report", headers=tenant.headers())
    assert report.status_code == 200 and len(report.json()["items"]) == 4

    again = await client.post(url, headers=tenant.headers())
    assert again.status_code == 409
    assert "already ended" in again.json()["detail"]
    audit = await client.get(
        "/api/v1/audit-log", params={"action": "campaign.ended"}, headers=tenant.headers()
    )
    (entry,) = audit.json()["items"]
    assert entry["data"]["unsent_messages"] == 4 and entry["data"]["expired_runs"] == 4


async def test_a_campaign_whose_whole_period_passed_unseen_ends_without_sending(client, tenant, redis_url):
    _, _, _, campaign, start = await new_campaign(
        client, tenant, ONE_MESSAGE, 3, every=("minute", 10), period=30 * MINUTE
    )
    assert campaign["planned_triggers"] == 3
    end = start + 30 * MINUTE

    assert await did(redis_url, end + HOUR) == (1, 0, 0)
    await work(redis_url)
    current = await read(client, tenant, campaign["id"])
    assert current["status"] == "ended"
    assert (current["started_at"], current["triggers_fired"]) == (None, 0)
    assert await triggers_of(campaign["id"]) == []
    assert await runs_of(campaign["id"]) == []
    assert await campaign_messages(campaign["id"]) == []
    assert await did(redis_url, end + 2 * HOUR) == NOTHING


# --- suspend and resume -----------------------------------------------------------------------------


async def test_a_suspended_campaign_fires_nothing_and_resumes_at_its_new_start(client, tenant, redis_url):
    _, sender, group, campaign, start = await new_campaign(client, tenant, TWO_STEP, 3)
    await did(redis_url, start)
    await work(redis_url)
    offers = await campaign_messages(campaign["id"])
    assert len(offers) == 3

    suspended = await client.post(f"/api/v1/campaigns/{campaign['id']}/suspend", headers=tenant.headers())
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "paused"

    # While paused: a tap waits, and no slot fires however late the clock.
    await tap(client, tenant, sender["id"], offers[0], "yes")
    await work(redis_url)
    assert len(await campaign_messages(campaign["id"])) == 3
    await add_members(tenant.id, group["id"], 2, first=100)
    assert await did(redis_url, start + HOUR) == NOTHING
    assert await did(redis_url, start + 2.5 * HOUR) == NOTHING
    await work(redis_url)
    assert (await read(client, tenant, campaign["id"]))["status"] == "paused"
    assert len(await triggers_of(campaign["id"])) == 1
    assert len(await campaign_messages(campaign["id"])) == 3

    new_start = start + 4 * HOUR
    resumed = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/resume",
        json={"start_at": new_start.isoformat()},
        headers=tenant.headers(),
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "scheduled"

    assert await did(redis_url, new_start - timedelta(seconds=1)) == NOTHING
    await work(redis_url)
    assert (await read(client, tenant, campaign["id"]))["status"] == "scheduled"
    assert len(await campaign_messages(campaign["id"])) == 3

    assert await did(redis_url, new_start) == (0, 1, 1)
    current = await read(client, tenant, campaign["id"])
    assert current["status"] == "running"
    assert current["flow_version"] == 1
    assert moment(current["next_trigger_at"]) == new_start + HOUR
    assert (await triggers_of(campaign["id"]))[-1]["slot_at"] == new_start

    await work(redis_url)
    messages = await campaign_messages(campaign["id"])
    later = [(m["address"], m["text"]) for m in messages[3:]]
    assert (phone(0), "Here is your code: SAVE20") in later  # the tap made while paused moved on
    new_offers = sorted(address for address, text in later if text.startswith("Hi "))
    assert new_offers == [phone(100), phone(101)]  # only the new members; no one offered twice
    assert len(messages) == 6


async def test_a_trigger_cut_short_by_a_suspend_is_made_up_by_the_first_trigger_after_resume(
    client, tenant, redis_url
):
    _, _, _, campaign, start = await new_campaign(client, tenant, ONE_MESSAGE, 4)
    assert await did(redis_url, start) == (0, 1, 1)
    suspended = await client.post(f"/api/v1/campaigns/{campaign['id']}/suspend", headers=tenant.headers())
    assert suspended.status_code == 200, suspended.text
    await work(redis_url)  # the trigger's job comes after the suspend: it enrolls no one
    assert await campaign_messages(campaign["id"]) == []
    assert await runs_of(campaign["id"]) == []

    new_start = start + 3 * HOUR
    resumed = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/resume",
        json={"start_at": new_start.isoformat()},
        headers=tenant.headers(),
    )
    assert resumed.status_code == 200, resumed.text
    assert await did(redis_url, new_start) == (0, 1, 1)
    await work(redis_url)
    messages = await campaign_messages(campaign["id"])
    assert addresses(messages) == [phone(i) for i in range(4)]
    assert {m["status"] for m in messages} == {"sent"}


async def test_a_resumed_campaign_releases_its_held_messages_at_its_new_start(client, tenant, redis_url):
    _, _, _, campaign, start = await new_campaign(client, tenant, TWO_STEP, 3)
    assert await did(redis_url, start) == (0, 1, 1)
    await work_without_sending(redis_url)
    suspended = await client.post(f"/api/v1/campaigns/{campaign['id']}/suspend", headers=tenant.headers())
    assert suspended.status_code == 200, suspended.text
    await work(redis_url)
    assert {m["status"] for m in await campaign_messages(campaign["id"])} == {"held"}

    new_start = start + 2 * HOUR
    resumed = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/resume",
        json={"start_at": new_start.isoformat()},
        headers=tenant.headers(),
    )
    assert resumed.status_code == 200, resumed.text
    assert await did(redis_url, new_start - timedelta(seconds=1)) == NOTHING
    assert {m["status"] for m in await campaign_messages(campaign["id"])} == {"held"}
    assert await did(redis_url, new_start) == (0, 1, 1)
    messages = await campaign_messages(campaign["id"])
    assert len(messages) == 3
    assert {m["status"] for m in messages} == {"queued"}  # back in the queue, none lost, none doubled


async def test_held_messages_go_out_as_soon_as_the_campaign_runs_again(client, tenant, redis_url):
    """On the real clock (the send path compares with it): held at suspend, sent at the new start."""
    _, _, _, campaign, start = await new_campaign(client, tenant, TWO_STEP, 3)
    assert await did(redis_url, start) == (0, 1, 1)
    await work_without_sending(redis_url)  # their send job came and went while they were not sendable
    suspended = await client.post(f"/api/v1/campaigns/{campaign['id']}/suspend", headers=tenant.headers())
    assert suspended.status_code == 200, suspended.text
    new_start = datetime.now(UTC) + timedelta(seconds=0.3)
    resumed = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/resume",
        json={"start_at": new_start.isoformat()},
        headers=tenant.headers(),
    )
    assert resumed.status_code == 200, resumed.text
    await asyncio.sleep(max(0.0, (new_start - datetime.now(UTC)).total_seconds()) + 0.01)
    assert await did(redis_url, datetime.now(UTC)) == (0, 1, 1)
    await work(redis_url)
    assert [m["status"] for m in await campaign_messages(campaign["id"])] == ["sent"] * 3


async def test_a_new_start_given_to_a_resumed_campaign_moves_its_plan(client, tenant, redis_url):
    _, _, _, campaign, start = await new_campaign(client, tenant, ONE_MESSAGE, 2, every=("day", 1))
    await did(redis_url, start)
    await work(redis_url)
    assert (
        await client.post(f"/api/v1/campaigns/{campaign['id']}/suspend", headers=tenant.headers())
    ).is_success
    resumed = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/resume",
        json={"start_at": (start + HOUR).isoformat()},
        headers=tenant.headers(),
    )
    assert resumed.status_code == 200, resumed.text
    # Still scheduled: it may be modified, and its start moved again.
    new_start = start + 3 * HOUR
    changed = await client.patch(
        f"/api/v1/campaigns/{campaign['id']}",
        json={"start_at": new_start.isoformat()},
        headers=tenant.headers(),
    )
    assert changed.status_code == 200, changed.text
    assert moment(changed.json()["start_at"]) == new_start

    assert await did(redis_url, start + HOUR) == NOTHING  # not at the start it no longer has
    assert await did(redis_url, new_start) == (0, 1, 1)
    current = await read(client, tenant, campaign["id"])
    assert moment(current["last_trigger_at"]) == new_start
    assert moment(current["next_trigger_at"]) == new_start + timedelta(days=1)
    assert (await triggers_of(campaign["id"]))[-1]["slot_at"] == new_start
