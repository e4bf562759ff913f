"""The campaign state machine (seed 001) as a table: every action in every state, on
backend/campaigns/states.py and through the API.

Seed 001: only running campaigns can be suspended; resuming needs a new start time; only scheduled and
paused campaigns can be modified; running ones cannot be deleted. And what a user of the best tools
expects besides: any campaign not ended yet can be ended now, keeping its numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.campaigns import states
from backend.campaigns.tables import Campaign
from backend.core.errors import Conflict
from tests.backend.campaigns.helpers import (
    ONE_MESSAGE,
    at,
    create_campaign,
    group_of,
    published_flow,
    sandbox_sender,
    tick,
)

ACTIONS = ("suspend", "resume", "modify", "delete", "end")
STATES = ("scheduled", "running", "paused", "ended")

# What the seed allows, written out by hand: (action, state) -> the state afterwards (None: refused,
# "gone": the campaign no longer exists).
TABLE: dict[tuple[str, str], str | None] = {
    ("suspend", "scheduled"): None,
    ("suspend", "running"): "paused",
    ("suspend", "paused"): None,
    ("suspend", "ended"): None,
    ("resume", "scheduled"): None,
    ("resume", "running"): None,
    ("resume", "paused"): "scheduled",  # scheduled again until its new start time
    ("resume", "ended"): None,
    ("modify", "scheduled"): "scheduled",
    ("modify", "running"): None,
    ("modify", "paused"): "paused",
    ("modify", "ended"): None,
    ("delete", "scheduled"): "gone",
    ("delete", "running"): None,
    ("delete", "paused"): "gone",
    ("delete", "ended"): "gone",
    ("end", "scheduled"): "ended",
    ("end", "running"): "ended",
    ("end", "paused"): "ended",
    ("end", "ended"): None,
}
CASES = [pytest.param(action, state, id=f"{action}-{state}") for action in ACTIONS for state in STATES]

# How a refusal names the state the campaign is in (a scheduled one "has not started yet").
STATE_WORDS = {
    "scheduled": ("scheduled", "not started", "waits for its start time"),
    "running": ("running",),
    "paused": ("paused",),
    "ended": ("ended",),
}
VERBS = {
    "suspend": "suspended",
    "resume": "resumed",
    "modify": "modified",
    "delete": "deleted",
    "end": "ended",
}


def _why(detail: str) -> str:
    """The reason part of a refusal, without the general rule in parentheses (which names other states)."""
    return detail.split(" (only")[0].split(" (running")[0].lower()


# --- the module ---------------------------------------------------------------------------------------


def test_the_module_knows_every_state_and_action():
    assert set(states.STATUSES) == set(STATES)
    assert set(states.ALLOWED) == set(ACTIONS)


@pytest.mark.parametrize(("action", "state"), CASES)
def test_allowed_matches_the_seed(action, state):
    assert states.allowed(action, state) is (TABLE[(action, state)] is not None)


@pytest.mark.parametrize(("action", "state"), CASES)
def test_check_passes_allowed_actions_and_refuses_the_others_with_a_reason(action, state):
    if TABLE[(action, state)] is not None:
        assert states.check(action, state, 42) is None
        return
    with pytest.raises(Conflict) as refused:
        states.check(action, state, 42)
    assert refused.value.status_code == 409
    detail = refused.value.detail
    assert "campaign 42" in detail
    assert f"cannot be {VERBS[action]}" in detail
    assert any(word in _why(detail) for word in STATE_WORDS[state]), detail


def test_an_unknown_state_is_refused_for_every_action():
    for action in ACTIONS:
        assert not states.allowed(action, "archived")
        with pytest.raises(Conflict, match="archived"):
            states.check(action, "archived", 7)


# --- through the API ----------------------------------------------------------------------------------


async def _campaign_in(client, tenant, state: str) -> dict:
    flow = await published_flow(client, tenant, ONE_MESSAGE)
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 2)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    await Campaign.update({Campaign.status: state}).where(Campaign.id == campaign["id"])
    return campaign


async def _act(client, tenant, action: str, campaign: dict, new_start: str):
    url = f"/api/v1/campaigns/{campaign['id']}"
    headers = tenant.headers("marketer")
    if action == "suspend":
        return await client.post(f"{url}/suspend", headers=headers)
    if action == "resume":
        return await client.post(f"{url}/resume", json={"start_at": new_start}, headers=headers)
    if action == "modify":
        return await client.patch(url, json={"name": "Renamed offer"}, headers=headers)
    if action == "end":
        return await client.post(f"{url}/end", headers=headers)
    return await client.delete(url, headers=headers)


@pytest.mark.parametrize(("action", "state"), CASES)
async def test_every_action_in_every_state_through_the_api(client, tenant, action, state):
    campaign = await _campaign_in(client, tenant, state)
    new_start = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)

    response = await _act(client, tenant, action, campaign, new_start.isoformat())

    expected = TABLE[(action, state)]
    after = await client.get(f"/api/v1/campaigns/{campaign['id']}", headers=tenant.headers())
    if expected is None:
        assert response.status_code == 409, response.text
        body = response.json()
        assert body["error"] == "conflict"
        assert str(campaign["id"]) in body["detail"]
        assert f"cannot be {VERBS[action]}" in body["detail"]
        assert any(word in _why(body["detail"]) for word in STATE_WORDS[state]), body["detail"]
        # nothing changed
        assert after.status_code == 200
        assert after.json()["status"] == state
        assert after.json()["name"] == campaign["name"]
        assert after.json()["start_at"] == campaign["start_at"]
    elif expected == "gone":
        assert response.status_code == 204, response.text
        assert after.status_code == 404
        assert not await Campaign.exists().where(Campaign.id == campaign["id"])
    else:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == expected
        assert after.json()["status"] == expected
        if action == "modify":
            assert after.json()["name"] == "Renamed offer"
        if action == "resume":
            assert at(after.json()["start_at"]) == new_start


@pytest.mark.parametrize("state", STATES)
async def test_a_refused_action_leaves_an_audit_trail_of_nothing(client, tenant, state):
    """A 409 writes nothing: no audit event claims the campaign was suspended, resumed, changed or deleted."""
    from backend.audit.tables import AuditEvent

    campaign = await _campaign_in(client, tenant, state)
    new_start = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for action in ACTIONS:
        if TABLE[(action, state)] is None:
            assert (await _act(client, tenant, action, campaign, new_start)).status_code == 409
    actions = await AuditEvent.select(AuditEvent.action).where(
        (AuditEvent.target_type == "campaign") & (AuditEvent.target_id == str(campaign["id"]))
    )
    assert [row["action"] for row in actions] == ["campaign.created"]


async def test_the_whole_life_of_a_campaign_on_a_controlled_clock(client, tenant, redis_url):
    """scheduled → running (scheduler) → paused (suspend) → scheduled (resume) → running → ended, with
    the refusals each state gives along the way."""
    flow = await published_flow(client, tenant, ONE_MESSAGE)
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 2)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    url = f"/api/v1/campaigns/{campaign['id']}"
    headers = tenant.headers("marketer")

    async def status() -> str:
        return (await client.get(url, headers=headers)).json()["status"]

    assert await status() == "scheduled"
    assert (await client.post(f"{url}/suspend", headers=headers)).status_code == 409

    await tick(redis_url, at(campaign["start_at"], seconds=1))
    running = (await client.get(url, headers=headers)).json()
    assert running["status"] == "running"
    assert running["flow_version"] == 1
    assert (await client.patch(url, json={"name": "x"}, headers=headers)).status_code == 409
    assert (await client.delete(url, headers=headers)).status_code == 409

    suspended = await client.post(f"{url}/suspend", headers=headers)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "paused"
    assert (await client.patch(url, json={"name": "Paused offer"}, headers=headers)).status_code == 200

    new_start = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    resumed = await client.post(f"{url}/resume", json={"start_at": new_start.isoformat()}, headers=headers)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "scheduled"
    assert resumed.json()["flow_version"] == 1  # the pinned version stays

    await tick(redis_url, new_start + timedelta(seconds=1))
    assert await status() == "running"

    await tick(redis_url, at(campaign["end_at"], seconds=1))
    ended = (await client.get(url, headers=headers)).json()
    assert ended["status"] == "ended"
    assert ended["ended_at"] is not None
    for action in ("suspend", "resume", "modify"):
        assert (await _act(client, tenant, action, campaign, new_start.isoformat())).status_code == 409
    assert (await client.delete(url, headers=headers)).status_code == 204
