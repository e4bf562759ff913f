"""A contact whose first step fails no longer stops a campaign's enrollment (issue 14).

A trigger's batch of new runs is created and stepped in one transaction. One contact whose stored data
makes that first step raise used to roll the whole batch back; the lane job failed, the batch stayed
``pending``, the sweeper enqueued the lanes again every few minutes for ever, nobody of that lane got
the campaign, and the trigger never finished, so the campaign's next triggers never fired either.

Now the contact is started alone, fails alone and gets a run that carries the error (``failures``,
``last_error``); the runs sweeper tries it again like any run whose step failed and, after
:data:`poison.MAX_FAILURES` attempts, it ends ``failed`` (``step_error``), counted among the campaign's
failed runs. Real worker on real Redis; the contact's row is damaged in the database the way a bad write
(here: attributes stored JSON-encoded twice) would leave it.
"""

from __future__ import annotations

import contextlib
import sqlite3

import pytest

from backend.campaigns import scheduler
from backend.campaigns.stats import truth
from backend.campaigns.tables import CampaignBatch, CampaignTrigger
from backend.runs import poison
from backend.runs import service as runs
from backend.runs.tables import Run
from tests.backend.campaigns.helpers import (
    ONE_MESSAGE,
    campaign_messages,
    create_campaign,
    group_of,
    published_flow,
    sandbox_sender,
    start_and_work,
    work,
)
from tests.backend.runs.helpers import damage_attributes, queue_for, soon


async def enrolled_campaign(client, tenant, redis_url, size: int, poisoned: list[int]) -> tuple[dict, dict]:
    """A one-message campaign to ``size`` contacts, the ``poisoned`` ones damaged, started and worked."""
    flow = await published_flow(client, tenant, ONE_MESSAGE)
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, size)
    for index in poisoned:
        await damage_attributes(group["contact_ids"][index])
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    await start_and_work(redis_url, campaign)
    return campaign, group


async def runs_by_contact(campaign_id: int) -> dict[int, list[dict]]:
    rows = await Run.select().where(Run.campaign_id == campaign_id).order_by(Run.id)
    found: dict[int, list[dict]] = {}
    for row in rows:
        found.setdefault(row["contact"], []).append(row)
    return found


async def sweep_and_work(redis_url: str, minutes: float) -> dict[str, int]:
    """One runs sweeper pass as if ``minutes`` had passed (campaigns plugged in, as in the worker)."""
    from backend.campaigns import tasks as campaign_tasks

    async with queue_for(redis_url) as queue, contextlib.AsyncExitStack() as stack:
        campaign_tasks.install(queue, stack)
        swept = await runs.sweep(queue, now=soon(minutes=minutes))
    await work(redis_url)
    return swept


async def stats_of(client, tenant, campaign_id: int) -> dict:
    response = await client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()


async def assert_counters_are_true(client, tenant, campaign_id: int) -> dict:
    totals = (await stats_of(client, tenant, campaign_id))["totals"]
    expected = await truth(campaign_id)
    assert {key: totals.get(key, 0) for key in expected} == expected
    return totals


