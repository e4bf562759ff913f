"""Delays and wait timeouts are timers stored in the database, not in Redis: a flushed Redis loses no
timer and no run, and the sweeper re-drives what a lost job left behind."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from backend.runs import inbox, service
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
    close_to,
    create_contact,
    edge,
    events_of,
    flow_graph,
    inbound,
    message,
    node,
    offer_graph,
    outbound_of,
    patch_settings,
    ports,
    publish,
    queue_for,
    run_row,
    runs_of,
    soon,
    started,
    timers_of,
)


def delayed_graph(trigger: str = "manual", seconds: int = 3600) -> dict:
    return flow_graph(
        [
            node("start", "start", trigger=trigger),
            message("hello", "Hello {{contact.name | 'there'}}"),
            node("delay", "pause", seconds=seconds),
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
            message("missed", "We missed you", "transactional"),
            node("end", "end"),
        ],
        [
            edge("start", "ask"),
            edge("ask", "answer"),
            edge("answer", "thanks", "reply"),
            edge("answer", "missed", "timeout"),
            edge("thanks", "end"),
            edge("missed", "end"),
        ],
    )


async def test_a_campaigns_delays_survive_a_redis_flush(client, tenant, redis, redis_url):
    flow = await publish(client, tenant, delayed_graph())
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 3)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    await start_and_work(redis_url, campaign)
    messages = await campaign_messages(campaign["id"])
    assert [m["text"] for m in messages] == ["Hello Contact 0", "Hello Contact 1", "Hello Contact 2"]
    run_ids = sorted([row["id"] for contact_id in group["contact_ids"] for row in await runs_of(contact_id)])
    for run_id in run_ids:
        (timer,) = await timers_of(run_id)
        assert timer["timer_id"] == "pause#1:delay"
        assert close_to(timer["fire_at"], datetime.now(UTC) + timedelta(hours=1))
        assert (await run_row(run_id))["waiting_kind"] == "timer"

    await redis.flushdb()

    assert await inbox.fire_due_timers(now=soon(minutes=58)) == []  # not due yet: nothing moves
    assert all([await timers_of(run_id) for run_id in run_ids])
    moved = await inbox.fire_due_timers(now=soon(minutes=61))
    assert moved == run_ids
    assert await inbox.fire_due_timers(now=soon(minutes=62)) == []  # moved once
    for run_id in run_ids:
        assert await timers_of(run_id) == []
        (event,) = await events_of(run_id)
        assert (event["kind"], event["key"], event["status"]) == ("timer", "timer:pause#1:delay", "pending")

    async with queue_for(redis_url) as queue:
        await service.enqueue_drive(queue, moved)  # what the worker's timer ticker does
    await work(redis_url)
    later = [m for m in await campaign_messages(campaign["id"]) if m["text"] == "An hour later"]
    assert len(later) == 3 and {m["status"] for m in later} == {"sent"}
    for run_id in run_ids:
        row = await run_row(run_id)
        assert row["status"] == "completed"
        assert ("pause", "next") in ports(row)
        assert [e["status"] for e in await events_of(run_id)] == ["applied"]


async def test_a_reply_wait_times_out_through_timeout(client, tenant, redis, redis_url):
    flow = await publish(client, tenant, question_graph())
    sender = await sandbox_sender(client, tenant)
    run = await started(client, tenant, flow["id"], sender["id"], to=phone(1))
    assert run["waiting"]["kind"] == "reply"
    (timer,) = await timers_of(run["id"])
    assert close_to(timer["fire_at"], datetime.now(UTC) + timedelta(minutes=10))
    await redis.flushdb()

    async with queue_for(redis_url) as queue:
        moved = await inbox.fire_due_timers(now=timer["fire_at"])
        assert moved == [run["id"]]
        await service.enqueue_drive(queue, moved)
    await work(redis_url)
    row = await run_row(run["id"])
    assert row["status"] == "completed"
    assert ("answer", "timeout") in ports(row)
    texts = [m["text"] for m in await outbound_of(run["contact_id"])]
    assert texts == ["Which size do you wear?", "We missed you"]


async def test_a_reply_before_the_timeout_cancels_it(client, tenant, redis_url):
    flow = await publish(client, tenant, question_graph())
    sender = await sandbox_sender(client, tenant)
    run = await started(client, tenant, flow["id"], sender["id"], to=phone(1))
    await inbound(client, tenant, sender["id"], phone(1), text="M")
    await work(redis_url)
    row = await run_row(run["id"])
    assert row["status"] == "completed" and ("answer", "reply") in ports(row)
    assert await timers_of(run["id"]) == []
    assert await inbox.fire_due_timers(now=soon(hours=1)) == []
    texts = [m["text"] for m in await outbound_of(run["contact_id"])]
    assert texts == ["Which size do you wear?", "Noted: M"]


async def test_a_button_wait_times_out_along_next(client, tenant, redis, redis_url):
    flow = await publish(client, tenant, offer_graph())
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 1)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    await start_and_work(redis_url, campaign)
    (run,) = await runs_of(group["contact_ids"][0])
    (timer,) = await timers_of(run["id"])
    assert timer["timer_id"] == "offer#1:timeout"
    assert close_to(timer["fire_at"], datetime.now(UTC) + timedelta(hours=1))
    await redis.flushdb()

    assert await inbox.fire_due_timers(now=timer["fire_at"] - timedelta(seconds=1)) == []
    async with queue_for(redis_url) as queue:
        await service.enqueue_drive(queue, await inbox.fire_due_timers(now=timer["fire_at"]))
    await work(redis_url)
    row = await run_row(run["id"])
    assert row["status"] == "completed" and ("offer", "next") in ports(row)
    assert [m["text"] for m in await campaign_messages(campaign["id"])] == [
        "Want 20% off?",
        "We did not get that",
    ]


def next_local(now: datetime, zone: str, at_time: time) -> datetime:
    """The first ``at_time`` on the wall clock of ``zone`` strictly after ``now`` (no DST edge cases:
    Tokyo has none, New York's 09:00 is never in a gap)."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    candidate = datetime.combine(local.date(), at_time, tzinfo=tz)
    if candidate <= now:
        candidate = datetime.combine(local.date() + timedelta(days=1), at_time, tzinfo=tz)
    return candidate.astimezone(UTC)


def morning_graph(trigger: str = "manual", days: list[str] | None = None) -> dict:
    return flow_graph(
        [
            node("start", "start", trigger=trigger),
            node("delay", "morning", mode="time_of_day", time_of_day="09:00", days=days or []),
            message("hello", "Good morning"),
            node("end", "end"),
        ],
        [edge("start", "morning"), edge("morning", "hello"), edge("hello", "end")],
    )


async def test_a_delay_until_a_time_of_day_uses_the_contacts_time_zone(client, tenant, redis_url):
    from backend.audience.tables import Contact

    await patch_settings(client, tenant, timezone="Europe/Lisbon")
    flow = await publish(client, tenant, morning_graph())
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 3)
    zones = {0: "Asia/Tokyo", 1: "America/New_York", 2: None}
    for index, zone in zones.items():
        await Contact.update({Contact.timezone: zone}).where(Contact.id == group["contact_ids"][index])
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    before = datetime.now(UTC)
    await start_and_work(redis_url, campaign)
    after = datetime.now(UTC)

    fire_at: dict[str, datetime] = {}
    for index, zone in zones.items():
        (run,) = await runs_of(group["contact_ids"][index])
        assert (run["status"], run["waiting_kind"]) == ("waiting", "timer")
        (timer,) = await timers_of(run["id"])
        name = zone or "Europe/Lisbon"  # no zone of its own: the workspace's
        local = timer["fire_at"].astimezone(ZoneInfo(name))
        assert (local.hour, local.minute) == (9, 0), (name, local)
        assert timer["fire_at"] in (next_local(before, name, time(9)), next_local(after, name, time(9)))
        fire_at[name] = timer["fire_at"]
    assert len(set(fire_at.values())) == 3
    assert await campaign_messages(campaign["id"]) == []


