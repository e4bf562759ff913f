"""The rules behind the campaign screens: actions per state, the form's checks, the audience sentence,
progress and the time left, the chart's minutes, and the counts drawn on the graph."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ui.components.campaign_rules import (
    CampaignForm,
    allowed_actions,
    audience_sentence,
    duration_words,
    edge_counts,
    field_of,
    funnel,
    messages_per_minute,
    minute_series,
    next_start,
    node_chips,
    parse_input_time,
    progress,
)

NOW = datetime(2026, 12, 5, 10, 30, 20, tzinfo=UTC)


def filled(**changes) -> CampaignForm:
    form = CampaignForm(
        name="Spring sale",
        flow_id=1,
        group_id=2,
        sender_id=3,
        start="2026-12-09T09:00",
        end="2026-12-16T18:00",
        unit="hour",
        count=2,
    )
    for key, value in changes.items():
        setattr(form, key, value)
    return form


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        ("scheduled", ("modify", "end", "delete")),
        ("running", ("suspend", "end")),
        ("paused", ("resume", "modify", "end", "delete")),
        ("ended", ("delete",)),
    ],
)
def test_each_state_offers_only_what_the_seed_allows(status: str, actions: tuple[str, ...]) -> None:
    assert allowed_actions(status) == actions


def test_a_complete_form_has_no_problems_and_becomes_the_api_body() -> None:
    form = filled(description="Spring offer")
    assert form.problems(NOW) == {}
    assert form.body() == {
        "name": "Spring sale",
        "description": "Spring offer",
        "flow_id": 1,
        "group_id": 2,
        "sender_id": 3,
        "category_id": None,
        "kind": "marketing",
        "start_at": "2026-12-09T09:00:00Z",
        "end_at": "2026-12-16T18:00:00Z",
        "every": {"unit": "hour", "count": 2},
        "opted_in_only": True,
        "allow_reentry": False,
    }


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": "  "}, "name", "Give the campaign a name"),
        ({"name": "x" * 61}, "name", "At most 60 characters (61 now)"),
        ({"description": "y" * 91}, "description", "At most 90 characters"),
        ({"flow_id": None}, "flow_id", "Pick a flow"),
        ({"start": "2026-12-05T10:30"}, "start_at", "later than now"),
        ({"start": ""}, "start_at", "Pick when"),
        ({"end": "2026-12-09T09:00"}, "end_at", "later than the start"),
        ({"count": 0}, "every.count", "whole number"),
        ({"count": 1.5}, "every.count", "whole number"),
        ({"count": None}, "every.count", "whole number"),
    ],
)
def test_the_form_names_what_is_wrong(changes: dict, field: str, words: str) -> None:
    problems = filled(**changes).problems(NOW)
    assert list(problems) == [field]
    assert words in problems[field]


def test_sixty_characters_and_ninety_are_allowed() -> None:
    assert filled(name="x" * 60, description="y" * 90).problems(NOW) == {}


def test_the_preview_asks_only_about_what_is_filled_in() -> None:
    form = CampaignForm(group_id=2, sender_id=3, count=None, start="", end="")
    assert form.preview_body(None) == {
        "group_id": 2,
        "sender_id": 3,
        "kind": "marketing",
        "opted_in_only": True,
        "allow_reentry": False,
    }
    assert filled().preview_body(7)["campaign_id"] == 7
    assert "flow_id" not in filled().preview_body(None)  # the preview refuses fields it does not read


def test_a_campaign_loads_into_the_form_and_back_unchanged() -> None:
    campaign = {
        **filled().body(),
        "id": 9,
        "every": {"unit": "day", "count": 3},
        "start_at": "2026-12-09T09:00:00Z",
        "end_at": "2026-12-16T18:00:00Z",
    }
    form = CampaignForm.from_campaign(campaign)
    assert form.body()["every"] == {"unit": "day", "count": 3}
    assert form.body()["start_at"] == "2026-12-09T09:00:00Z"


def test_input_times_are_utc_and_unreadable_ones_are_none() -> None:
    assert parse_input_time("2026-12-09T09:00") == datetime(2026, 12, 9, 9, tzinfo=UTC)
    assert parse_input_time("2026-12-09T10:00+01:00") == datetime(2026, 12, 9, 9, tzinfo=UTC)
    assert parse_input_time("tomorrow") is None
    assert next_start(NOW) == datetime(2026, 12, 5, 11, tzinfo=UTC)
    assert next_start(datetime(2026, 12, 5, 10, 55, tzinfo=UTC)) == datetime(2026, 12, 5, 12, tzinfo=UTC)


def test_api_errors_land_under_the_count_of_the_plan() -> None:
    assert field_of("every") == "every.count"
    assert field_of("every.unit") == "every.count"
    assert field_of("name") == "name"


def audience(members: int, eligible: int, **excluded: int) -> dict:
    counts = {"opted_out": 0, "no_address": 0, "already_entered": 0, **excluded}
    return {"members": members, "eligible": eligible, "excluded": counts}


def test_the_audience_sentence_of_the_seed() -> None:
    assert (
        audience_sentence(audience(1000, 990, opted_out=10)) == "990 of 1,000 will receive it — 10 opted out"
    )
    assert audience_sentence(audience(5, 5)) == "5 of 5 will receive it"
    assert audience_sentence(audience(0, 0)) == "The group has no members yet."
    assert audience_sentence(audience(10, 6, opted_out=1, no_address=3)) == (
        "6 of 10 will receive it — 1 opted out, 3 without an address on this channel"
    )


def test_the_send_rate_counts_the_last_full_minutes_only() -> None:
    per_minute = [
        {"minute": "2026-12-05T10:24:00Z", "sent": 1000},  # six minutes ago: outside the window
        {"minute": "2026-12-05T10:26:00Z", "sent": 300},
        {"minute": "2026-12-05T10:29:00Z", "sent": 200},
        {"minute": "2026-12-05T10:30:00Z", "sent": 999},  # still filling
    ]
    assert messages_per_minute(per_minute, NOW) == 100.0


def audience_answer(eligible: int, inside: int) -> dict:
    return {"eligible": eligible, "excluded": {"already_entered": inside, "opted_out": 0, "no_address": 0}}


def test_progress_and_time_left() -> None:
    running = progress(
        {"entered": 100, "sent": 200}, audience_answer(300, 100), rate_per_minute=60.0, status="running"
    )
    assert (running.reached, running.total, running.fraction) == (100, 400, 0.25)
    assert running.headline == "100 of 400 contacts reached"
    assert (
        running.left_text == "about 10 minutes left at 60 messages a minute"
    )  # 300 contacts x 2 messages / 60 a minute
    assert (
        progress({"entered": 5}, audience_answer(0, 5), 0.0, "running").left_text
        == "Everyone eligible has been reached"
    )
    assert "next trigger" in progress({}, audience_answer(40, 0), 0.0, "scheduled").left_text
    assert progress({"entered": 5}, audience_answer(0, 3), 10.0, "paused").left_text.startswith("Paused")
    # an audience answer older than the latest count never makes the total smaller than who is in
    assert progress({"entered": 192}, audience_answer(0, 190), 50.0, "running").total == 192


def test_where_contacts_may_enter_again_entries_are_not_people() -> None:
    # the demo's second trigger: 285 contacts, 394 entries; 30 in the flow now, the rest may enter again
    state = progress({"entered": 394, "sent": 394}, audience_answer(255, 30), 40.0, "running", reentry=True)
    assert state.headline == "30 of 285 contacts in the flow now · 394 entries so far"
    assert state.left_text == "255 still to reach at the next trigger"
    assert state.fraction == 30 / 285
    everyone = progress({"entered": 1}, audience_answer(0, 1), 0.0, "running", reentry=True)
    assert everyone.headline == "1 of 1 contacts in the flow now · 1 entry so far"
    assert everyone.left_text == "Everyone eligible is in the flow"
    assert funnel(True)[0] == ("entered", "Entries")
    assert funnel(False)[0] == ("entered", "Contacts in")
    assert duration_words(0.5) == "less than a minute"
    assert duration_words(180) == "3 hours"
    assert duration_words(60 * 24 * 3) == "3 days"


def test_the_chart_fills_quiet_minutes_with_zeros() -> None:
    per_minute = [
        {"minute": "2026-12-05T10:27:00Z", "sent": 5},
        {"minute": "2026-12-05T10:29:00Z", "sent": 7},
    ]
    assert minute_series(per_minute, NOW) == [("10:27", 5), ("10:28", 0), ("10:29", 7), ("10:30", 0)]
    assert minute_series([], NOW) == []
    long_ago = [{"minute": "2026-12-04T08:00:00Z", "sent": 3}]
    assert minute_series(long_ago, NOW) == [("08:00", 3)]  # an old campaign ends at its last send
    busy = [{"minute": (NOW - timedelta(minutes=m)).isoformat(), "sent": 1} for m in range(50)]
    assert len(minute_series(busy, NOW)) == 30


def test_the_graph_gets_nonzero_chips_and_a_number_on_every_drawn_path() -> None:
    nodes = {"offer": {"entered": 18, "waiting": 17, "sent": 18, "failed": 0}, "done": {"entered": 0}}
    assert node_chips(nodes) == {
        "offer": [
            {"label": "in", "value": "18", "tone": "info"},
            {"label": "waiting", "value": "17", "tone": "wait"},
            {"label": "sent", "value": "18", "tone": "plain"},
        ]
    }
    ids = {("start", "next", "offer"): "e1", ("offer", "button:yes", "done"): "e2"}
    stats_edges = [
        {"source": "start", "port": "next", "target": "offer", "count": 18},
        {"source": "gone", "port": "next", "target": "offer", "count": 4},  # not on this version's canvas
    ]
    assert edge_counts(stats_edges, ids) == {"e1": 18, "e2": 0}
