"""What the campaign screens say and allow, as plain functions: state actions, the form's checks, the
audience sentence, progress and the counts drawn on the monitor's graph.

Nothing here draws or calls the API, so the rules are tested directly and the pages stay about layout.
The API remains the judge: the form checks only what a person should see while typing (lengths, the
period's order) and shows the API's own sentence for everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ui.components.times import plural

NAME_MAX = 60
DESCRIPTION_MAX = 90
EVERY_MAX = 100_000
INPUT_FORMAT = "%Y-%m-%dT%H:%M"
"""What an ``<input type=datetime-local>`` holds; the form reads and writes times in UTC."""

STATUS_LABEL = {"scheduled": "Scheduled", "running": "Running", "paused": "Paused", "ended": "Ended"}
STATUS_STYLE = {
    "scheduled": "bg-sky-50 text-sky-700",
    "running": "bg-emerald-50 text-emerald-700",
    "paused": "bg-amber-50 text-amber-800",
    "ended": "bg-slate-100 text-slate-600",
}
STATUS_ICON = {
    "scheduled": "schedule",
    "running": "play_circle",
    "paused": "pause_circle",
    "ended": "stop_circle",
}

ACTIONS: dict[str, tuple[str, ...]] = {
    "scheduled": ("modify", "end", "delete"),
    "running": ("suspend", "end"),
    "paused": ("resume", "modify", "end", "delete"),
    "ended": ("delete",),
}
"""The seed's rules: suspend only running; resume only paused; modify scheduled or paused; delete anything
but running; end anything not ended (keeping its numbers). The API refuses the rest with a 409; the
screens do not offer them."""

UNITS = {"minute": "minutes", "hour": "hours", "day": "days"}


def allowed_actions(status: str) -> tuple[str, ...]:
    return ACTIONS.get(status, ())


def status_label(status: str) -> str:
    return STATUS_LABEL.get(status, status.capitalize())


# --- times ------------------------------------------------------------------------------------------


def parse_input_time(text: str | None) -> datetime | None:
    """A ``datetime-local`` value (seconds optional) as an aware UTC moment; None when empty or unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def input_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(INPUT_FORMAT)


def api_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_time(text: str | None) -> str:
    """``9 Dec 09:00`` (UTC) for lists; a dash when there is none."""
    if not text:
        return "—"
    moment = datetime.fromisoformat(text).astimezone(UTC)
    return f"{moment.day} {moment:%b %H:%M}"


def next_start(now: datetime) -> datetime:
    """A sensible default start: the next full hour at least ten minutes away."""
    start = (now + timedelta(minutes=10)).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return start.astimezone(UTC)


# --- the form -----------------------------------------------------------------------------------------


@dataclass
class CampaignForm:
    """What the campaign form holds, as the inputs give it (ids may be None until picked)."""

    name: str = ""
    description: str = ""
    flow_id: int | None = None
    group_id: int | None = None
    sender_id: int | None = None
    category_id: int | None = None
    kind: str = "marketing"
    start: str = ""
    end: str = ""
    unit: str = "day"
    count: int | float | None = 1
    opted_in_only: bool = True
    allow_reentry: bool = False

    @classmethod
    def from_campaign(cls, campaign: dict[str, Any]) -> CampaignForm:
        return cls(
            name=campaign["name"],
            description=campaign["description"],
            flow_id=campaign["flow_id"],
            group_id=campaign["group_id"],
            sender_id=campaign["sender_id"],
            category_id=campaign["category_id"],
            kind=campaign["kind"],
            start=input_time(datetime.fromisoformat(campaign["start_at"])),
            end=input_time(datetime.fromisoformat(campaign["end_at"])),
            unit=campaign["every"]["unit"],
            count=campaign["every"]["count"],
            opted_in_only=campaign["opted_in_only"],
            allow_reentry=campaign["allow_reentry"],
        )

    def problems(self, now: datetime) -> dict[str, str]:
        """Field -> the first thing wrong with it (keys are the API's field names)."""
        found: dict[str, str] = {}
        name = self.name.strip()
        if not name:
            found["name"] = "Give the campaign a name."
        elif len(name) > NAME_MAX:
            found["name"] = f"At most {NAME_MAX} characters ({len(name)} now)."
        if len(self.description) > DESCRIPTION_MAX:
            found["description"] = f"At most {DESCRIPTION_MAX} characters ({len(self.description)} now)."
        for key, what in (("flow_id", "flow"), ("group_id", "group"), ("sender_id", "sender")):
            if getattr(self, key) is None:
                found[key] = f"Pick a {what}."
        start, end = parse_input_time(self.start), parse_input_time(self.end)
        if start is None:
            found["start_at"] = "Pick when the campaign starts."
        elif start <= now:
            found["start_at"] = "The start must be later than now."
        if end is None:
            found["end_at"] = "Pick when the campaign ends."
        elif start is not None and end <= start:
            found["end_at"] = "The end must be later than the start."
        count = self.count
        if count is None or int(count) != count or not 1 <= count <= EVERY_MAX:
            found["every.count"] = f"A whole number from 1 to {EVERY_MAX:,}."
        return found

    def body(self) -> dict[str, Any]:
        """The API's create body (or a modification: the same fields)."""
        start, end = parse_input_time(self.start), parse_input_time(self.end)
        return {
            "name": self.name.strip(),
            "description": self.description,
            "flow_id": self.flow_id,
            "group_id": self.group_id,
            "sender_id": self.sender_id,
            "category_id": self.category_id,
            "kind": self.kind,
            "start_at": api_time(start) if start else None,
            "end_at": api_time(end) if end else None,
            "every": {"unit": self.unit, "count": int(self.count or 1)},
            "opted_in_only": self.opted_in_only,
            "allow_reentry": self.allow_reentry,
        }

    def preview_body(self, campaign_id: int | None) -> dict[str, Any]:
        """What ``POST /campaigns/preview`` needs of what is filled in so far (empty fields left out)."""
        body = {
            key: value
            for key, value in self.body().items()
            if key not in ("name", "description", "flow_id") and value is not None
        }
        if self.count is None or int(self.count) != self.count or not 1 <= self.count <= EVERY_MAX:
            body.pop("every")
        if campaign_id is not None:
            body["campaign_id"] = campaign_id
        return body


