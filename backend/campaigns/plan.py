"""The execution plan: when a campaign's triggers fire (pure: no clock, no I/O).

Triggers fire at ``anchor + k·every`` for k = 0, 1, … while the moment is before ``end``. Minutes and
hours are counted in absolute time. Days keep the wall-clock time of the anchor in the workspace's time
zone: a campaign that starts at 09:00 fires at 09:00 every day, across daylight-saving changes.

After downtime the scheduler fires once for the latest slot it missed (:func:`due_slot`) and then waits
for the next one (:func:`next_slot_after`): one catch-up trigger, never a burst.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

Unit = Literal["minute", "hour", "day"]
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
MAX_PERIOD = timedelta(days=3660)
"""The longest effective period a campaign may have (ten years)."""


def slot(anchor: datetime, unit: Unit, every: int, k: int, zone: tzinfo = UTC) -> datetime:
    """The k-th slot of the plan, in UTC (slot 0 is the anchor itself)."""
    if k == 0:
        return anchor.astimezone(UTC)
    if unit == "day":
        local = anchor.astimezone(zone)
        wall = local.replace(tzinfo=None) + timedelta(days=every * k)
        return _localize(wall, zone, local.fold).astimezone(UTC)
    return anchor.astimezone(UTC) + timedelta(seconds=UNIT_SECONDS[unit] * every * k)


def _localize(wall: datetime, zone: tzinfo, fold: int = 0) -> datetime:
    """A wall time in ``zone``: in a repeated hour (fall back) the same occurrence as the anchor's; a
    time that does not exist that day (spring forward) moves past the gap."""
    aware = wall.replace(tzinfo=zone, fold=fold)
    round_trip = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != wall:  # in the gap: take the same offset as before it
        return aware.astimezone(UTC).astimezone(zone)
    return aware


def _index_at_or_before(anchor: datetime, unit: Unit, every: int, moment: datetime, zone: tzinfo) -> int:
    """The largest k whose slot is at or before ``moment`` (-1 when even the anchor is later)."""
    if moment < anchor:
        return -1
    step = UNIT_SECONDS[unit] * every
    k = int((moment - anchor).total_seconds() // step)
    # Day slots drift from the plain division by an hour around DST changes: settle on the exact one.
    while k > 0 and slot(anchor, unit, every, k, zone) > moment:
        k -= 1
    while _fits(anchor, unit, every, k + 1, zone) and slot(anchor, unit, every, k + 1, zone) <= moment:
        k += 1
    return k


def _fits(anchor: datetime, unit: Unit, every: int, k: int, zone: tzinfo) -> bool:
    """Whether the k-th slot is a date Python can hold (a plan may end near year 9999)."""
    try:
        slot(anchor, unit, every, k, zone)
    except OverflowError:
        return False
    return True


def due_slot(anchor: datetime, unit: Unit, every: int, now: datetime, zone: tzinfo = UTC) -> datetime | None:
    """The latest slot at or before ``now`` (the one a late scheduler fires, once), or None."""
    k = _index_at_or_before(anchor, unit, every, now, zone)
    return None if k < 0 else slot(anchor, unit, every, k, zone)


def next_slot_after(
    anchor: datetime, unit: Unit, every: int, moment: datetime, zone: tzinfo = UTC
) -> datetime | None:
    """The first slot strictly after ``moment`` (None past the last date there is)."""
    k = _index_at_or_before(anchor, unit, every, moment, zone)
    return slot(anchor, unit, every, k + 1, zone) if _fits(anchor, unit, every, k + 1, zone) else None


def count_slots(anchor: datetime, end: datetime, unit: Unit, every: int, zone: tzinfo = UTC) -> int:
    """How many triggers fire in ``[anchor, end)`` ("every 2 hours from … to …, 89 triggers")."""
    if end <= anchor:
        return 0
    last = _index_at_or_before(anchor, unit, every, end, zone)
    if slot(anchor, unit, every, last, zone) >= end:
        last -= 1
    return last + 1
