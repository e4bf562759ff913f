"""Times as people read them in lists: "5 min ago", with the exact time (in UTC) for a tooltip."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_timestamp(text: str) -> datetime:
    """The API's ISO 8601 times (``...Z``), as aware datetimes."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def plural(count: int, unit: str) -> str:
    """``1 hour``, ``3 hours``."""
    return f"{count} {unit}{'' if count == 1 else 's'}"


def relative_time(moment: datetime, now: datetime) -> str:
    """``just now``, ``5 min ago``, ``3 hours ago``, ``yesterday``, ``4 days ago``, then the date."""
    seconds = max(0.0, (now - moment).total_seconds())  # a clock a little ahead is not "in 2 min"
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{plural(int(seconds // 3600), 'hour')} ago"
    days = int(seconds // 86400)
    if days == 1:
        return "yesterday"
    if days < 30:
        return f"{days} days ago"
    return f"{moment.day} {moment:%b}" + ("" if moment.year == now.year else f" {moment.year}")


def absolute_time(moment: datetime) -> str:
    """The exact time for the tooltip; in UTC and saying so, since the server cannot know the browser's
    time zone."""
    utc = moment.astimezone(UTC)
    return f"{utc.day} {utc:%b %Y, %H:%M} UTC"


def relative_now(text: str) -> tuple[str, str]:
    """An API timestamp as (relative, exact) for a label and its tooltip."""
    moment = parse_timestamp(text)
    return relative_time(moment, datetime.now(UTC)), absolute_time(moment)