def field_of(api_field: str) -> str:
    """The form field an API error belongs to: ``every.count`` stays, ``every`` means its count."""
    return "every.count" if api_field in ("every", "every.unit") else api_field


# --- audience ------------------------------------------------------------------------------------------


def audience_sentence(audience: dict[str, Any]) -> str:
    """``990 of 1000 will receive it — 10 opted out`` (the excluded by reason, the big ones first)."""
    members, eligible = audience["members"], audience["eligible"]
    if not members:
        return "The group has no members yet."
    reasons = []
    excluded = audience["excluded"]
    for key, words in (
        ("opted_out", "opted out"),
        ("no_address", "without an address on this channel"),
        ("already_entered", "already in this campaign"),
    ):
        if excluded.get(key):
            reasons.append(f"{excluded[key]:,} {words}")
    head = f"{eligible:,} of {members:,} will receive it"
    return head + (" — " + ", ".join(reasons) if reasons else "")


# --- the monitor ----------------------------------------------------------------------------------------

KPIS: tuple[tuple[str, str, str], ...] = (
    ("members", "Audience", "group"),
    ("eligible", "Eligible now", "how_to_reg"),
    ("sent", "Sent", "send"),
    ("delivered", "Delivered", "done_all"),
    ("read", "Read", "visibility"),
    ("replied", "Replied", "reply"),
    ("failed", "Failed", "error_outline"),
    ("opted_out", "Opted out", "unsubscribe"),
    ("completed", "Completed", "flag"),
)
"""(key, label, icon): the monitor's cards; ``members`` and ``eligible`` come from the audience."""

FUNNEL: tuple[tuple[str, str], ...] = (
    ("entered", "Contacts in"),
    ("sent", "Messages sent"),
    ("delivered", "Delivered"),
    ("read", "Read"),
    ("replied", "Replies"),
    ("completed", "Completed"),
)
"""Contacts who entered and completed around the messages between (a flow may send several each)."""


def funnel(reentry: bool) -> tuple[tuple[str, str], ...]:
    """The funnel's rows: where contacts may enter again, its first row counts entries, and says so."""
    if not reentry:
        return FUNNEL
    return (("entered", "Entries"), *FUNNEL[1:])


def messages_per_minute(per_minute: list[dict[str, Any]], now: datetime, window: int = 5) -> float:
    """The send rate of the last ``window`` full minutes (the current minute is still filling)."""
    current = now.astimezone(UTC).replace(second=0, microsecond=0)
    start = current - timedelta(minutes=window)
    total = 0
    for point in per_minute:
        minute = datetime.fromisoformat(point["minute"]).astimezone(UTC)
        if start <= minute < current:
            total += int(point["sent"])
    return total / window


