"""Times in lists: relative for reading, exact (UTC) for the tooltip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ui.components.times import absolute_time, relative_time


def test_times_read_relative_with_an_exact_utc_tooltip() -> None:
    now = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
    cases = {
        timedelta(seconds=20): "just now",
        timedelta(seconds=-30): "just now",  # a clock slightly ahead of ours
        timedelta(minutes=5): "5 min ago",
        timedelta(hours=1): "1 hour ago",
        timedelta(hours=3, minutes=50): "3 hours ago",
        timedelta(hours=30): "yesterday",
        timedelta(days=6): "6 days ago",
        timedelta(days=60): "13 Jan",
        timedelta(days=400): "7 Feb 2025",
    }
    for ago, text in cases.items():
        assert relative_time(now - ago, now) == text, ago
    assert absolute_time(datetime(2026, 3, 4, 9, 5, tzinfo=UTC)) == "4 Mar 2026, 09:05 UTC"
