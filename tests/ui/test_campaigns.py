"""The campaign screens against a real api: the list, the form with its live audience count and the
opt-in toggle's confirmation, and the monitor whose numbers move with the api's live feed.

Campaigns are started with the scheduler's own ``tick`` at a controlled clock and worked in this process
(``work``), as the backend's campaign tests do; the monitor learns of it through the api's WebSocket
(the worker publishes on Redis, the live api process pushes), with no reload.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from nicegui.testing.user import User

from tests.backend.campaigns.helpers import (
    campaign_messages,
    create_campaign,
    group_of,
    published_flow,
    sandbox_sender,
    start_and_work,
    tap,
    work,
)
from tests.conftest import Tenant
from tests.ui.conftest import log_in_and_wait, only, see
from ui.components.campaign_rules import input_time


async def _setup(client: httpx.AsyncClient, tenant: Tenant, *, source: str = "keyword") -> dict:
    flow = await published_flow(client, tenant, name="Spring offer flow")
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 20, opted_out=2, source=source, name="Spring customers")
    return {"flow": flow, "sender": sender, "group": group}


async def _api(client: httpx.AsyncClient, tenant: Tenant, path: str) -> dict:
    response = await client.get(path, headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()


async def _running_on_its_monitor(
    user: User, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> dict:
    """A campaign started and worked (its 18 messages sent), and the admin on its monitor."""
    made = await _setup(client, tenant)
    campaign = await create_campaign(
        client, tenant, made["flow"]["id"], made["group"]["id"], made["sender"]["id"]
    )
    await start_and_work(redis_url, campaign)
    await log_in_and_wait(
        user, tenant.admin_email, tenant.admin_password, path=f"/login?next=/campaigns/{campaign['id']}"
    )
    return campaign


async def test_the_list_shows_each_campaign_with_its_state_and_filters_by_status(
    user: User, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    made = await _setup(client, tenant)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    scheduled = await create_campaign(
        client,
        tenant,
        made["flow"]["id"],
        made["group"]["id"],
        made["sender"]["id"],
        name="Winter news",
        start_at=later,
    )
    running = await create_campaign(
        client, tenant, made["flow"]["id"], made["group"]["id"], made["sender"]["id"], name="Spring sale"
    )
    await start_and_work(redis_url, running)

    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password, path="/login?next=/campaigns")
    await see(user, marker=f"campaign-{scheduled['id']}")
    await see(user, marker=f"campaign-{running['id']}")
    await see(user, marker="campaign-status", content="Running")
    await see(user, marker="campaign-sent", content="18")  # sent so far, from the stats
    await see(user, "Spring offer flow v1")  # the flow and its pinned version

    only(user, marker="filter-status").set_value("scheduled")
    await see(user, marker="campaign-count", content="1 campaign")
    await user.should_not_see(marker=f"campaign-{running['id']}")
    await see(user, marker=f"campaign-{scheduled['id']}")
    await user.should_not_see(marker="campaign-status", content="Running")


async def test_the_form_shows_who_it_reaches_and_creates_the_campaign(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    made = await _setup(client, tenant)
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password, path="/login?next=/campaigns/new")
    await see(user, marker="campaign-form")

    user.find(marker="campaign-name").type("Spring sale")
    only(user, marker="campaign-flow").set_value(made["flow"]["id"])
    only(user, marker="campaign-sender").set_value(made["sender"]["id"])
    only(user, marker="campaign-group").set_value(made["group"]["id"])
    await see(user, marker="audience-count", content="18 of 20 will receive it — 2 opted out")
    await see(user, marker="download-excluded")

    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=1)
    only(user, marker="campaign-start").set_value(input_time(start))
    only(user, marker="campaign-end").set_value(input_time(start + timedelta(hours=10)))
    only(user, marker="campaign-every").set_value(2)
    only(user, marker="campaign-unit").set_value("hour")
    await see(user, marker="campaign-plan", content="every 2 hours")
    await see(user, marker="campaign-plan", content="5 triggers")

    user.find(marker="save-campaign").click()
    await see(user, marker="kpis")  # the monitor of the new campaign
    campaigns = (await _api(client, tenant, "/api/v1/campaigns"))["items"]
    assert [(c["name"], c["opted_in_only"], c["every"]) for c in campaigns] == [
        ("Spring sale", True, {"unit": "hour", "count": 2})
    ]
    assert user.back_history[-1] == f"/campaigns/{campaigns[0]['id']}"


async def test_the_form_says_what_is_wrong_while_typing_and_saves_nothing(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await _setup(client, tenant)
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password, path="/login?next=/campaigns/new")
    await see(user, marker="campaign-form")

    user.find(marker="campaign-name").type("x" * 61)
    past = datetime.now(UTC) - timedelta(hours=1)
    only(user, marker="campaign-start").set_value(input_time(past))
    await see(user, marker="campaign-name", content="At most 60 characters")
    await see(user, marker="campaign-start", content="later than now")

    user.find(marker="save-campaign").click()
    await see(user, "Some fields need attention.")
    await see(user, marker="campaign-flow", content="Pick a flow.")
    assert (await _api(client, tenant, "/api/v1/campaigns"))["items"] == []


async def test_turning_the_opt_in_toggle_off_needs_the_warning_confirmed(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    made = await _setup(client, tenant, source="manual")  # marked by an admin, not their own STOP
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password, path="/login?next=/campaigns/new")
    await see(user, marker="campaign-form")
    user.find(marker="campaign-name").type("Everyone")
    only(user, marker="campaign-flow").set_value(made["flow"]["id"])
    only(user, marker="campaign-sender").set_value(made["sender"]["id"])
    only(user, marker="campaign-group").set_value(made["group"]["id"])
    await see(user, marker="audience-count", content="18 of 20")

    only(user, marker="opted-in-only").set_value(False)
    await see(user, marker="opt-in-warning", content="quality rating")
    user.find(marker="keep-opt-in").click()
    await user.should_not_see(marker="opt-in-dialog", retries=50)
    assert only(user, marker="opted-in-only").value is True

    only(user, marker="opted-in-only").set_value(False)
    await see(user, marker="opt-in-dialog")
    user.find(marker="confirm-opt-in-off").click()
    await see(user, marker="audience-count", content="20 of 20 will receive it")

    user.find(marker="save-campaign").click()
    await see(user, marker="kpis")
    campaign = (await _api(client, tenant, "/api/v1/campaigns"))["items"][0]
    assert campaign["opted_in_only"] is False
    audit = await _api(client, tenant, "/api/v1/audit-log")
    assert any("opted" in str(entry).lower() for entry in audit["items"])


async def test_the_monitor_moves_with_the_campaign_without_a_reload(
    user: User, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    made = await _setup(client, tenant)
    campaign = await create_campaign(
        client, tenant, made["flow"]["id"], made["group"]["id"], made["sender"]["id"]
    )
    await log_in_and_wait(
        user, tenant.admin_email, tenant.admin_password, path=f"/login?next=/campaigns/{campaign['id']}"
    )
    await see(user, marker="kpi-value-members", content="20")
    await see(user, marker="kpi-value-eligible", content="18")
    await see(user, marker="live-state", content="Live")
    await see(user, marker="kpi-value-sent", content="0")
    assert only(user, marker="rate-chart").options["title"]["show"]  # "Nothing sent yet" over the chart

    await start_and_work(redis_url, campaign)  # the worker publishes; the api's socket pushes
    await see(user, marker="kpi-value-sent", content="18")
    assert not only(user, marker="rate-chart").options["title"]["show"]
    await see(user, marker="campaign-status", content="Running")
    await see(user, marker="progress-text", content="18 of 18 contacts reached")
    editor = only(user, marker="flow-editor")
    assert editor.props["counts"]["edges"]  # counts on the paths of the graph
    chips = editor.props["counts"]["nodes"]["offer"]
    assert {"label": "sent", "value": "18", "tone": "plain"} in chips
    assert {"label": "waiting", "value": "18", "tone": "wait"} in chips

    sent = await campaign_messages(campaign["id"])
    await tap(client, tenant, made["sender"]["id"], sent[0], "yes")
    await work(redis_url)
    await see(user, marker="kpi-value-replied", content="1")
    await see(user, marker="kpi-value-completed", content="1")
    edges = only(user, marker="flow-editor").props["counts"]["edges"]
    assert edges["e-offer-button:yes-follow_up"] == 1 and edges["e-offer-button:no-declined"] == 0


async def test_where_contacts_may_enter_again_the_monitor_counts_entries_and_follows_the_audience(
    user: User, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    made = await _setup(client, tenant)
    campaign = await create_campaign(
        client,
        tenant,
        made["flow"]["id"],
        made["group"]["id"],
        made["sender"]["id"],
        allow_reentry=True,
    )
    await log_in_and_wait(
        user, tenant.admin_email, tenant.admin_password, path=f"/login?next=/campaigns/{campaign['id']}"
    )
    await see(user, marker="next-trigger", content="Starts ")
    await start_and_work(redis_url, campaign)
    await see(user, marker="progress-text", content="18 of 18 contacts in the flow now · 18 entries so far")
    await see(user, marker="next-trigger", content="Next trigger")
    await see(user, marker="next-trigger", content="1 fired so far")

    # one finishes the flow: they may enter again at the next trigger, which the audience card shows
    sent = await campaign_messages(campaign["id"])
    await tap(client, tenant, made["sender"]["id"], sent[0], "yes")
    await work(redis_url)
    await see(user, marker="kpi-value-completed", content="1")
    await see(user, marker="kpi-value-eligible", content="1")
    await see(user, marker="progress-text", content="17 of 18 contacts in the flow now · 18 entries so far")

    # the contact's conversation names the campaign each message came from
    await user.open(f"/audience/contacts/{sent[0]['contact']}")
    await see(user, marker="message-campaign", content="Spring offer")


async def test_suspend_resume_and_delete_from_the_monitor(
    user: User, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    campaign = await _running_on_its_monitor(user, tenant, client, redis_url)
    await see(user, marker="campaign-status", content="Running")
    await user.should_not_see(marker="campaign-delete")  # a running campaign cannot be deleted

    user.find(marker="campaign-suspend").click()
    await see(user, marker="suspend-dialog")
    await see(user, "continue where they stopped")
    user.find(marker="confirm-suspend").click()
    await see(user, marker="campaign-status", content="Paused")
    assert (await _api(client, tenant, f"/api/v1/campaigns/{campaign['id']}"))["status"] == "paused"

    user.find(marker="campaign-resume").click()
    await see(user, marker="resume-dialog")
    user.find(marker="confirm-resume").click()
    await see(user, marker="campaign-status", content="Scheduled")
    resumed = await _api(client, tenant, f"/api/v1/campaigns/{campaign['id']}")
    assert resumed["status"] == "scheduled"
    assert datetime.fromisoformat(resumed["start_at"]) > datetime.now(UTC)

    user.find(marker="campaign-delete").click()
    await see(user, marker="delete-dialog")
    await see(user, "cannot be undone")
    user.find(marker="confirm-delete").click()
    await see(user, marker="page-title", content="Campaigns")
    response = await client.get(f"/api/v1/campaigns/{campaign['id']}", headers=tenant.headers())
    assert response.status_code == 404


async def test_ending_a_running_campaign_from_the_monitor_keeps_its_numbers(
    user: User, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    campaign = await _running_on_its_monitor(user, tenant, client, redis_url)
    await see(user, marker="kpi-value-sent", content="18")

    user.find(marker="campaign-end").click()
    await see(user, marker="end-dialog")
    await see(user, "Its statistics and report stay")
    user.find(marker="confirm-end").click()
    await see(user, marker="campaign-status", content="Ended")
    await see(user, marker="eta", content="Ended")
    await see(user, marker="kpi-value-sent", content="18")  # its numbers stay
    await user.should_not_see(marker="campaign-end")
    ended = await _api(client, tenant, f"/api/v1/campaigns/{campaign['id']}")
    assert ended["status"] == "ended"


async def test_a_viewer_watches_but_gets_no_actions(
    user: User, tenant: Tenant, client: httpx.AsyncClient, add_user
) -> None:
    made = await _setup(client, tenant)
    campaign = await create_campaign(
        client, tenant, made["flow"]["id"], made["group"]["id"], made["sender"]["id"]
    )
    email, password = await add_user(tenant, "viewer")
    await log_in_and_wait(user, email, password, path=f"/login?next=/campaigns/{campaign['id']}")
    await see(user, marker="kpis")
    await user.should_not_see(marker="campaign-modify")
    await user.should_not_see(marker="campaign-end")
    await user.should_not_see(marker="campaign-delete")
    await user.open("/campaigns")
    await see(user, marker=f"campaign-{campaign['id']}")
    await user.should_not_see(marker="new-campaign")