def minute_series(per_minute: list[dict[str, Any]], now: datetime, span: int = 30) -> list[tuple[str, int]]:
    """The chart's bars: one per minute up to ``span`` minutes, quiet minutes as zeros (the stats list only
    minutes with sends). It ends now, or at the last send when that is older than the span."""
    sent = {
        datetime.fromisoformat(point["minute"]).astimezone(UTC).replace(second=0, microsecond=0): int(
            point["sent"]
        )
        for point in per_minute
    }
    if not sent:
        return []
    end = now.astimezone(UTC).replace(second=0, microsecond=0)
    if max(sent) < end - timedelta(minutes=span):
        end = max(sent)
    start = max(min(sent), end - timedelta(minutes=span - 1))
    series = []
    minute = start
    while minute <= end:
        series.append((f"{minute:%H:%M}", sent.get(minute, 0)))
        minute += timedelta(minutes=1)
    return series


@dataclass(frozen=True, slots=True)
class Progress:
    reached: int
    """The bar's filled part: contacts who entered (in the flow now, for a campaign they may re-enter)."""
    total: int
    """The bar's whole: reached plus those still eligible."""
    headline: str
    left_text: str

    @property
    def fraction(self) -> float:
        return self.reached / self.total if self.total else 0.0


def progress(
    totals: dict[str, int],
    audience: dict[str, Any],
    rate_per_minute: float,
    status: str,
    *,
    reentry: bool = False,
) -> Progress:
    """How far the campaign has come, and how long the contacts not reached yet will take at the recent
    rate (messages per contact so far, over messages per minute).

    ``audience`` is one answer of the campaign's audience: who the campaign reaches in all is its eligible
    plus those already in it (a sum of an older "eligible" and a newer "entered" would count people
    twice). Where contacts may enter again (``reentry``), ``entered`` counts entries, not people (the
    demo's 285 contacts made 394 entries by its second trigger), so the bar shows the audience's share in
    the flow now, and the entries are said apart.
    """
    eligible = int(audience["eligible"])
    inside = int(audience["excluded"]["already_entered"])
    entries = int(totals.get("entered", 0))
    if reentry:
        reached, total = inside, inside + eligible
        headline = f"{reached:,} of {total:,} contacts in the flow now · {entries:,} {'entry' if entries == 1 else 'entries'} so far"
    else:
        reached = entries
        total = max(reached, eligible + inside)
        headline = f"{reached:,} of {total:,} contacts reached"
    waiting = total - reached
    if status == "ended":
        return Progress(reached, total, headline, "Ended")
    if status == "paused":
        return Progress(reached, total, headline, "Paused: nothing is sent until it is resumed")
    if not waiting:
        done = "Everyone eligible is in the flow" if reentry else "Everyone eligible has been reached"
        return Progress(reached, total, headline, done if reached else "Nobody reached yet")
    if reentry or rate_per_minute <= 0 or not entries:
        return Progress(reached, total, headline, f"{waiting:,} still to reach at the next trigger")
    per_contact = max(1.0, totals.get("sent", 0) / entries)
    minutes = waiting * per_contact / rate_per_minute
    return Progress(
        reached,
        total,
        headline,
        f"about {duration_words(minutes)} left at {rate_per_minute:,.0f} messages a minute",
    )


def duration_words(minutes: float) -> str:
    if minutes < 1:
        return "less than a minute"
    if minutes < 90:
        return plural(round(minutes), "minute")
    hours = minutes / 60
    if hours < 36:
        return plural(round(hours), "hour")
    return plural(round(hours / 24), "day")


NODE_CHIPS: tuple[tuple[str, str, str], ...] = (
    ("entered", "in", "info"),
    ("waiting", "waiting", "wait"),
    ("sent", "sent", "plain"),
    ("read", "read", "ok"),
    ("replied", "replied", "ok"),
    ("failed", "failed", "bad"),
    ("opted_out", "opted out", "bad"),
)


def node_chips(nodes: dict[str, dict[str, int]]) -> dict[str, list[dict[str, Any]]]:
    """The counts drawn under each step of the monitor's graph: only what is not zero."""
    chips: dict[str, list[dict[str, Any]]] = {}
    for node_id, counts in nodes.items():
        row = [
            {"label": label, "value": f"{counts[key]:,}", "tone": tone}
            for key, label, tone in NODE_CHIPS
            if counts.get(key)
        ]
        if row:
            chips[node_id] = row
    return chips


def edge_counts(
    stats_edges: list[dict[str, Any]], edge_ids: dict[tuple[str, str, str], str]
) -> dict[str, int]:
    """Runs per drawn edge: the stats name an edge by (source, port, target), the canvas by its id."""
    counts = {edge_id: 0 for edge_id in edge_ids.values()}
    for edge in stats_edges:
        edge_id = edge_ids.get((edge["source"], edge["port"], edge["target"]))
        if edge_id is not None:
            counts[edge_id] = int(edge["count"])
    return counts


def failure_words(reason: str) -> str:
    """``opted_out`` -> ``Opted out``."""
    return reason.replace("_", " ").capitalize()