async def test_a_contact_whose_first_step_fails_is_set_aside_and_the_lane_enrolls_the_others(
    client, tenant, redis_url
):
    campaign, group = await enrolled_campaign(client, tenant, redis_url, size=6, poisoned=[3])
    contacts = group["contact_ids"]
    poisoned = contacts[3]
    healthy = [cid for cid in contacts if cid != poisoned]

    sent = await campaign_messages(campaign["id"])
    assert sorted(m["contact"] for m in sent) == sorted(healthy)  # everyone else, once
    [trigger] = await CampaignTrigger.select().where(CampaignTrigger.campaign == campaign["id"])
    assert trigger["status"] == "done"  # the lane finished: the campaign's next trigger can fire
    batches = await CampaignBatch.select().where(CampaignBatch.trigger == trigger["id"])
    assert [(b["status"], b["started"]) for b in batches] == [("done", 6)]
    assert (await scheduler.revive(None, now=soon(minutes=10)))["lanes"] == 0  # no lane to start again

    by_contact = await runs_by_contact(campaign["id"])
    assert sorted(by_contact) == sorted(contacts)
    for cid in healthy:
        [run] = by_contact[cid]
        assert (run["status"], run["failures"], run["last_error"]) == ("completed", 0, "")
    [run] = by_contact[poisoned]
    assert (run["status"], run["state"], run["failures"]) == ("active", None, 1)
    assert run["last_error"].startswith("ValueError") and "attributes" in run["last_error"]
    totals = await assert_counters_are_true(client, tenant, campaign["id"])
    assert (totals["entered"], totals["completed"], totals["active"]) == (6, 5, 1)

    # The sweeper tries it again like any run whose step failed, a bounded number of times.
    for attempt in range(2, poison.MAX_FAILURES + 1):
        swept = await sweep_and_work(redis_url, minutes=5 * attempt)
        assert swept["driven"] == 1
        assert (await Run.select(Run.failures).where(Run.id == run["id"]).first())["failures"] == attempt
    row = await Run.select().where(Run.id == run["id"]).first()
    assert (row["status"], row["ended_reason"]) == ("failed", poison.ENDED_REASON)
    assert row["ended_at"] is not None and row["last_error"].startswith("ValueError")
    assert (await sweep_and_work(redis_url, minutes=60))["driven"] == 0
    assert len(await campaign_messages(campaign["id"])) == 5

    totals = await assert_counters_are_true(client, tenant, campaign["id"])
    assert (totals["entered"], totals["completed"], totals["failed_runs"], totals["active"]) == (6, 5, 1, 0)
    report = await client.get(f"/api/v1/campaigns/{campaign['id']}/report", headers=tenant.headers())
    assert report.status_code == 200, report.text
    by_run = {item["run_id"]: item for item in report.json()["items"]}
    assert (by_run[run["id"]]["run_status"], by_run[run["id"]]["ended_reason"]) == ("failed", "step_error")


async def test_a_lane_that_runs_again_enrolls_and_charges_no_one_twice(client, tenant, redis_url):
    from backend.campaigns import triggers

    campaign, group = await enrolled_campaign(client, tenant, redis_url, size=8, poisoned=[0, 5])
    before = await runs_by_contact(campaign["id"])
    assert sorted(before) == sorted(group["contact_ids"])
    [trigger] = await CampaignTrigger.select().where(CampaignTrigger.campaign == campaign["id"])

    # The batch is handed out again (at least once: a second delivery of its job), and the lanes rerun.
    await CampaignBatch.update({CampaignBatch.status: "pending"}).where(
        CampaignBatch.trigger == trigger["id"]
    )
    async with queue_for(redis_url) as queue:
        await triggers.start_lanes(queue, trigger["id"], ":again")
    await work(redis_url)

    after = await runs_by_contact(campaign["id"])
    assert after == before  # no new run, no run changed: the two poisoned ones were not charged again
    assert [len(runs_of_contact) for runs_of_contact in after.values()] == [1] * 8
    assert len(await campaign_messages(campaign["id"])) == 6
    assert [r["failures"] for r in after[group["contact_ids"][0]] + after[group["contact_ids"][5]]] == [1, 1]
    batches = await CampaignBatch.select().where(CampaignBatch.trigger == trigger["id"])
    assert [(b["status"], b["started"]) for b in batches] == [("done", 0)]
    await assert_counters_are_true(client, tenant, campaign["id"])


