"""The execution plan (backend/campaigns/plan.py): pure, so every case is a moment in, a moment out.

Dates are fixed (no clock). Europe/Lisbon changes to summer time on 29 Mar 2026 (01:00 → 02:00) and
back on 25 Oct 2026 (02:00 → 01:00); 09:00 there is 09:00 UTC in winter and 08:00 UTC in summer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.campaigns.plan import count_slots, due_slot, next_slot_after, slot

LISBON = ZoneInfo("Europe/Lisbon")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def lisbon(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LISBON)


# --- slot ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "every", "k", "expected"),
    [
        ("minute", 1, 0, utc(2026, 12, 9, 9, 0)),
        ("minute", 1, 1, utc(2026, 12, 9, 9, 1)),
        ("minute", 15, 4, utc(2026, 12, 9, 10, 0)),
        ("minute", 30, 48, utc(2026, 12, 10, 9, 0)),
        ("hour", 1, 1, utc(2026, 12, 9, 10, 0)),
        ("hour", 2, 3, utc(2026, 12, 9, 15, 0)),
        ("hour", 6, 4, utc(2026, 12, 10, 9, 0)),
        ("day", 1, 1, utc(2026, 12, 10, 9, 0)),
        ("day", 3, 2, utc(2026, 12, 15, 9, 0)),
        ("day", 1, 23, utc(2027, 1, 1, 9, 0)),  # across a month and a year
    ],
)
def test_slot_is_anchor_plus_k_steps(unit, every, k, expected):
    assert slot(utc(2026, 12, 9, 9, 0), unit, every, k) == expected


def test_the_first_slot_is_the_anchor_itself_in_utc():
    anchor = datetime(2026, 12, 9, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # 09:00 UTC
    for unit in ("minute", "hour", "day"):
        first = slot(anchor, unit, 5, 0, LISBON)
        assert first == utc(2026, 12, 9, 9, 0)
        assert first.utcoffset() == timedelta(0)


def test_day_plan_keeps_the_wall_clock_time_across_spring_forward():
    anchor = lisbon(2026, 3, 27, 9, 0)  # 09:00 UTC (winter)
    slots = [slot(anchor, "day", 1, k, LISBON) for k in range(5)]
    assert slots == [
        utc(2026, 3, 27, 9, 0),
        utc(2026, 3, 28, 9, 0),
        utc(2026, 3, 29, 8, 0),  # summer time from this morning: 09:00 local is 08:00 UTC
        utc(2026, 3, 30, 8, 0),
        utc(2026, 3, 31, 8, 0),
    ]
    assert {s.astimezone(LISBON).strftime("%H:%M") for s in slots} == {"09:00"}
    # the day the clocks changed is only 23 hours long
    assert slots[2] - slots[1] == timedelta(hours=23)


def test_day_plan_keeps_the_wall_clock_time_across_fall_back():
    anchor = lisbon(2026, 10, 23, 9, 0)  # 08:00 UTC (summer)
    slots = [slot(anchor, "day", 1, k, LISBON) for k in range(4)]
    assert slots == [
        utc(2026, 10, 23, 8, 0),
        utc(2026, 10, 24, 8, 0),
        utc(2026, 10, 25, 9, 0),  # winter time again: 09:00 local is 09:00 UTC
        utc(2026, 10, 26, 9, 0),
    ]
    assert {s.astimezone(LISBON).strftime("%H:%M") for s in slots} == {"09:00"}
    assert slots[2] - slots[1] == timedelta(hours=25)


def test_every_two_days_keeps_the_wall_clock_in_new_york_across_its_dst_change():
    anchor = datetime(2026, 3, 6, 18, 30, tzinfo=NEW_YORK)  # EST; clocks spring forward on 8 Mar
    slots = [slot(anchor, "day", 2, k, NEW_YORK) for k in range(3)]
    assert [s.astimezone(NEW_YORK).strftime("%d %H:%M") for s in slots] == [
        "06 18:30",
        "08 18:30",
        "10 18:30",
    ]
    assert slots[1] - slots[0] == timedelta(hours=47)


def test_day_plan_in_the_workspace_zone_differs_from_one_in_utc():
    """Without the zone the plan counts UTC days and slides an hour against local time in summer."""
    anchor = lisbon(2026, 3, 28, 9, 0)
    assert slot(anchor, "day", 1, 1, UTC) == utc(2026, 3, 29, 9, 0)  # 10:00 in Lisbon
    assert slot(anchor, "day", 1, 1, LISBON) == utc(2026, 3, 29, 8, 0)  # 09:00 in Lisbon


def test_minute_and_hour_plans_count_absolute_time_across_dst():
    anchor = lisbon(2026, 3, 29, 0, 30)  # 00:30 UTC, half an hour before the clocks jump
    assert slot(anchor, "hour", 1, 1, LISBON) == utc(2026, 3, 29, 1, 30)  # 02:30 local: no 01:30 today
    assert slot(anchor, "hour", 1, 2, LISBON) == utc(2026, 3, 29, 2, 30)
    assert slot(anchor, "minute", 45, 2, LISBON) == utc(2026, 3, 29, 2, 0)
    back = lisbon(2026, 10, 25, 0, 30)  # 23:30 UTC the day before; 01:00-02:00 happens twice tonight
    hourly = [slot(back, "hour", 1, k, LISBON) for k in range(4)]
    assert [b - a for a, b in pairwise(hourly)] == [timedelta(hours=1)] * 3


def test_a_daily_time_that_does_not_exist_on_the_change_day_moves_past_the_gap():
    anchor = lisbon(2026, 3, 28, 1, 30)  # 01:30 UTC; on 29 Mar 01:00-02:00 does not exist in Lisbon
    skipped = slot(anchor, "day", 1, 1, LISBON)
    assert skipped == utc(2026, 3, 29, 1, 30)
    assert skipped.astimezone(LISBON).strftime("%H:%M") == "02:30"
    assert slot(anchor, "day", 1, 2, LISBON).astimezone(LISBON).strftime("%H:%M") == "01:30"
    assert slot(anchor, "day", 1, 0, LISBON) < skipped < slot(anchor, "day", 1, 2, LISBON)


def test_a_day_plan_anchored_in_the_repeated_hour_starts_at_its_anchor():
    # 25 Oct 2026, 01:30 UTC is 01:30 WET in Lisbon, the second time the clocks show 01:30 that night.
    anchor = utc(2026, 10, 25, 1, 30)
    assert anchor.astimezone(LISBON).fold == 1
    assert slot(anchor, "day", 1, 0, LISBON) == anchor
    assert next_slot_after(anchor, "day", 1, anchor - timedelta(minutes=10), LISBON) == anchor
    assert due_slot(anchor, "day", 1, anchor, LISBON) == anchor


# --- due_slot and next_slot_after ---------------------------------------------------------------------


ANCHOR = utc(2026, 12, 9, 9, 0)


def test_nothing_is_due_before_the_anchor_and_the_first_slot_comes_next():
    before = ANCHOR - timedelta(seconds=1)
    for unit in ("minute", "hour", "day"):
        assert due_slot(ANCHOR, unit, 1, before) is None
        assert next_slot_after(ANCHOR, unit, 1, before) == ANCHOR
        assert next_slot_after(ANCHOR, unit, 1, ANCHOR - timedelta(days=400)) == ANCHOR


def test_a_slot_is_due_at_its_own_moment_and_the_next_one_is_strictly_later():
    assert due_slot(ANCHOR, "hour", 2, ANCHOR) == ANCHOR
    assert next_slot_after(ANCHOR, "hour", 2, ANCHOR) == ANCHOR + timedelta(hours=2)
    exactly_third = ANCHOR + timedelta(hours=6)
    assert due_slot(ANCHOR, "hour", 2, exactly_third) == exactly_third
    assert next_slot_after(ANCHOR, "hour", 2, exactly_third) == exactly_third + timedelta(hours=2)
    just_before = exactly_third - timedelta(microseconds=1)
    assert due_slot(ANCHOR, "hour", 2, just_before) == ANCHOR + timedelta(hours=4)
    assert next_slot_after(ANCHOR, "hour", 2, just_before) == exactly_third


@pytest.mark.parametrize(
    ("unit", "every", "now", "due", "following"),
    [
        # scheduler down from 10:30 to 15:10 on an hourly plan: one catch-up for 15:00, then 16:00
        ("hour", 1, utc(2026, 12, 9, 15, 10), utc(2026, 12, 9, 15, 0), utc(2026, 12, 9, 16, 0)),
        # every 15 minutes, back after 3 h 7 min: only the 12:00 slot, then 12:15
        ("minute", 15, utc(2026, 12, 9, 12, 7), utc(2026, 12, 9, 12, 0), utc(2026, 12, 9, 12, 15)),
        # daily, down for four and a half days: only today's 09:00, then tomorrow's
        ("day", 1, utc(2026, 12, 13, 21, 0), utc(2026, 12, 13, 9, 0), utc(2026, 12, 14, 9, 0)),
        # every 3 days, back on a day without a slot: the last one was the 15th, next the 18th
        ("day", 3, utc(2026, 12, 17, 9, 0), utc(2026, 12, 15, 9, 0), utc(2026, 12, 18, 9, 0)),
    ],
)
def test_after_downtime_only_the_latest_missed_slot_is_due(unit, every, now, due, following):
    assert due_slot(ANCHOR, unit, every, now) == due
    assert next_slot_after(ANCHOR, unit, every, now) == following
    # firing the catch-up and asking again just after gives no second slot for the missed ones
    assert next_slot_after(ANCHOR, unit, every, due) == following
    assert due_slot(ANCHOR, unit, every, following - timedelta(seconds=1)) == due


def test_due_slot_on_a_day_plan_across_spring_forward_is_the_local_nine_oclock():
    anchor = lisbon(2026, 3, 27, 9, 0)
    # 08:30 UTC on 29 Mar is 09:30 summer time: today's 09:00 (08:00 UTC) is due, although plain
    # division of the elapsed time by 24 h would say the 28th's slot.
    assert due_slot(anchor, "day", 1, utc(2026, 3, 29, 8, 30), LISBON) == utc(2026, 3, 29, 8, 0)
    assert due_slot(anchor, "day", 1, utc(2026, 3, 29, 7, 59), LISBON) == utc(2026, 3, 28, 9, 0)
    assert next_slot_after(anchor, "day", 1, utc(2026, 3, 29, 7, 59), LISBON) == utc(2026, 3, 29, 8, 0)
    assert next_slot_after(anchor, "day", 1, utc(2026, 3, 29, 8, 0), LISBON) == utc(2026, 3, 30, 8, 0)


def test_due_slot_on_a_day_plan_across_fall_back_is_the_local_nine_oclock():
    anchor = lisbon(2026, 10, 24, 9, 0)  # 08:00 UTC
    # 08:30 UTC on 25 Oct is 08:30 winter time: 24 h and a half after the anchor, yet today's 09:00
    # (09:00 UTC) has not come, so the due slot is still yesterday's.
    assert due_slot(anchor, "day", 1, utc(2026, 10, 25, 8, 30), LISBON) == utc(2026, 10, 24, 8, 0)
    assert next_slot_after(anchor, "day", 1, utc(2026, 10, 25, 8, 30), LISBON) == utc(2026, 10, 25, 9, 0)
    assert due_slot(anchor, "day", 1, utc(2026, 10, 25, 9, 0), LISBON) == utc(2026, 10, 25, 9, 0)


def test_due_slot_far_after_the_anchor_across_many_dst_changes():
    anchor = lisbon(2026, 1, 5, 9, 0)
    now = utc(2030, 7, 1, 12, 0)  # summer, four and a half years later
    assert due_slot(anchor, "day", 1, now, LISBON) == utc(2030, 7, 1, 8, 0)
    assert next_slot_after(anchor, "day", 1, now, LISBON) == utc(2030, 7, 2, 8, 0)
    assert due_slot(anchor, "day", 7, now, LISBON).astimezone(LISBON).weekday() == 0  # every 7 days: Mondays


# --- count_slots --------------------------------------------------------------------------------------


def test_every_two_hours_from_9_dec_0900_to_16_dec_1800_is_89_triggers():
    """7 days (168 h) plus 9 h = 177 h; slots at 0, 2, …, 176 h after the start are before the end:
    176 / 2 + 1 = 89. (The docstring of CampaignOut.plan says 85 for this plan; that figure is wrong.)"""
    start, end = utc(2026, 12, 9, 9, 0), utc(2026, 12, 16, 18, 0)
    assert count_slots(start, end, "hour", 2) == 89
    assert slot(start, "hour", 2, 88) == utc(2026, 12, 16, 17, 0) < end
    assert slot(start, "hour", 2, 89) > end


@pytest.mark.parametrize(
    ("unit", "every", "end", "expected"),
    [
        ("hour", 1, utc(2026, 12, 9, 9, 0), 0),  # empty period
        ("hour", 1, utc(2026, 12, 9, 8, 0), 0),  # end before start
        ("hour", 1, utc(2026, 12, 9, 9, 0, 1), 1),  # only the start fits
        ("hour", 1, utc(2026, 12, 9, 10, 0), 1),  # the end itself is not a trigger
        ("hour", 1, utc(2026, 12, 9, 10, 0, 1), 2),
        ("minute", 1, utc(2026, 12, 9, 10, 0), 60),
        ("minute", 7, utc(2026, 12, 9, 10, 0), 9),  # 0, 7, …, 56
        ("day", 1, utc(2026, 12, 16, 9, 0), 7),
        ("day", 1, utc(2026, 12, 16, 9, 0, 1), 8),
        ("day", 2, utc(2026, 12, 16, 18, 0), 4),  # 9, 11, 13, 15 Dec
        ("day", 30, utc(2026, 12, 10, 9, 0), 1),  # a step longer than the period: the start only
    ],
)
def test_count_slots_counts_the_half_open_period(unit, every, end, expected):
    assert count_slots(ANCHOR, end, unit, every) == expected


def test_count_slots_of_a_day_plan_across_a_dst_change():
    anchor = lisbon(2026, 3, 27, 9, 0)
    # 31 Mar 09:00 summer time is 08:00 UTC: four days, four slots (27, 28, 29, 30 Mar)
    assert count_slots(anchor, lisbon(2026, 3, 31, 9, 0), "day", 1, LISBON) == 4
    # half an hour later, the 31st's own 09:00 is inside: five
    assert count_slots(anchor, utc(2026, 3, 31, 8, 30), "day", 1, LISBON) == 5
    # counted in UTC days instead, 08:30 UTC is before 09:00 UTC: four
    assert count_slots(anchor, utc(2026, 3, 31, 8, 30), "day", 1, UTC) == 4


def test_count_slots_counts_huge_plans_exactly():
    start = utc(2026, 12, 9)
    assert count_slots(start, start + timedelta(days=365), "minute", 1) == 525_600
    assert count_slots(start, start + timedelta(days=365), "day", 1) == 365


@pytest.mark.parametrize(("unit", "every"), [("minute", 1), ("hour", 100_000), ("day", 1), ("day", 100_000)])
def test_count_slots_of_a_plan_that_ends_at_the_end_of_the_calendar(unit, every):
    start = utc(2026, 12, 9)
    end = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    counted = count_slots(start, end, unit, every)
    assert counted >= 1
    assert due_slot(start, unit, every, end) is not None
    assert next_slot_after(start, unit, every, end) is None  # past the last date Python can hold


def test_count_slots_agrees_with_walking_the_slots():
    anchor = lisbon(2026, 3, 20, 23, 45)
    end = lisbon(2026, 4, 30, 0, 0)
    for unit, every in (("minute", 720), ("hour", 5), ("day", 1), ("day", 4)):
        walked = 0
        while slot(anchor, unit, every, walked, LISBON) < end:
            walked += 1
        assert count_slots(anchor, end, unit, every, LISBON) == walked, (unit, every)


# --- a property -------------------------------------------------------------------------------------

ZONES = [UTC, LISBON, NEW_YORK, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Asia/Kolkata")]
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@st.composite
def plans(draw):
    unit = draw(st.sampled_from(["minute", "hour", "day"]))
    every = draw(st.integers(1, {"minute": 600, "hour": 48, "day": 10}[unit]))
    anchor = draw(
        st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
    )
    zone = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):  # anywhere in the next two years or so
        moment = anchor + timedelta(seconds=draw(st.integers(-3 * 86400, 800 * 86400)))
    else:  # close to a slot, where off-by-one and DST mistakes show
        k = draw(st.integers(0, 800))
        moment = slot(anchor, unit, every, k, zone) + timedelta(seconds=draw(st.integers(-7200, 7200)))
    return unit, every, anchor, zone, moment


@settings(max_examples=200, deadline=None, derandomize=True)
@given(plans())
def test_due_and_next_are_the_consecutive_slots_around_any_moment(case):
    unit, every, anchor, zone, moment = case
    after = next_slot_after(anchor, unit, every, moment, zone)
    due = due_slot(anchor, unit, every, moment, zone)
    assert after > moment
    if due is None:
        assert moment < anchor
        assert after == slot(anchor, unit, every, 0, zone)
        return
    assert due <= moment
    # find due's index (day slots drift from plain division by at most an hour or so)
    guess = round((due - anchor).total_seconds() / (UNIT_SECONDS[unit] * every))
    k = next(k for k in (guess, guess - 1, guess + 1) if k >= 0 and slot(anchor, unit, every, k, zone) == due)
    assert slot(anchor, unit, every, k + 1, zone) == after