async def test_a_time_of_day_delay_on_given_weekdays(client, tenant, redis_url):
    flow = await publish(client, tenant, morning_graph("api", days=["sat"]))
    sender = await sandbox_sender(client, tenant)
    contact = await create_contact(client, tenant, phone=phone(1), timezone="Asia/Tokyo")
    run = await started(client, tenant, flow["id"], sender["id"], contact_id=contact["id"])
    (timer,) = await timers_of(run["id"])
    local = timer["fire_at"].astimezone(ZoneInfo("Asia/Tokyo"))
    assert (local.strftime("%a"), local.hour, local.minute) == ("Sat", 9, 0)
    assert timedelta(0) < timer["fire_at"] - datetime.now(UTC) <= timedelta(days=7)
    assert run["waiting"]["until"] is not None
    assert datetime.fromisoformat(run["waiting"]["until"].replace("Z", "+00:00")) == timer["fire_at"]


async def test_a_lost_drive_job_is_recovered_by_the_sweeper(client, tenant, redis, redis_url):
    """The timer was moved into the inbox and the drive job enqueued, then Redis lost it."""
    flow = await publish(client, tenant, delayed_graph("api", seconds=60))
    sender = await sandbox_sender(client, tenant)
    run = await started(client, tenant, flow["id"], sender["id"], to=phone(1))
    async with queue_for(redis_url) as queue:
        moved = await inbox.fire_due_timers(now=soon(minutes=2))
        await service.enqueue_drive(queue, moved, "t1")
    await redis.flushdb()
    await work(redis_url)
    assert (await run_row(run["id"]))["current_node"] == "pause"
    assert len(await outbound_of(run["contact_id"])) == 1

    async with queue_for(redis_url) as queue:
        # Fresh work is left alone by default (its job may just be slow)...
        assert (await service.sweep(queue, now=datetime.now(UTC)))["driven"] == 0
        # ...work older than the threshold is driven again; twice is harmless.
        assert (await service.sweep(queue, now=soon(minutes=3), older_than=timedelta(0)))["driven"] == 1
        assert (await service.sweep(queue, now=soon(minutes=10), older_than=timedelta(0)))["driven"] == 1
    await work(redis_url)
    row = await run_row(run["id"])
    assert row["status"] == "completed"
    assert [m["text"] for m in await outbound_of(run["contact_id"])] == ["Hello there", "An hour later"]
    assert [e["status"] for e in await events_of(run["id"])] == ["applied"]