async def test_a_busy_database_retries_the_lane_and_charges_no_one(client, tenant, redis_url, monkeypatch):
    from backend.campaigns import tasks as campaign_tasks
    from backend.runs import engine

    monkeypatch.setattr(campaign_tasks, "TRANSIENT_RETRY_S", 0.05)
    real_start_new = engine.start_new
    calls = 0

    async def busy_once(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise sqlite3.OperationalError("database is locked")
        return await real_start_new(*args, **kwargs)

    monkeypatch.setattr(engine, "start_new", busy_once)
    campaign, group = await enrolled_campaign(client, tenant, redis_url, size=4, poisoned=[])

    assert calls >= 2  # the lane ran again after the busy moment
    by_contact = await runs_by_contact(campaign["id"])
    assert sorted(by_contact) == sorted(group["contact_ids"])
    for rows in by_contact.values():
        assert [(r["status"], r["failures"], r["last_error"]) for r in rows] == [("completed", 0, "")]
    assert sorted(m["contact"] for m in await campaign_messages(campaign["id"])) == sorted(
        group["contact_ids"]
    )
    [trigger] = await CampaignTrigger.select().where(CampaignTrigger.campaign == campaign["id"])
    assert trigger["status"] == "done"
    await assert_counters_are_true(client, tenant, campaign["id"])


@pytest.mark.parametrize("size", [1, 3])
async def test_a_batch_of_only_poisoned_contacts_still_finishes_its_trigger(client, tenant, redis_url, size):
    campaign, _ = await enrolled_campaign(client, tenant, redis_url, size=size, poisoned=list(range(size)))
    assert await campaign_messages(campaign["id"]) == []
    [trigger] = await CampaignTrigger.select().where(CampaignTrigger.campaign == campaign["id"])
    assert trigger["status"] == "done"
    by_contact = await runs_by_contact(campaign["id"])
    assert [(r["status"], r["failures"]) for rows in by_contact.values() for r in rows] == [
        ("active", 1)
    ] * size
    await assert_counters_are_true(client, tenant, campaign["id"])


async def test_a_contact_repaired_before_its_last_attempt_starts_and_is_messaged(client, tenant, redis_url):
    from backend.audience.tables import Contact

    campaign, group = await enrolled_campaign(client, tenant, redis_url, size=3, poisoned=[1])
    repaired = group["contact_ids"][1]
    await Contact.update({Contact.attributes: {"tier": "gold"}}).where(Contact.id == repaired)

    swept = await sweep_and_work(redis_url, minutes=5)
    assert swept["driven"] == 1
    [run] = (await runs_by_contact(campaign["id"]))[repaired]
    assert (run["status"], run["failures"]) == ("completed", 1)  # the failure it had stays on record
    assert sorted(m["contact"] for m in await campaign_messages(campaign["id"])) == sorted(
        group["contact_ids"]
    )
    totals = await assert_counters_are_true(client, tenant, campaign["id"])
    assert (totals["entered"], totals["completed"], totals["failed_runs"]) == (3, 3, 0)


async def test_a_database_error_of_one_contact_undoes_only_its_part(client, tenant, redis_url, monkeypatch):
    """On PostgreSQL a failed statement aborts the transaction: the savepoint must undo the failing part
    (its runs, messages and counters) and leave the batch's transaction usable for the others."""
    from backend.runs import engine

    real_start_new = engine.start_new
    poisoned: set[int] = set()

    async def fails_after_writing(runs, *, now):
        after = await real_start_new(runs, now=now)
        if any(new.contact["id"] in poisoned for new in runs):
            # PostgreSQL refuses the cast (22P02, a data error); SQLite casts quietly, so raise as well.
            await Run.raw("SELECT CAST(CAST({} AS TEXT) AS INTEGER) AS n", "not a number")
            raise ValueError("the contact's data broke the step")
        return after

    monkeypatch.setattr(engine, "start_new", fails_after_writing)
    flow = await published_flow(client, tenant, ONE_MESSAGE)
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 7)
    poisoned.add(group["contact_ids"][4])
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    await start_and_work(redis_url, campaign)

    healthy = [cid for cid in group["contact_ids"] if cid not in poisoned]
    assert sorted(m["contact"] for m in await campaign_messages(campaign["id"])) == sorted(healthy)
    by_contact = await runs_by_contact(campaign["id"])
    assert [len(rows) for rows in by_contact.values()] == [1] * 7
    [run] = by_contact[group["contact_ids"][4]]
    assert (run["status"], run["state"], run["failures"]) == ("active", None, 1)
    assert "InvalidTextRepresentation" in run["last_error"] or run["last_error"].startswith("ValueError")
    totals = await assert_counters_are_true(client, tenant, campaign["id"])
    assert (totals["entered"], totals["completed"], totals["active"]) == (7, 6, 1)