async def test_a_run_left_active_without_its_drive_job_is_started_by_the_sweeper(
    client, tenant, redis, redis_url
):
    """A run stored ``active`` and not started yet (state NULL: enrolled, its drive job lost with Redis)."""
    from backend.flows.tables import FlowVersion
    from backend.runs.tables import Run

    flow = await publish(client, tenant, offer_graph("api"))
    sender = await sandbox_sender(client, tenant)
    contact = await create_contact(client, tenant, phone=phone(1), name="Ana")
    version = await FlowVersion.select(FlowVersion.id).where(FlowVersion.flow == flow["id"]).first()
    stored_at = datetime.now(UTC)
    inserted = await Run.insert(
        Run(
            workspace=tenant.id,
            flow=flow["id"],
            flow_version=version["id"],
            contact=contact["id"],
            sender=sender["id"],
            trigger="api",
            status="active",
            started_at=stored_at,
            updated_at=stored_at,
        )
    ).returning(Run.id)
    run_id = inserted[0]["id"]
    await redis.flushdb()
    await work(redis_url)
    assert (await run_row(run_id))["state"] is None and await outbound_of(contact["id"]) == []

    async with queue_for(redis_url) as queue:
        assert (await service.sweep(queue, now=stored_at + timedelta(seconds=30)))["driven"] == 0
        swept = await service.sweep(queue, now=soon(minutes=5), older_than=timedelta(0))
    assert swept["driven"] == 1
    await work(redis_url)
    row = await run_row(run_id)
    assert (row["status"], row["waiting_kind"], row["current_node"]) == ("waiting", "buttons", "offer")
    (sent,) = await outbound_of(contact["id"])
    assert (sent["text"], sent["status"]) == ("Want 20% off?", "sent")


async def test_the_sweeper_leaves_a_suspended_campaigns_runs_alone(client, tenant, redis, redis_url):
    flow = await publish(client, tenant, delayed_graph(seconds=60))
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 1)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    await start_and_work(redis_url, campaign)
    (run,) = await runs_of(group["contact_ids"][0])
    suspended = await client.post(f"/api/v1/campaigns/{campaign['id']}/suspend", headers=tenant.headers())
    assert suspended.status_code == 200, suspended.text

    assert await inbox.fire_due_timers(now=soon(minutes=2)) == [run["id"]]
    async with queue_for(redis_url) as queue:
        swept = await service.sweep(queue, now=soon(minutes=3), older_than=timedelta(0))
        assert swept["driven"] == 0
        await service.enqueue_drive(queue, [run["id"]], "forced")  # a job that runs anyway holds it
    await work(redis_url)
    assert (await run_row(run["id"]))["current_node"] == "pause"
    assert [e["status"] for e in await events_of(run["id"])] == ["pending"]
    assert [m["text"] for m in await campaign_messages(campaign["id"])] == ["Hello Contact 0"]


async def test_a_contact_without_an_address_after_a_delay_moves_the_run_on(client, tenant, redis_url):
    """The phone was removed while the run waited: the button message cannot be sent, and the run does
    not sit out the button timeout for it."""
    graph = flow_graph(
        [
            node("start", "start", trigger="api"),
            node("delay", "pause", seconds=60),
            message("offer", "Want 20% off?", buttons=[{"id": "yes", "title": "Yes"}], reply_timeout=86_400),
            node("add_tag", "unreached", tag="unreached"),
            node("end", "end"),
        ],
        [
            edge("start", "pause"),
            edge("pause", "offer"),
            edge("offer", "end", "button:yes"),
            edge("offer", "unreached"),
            edge("unreached", "end"),
        ],
    )
    flow = await publish(client, tenant, graph)
    sender = await sandbox_sender(client, tenant)
    contact = await create_contact(client, tenant, phone=phone(1), email="ana@example.com")
    run = await started(client, tenant, flow["id"], sender["id"], contact_id=contact["id"])
    patched = await client.patch(
        f"/api/v1/contacts/{contact['id']}", json={"phone": None}, headers=tenant.headers()
    )
    assert patched.status_code == 200, patched.text
    async with queue_for(redis_url) as queue:
        await service.enqueue_drive(queue, await inbox.fire_due_timers(now=soon(minutes=2)))
    await work(redis_url)
    row = await run_row(run["id"])
    assert row["status"] == "completed" and ("offer", "next") in ports(row)
    assert await timers_of(run["id"]) == []
    assert await outbound_of(contact["id"]) == []
    stored = (await client.get(f"/api/v1/contacts/{contact['id']}", headers=tenant.headers())).json()
    assert "unreached" in stored["tags"]
