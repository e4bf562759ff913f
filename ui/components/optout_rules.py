"""What the opt-out pages say and send, as pure functions tested without a browser.

Words for the API's codes (channels, sources, event kinds), how an entry's validity and scope read, the
add form's request body with the few checks a person needs before sending (what is missing, numbers out
of range), and a quick look at an import file so its ``sender`` values can be mapped. Whether an address
is one is never decided here: the form asks the API (``GET /optouts/check``), which uses the same rules
and the workspace's phone region as every entry it stores.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from ui.components.times import parse_timestamp, plural

CHANNELS = {"whatsapp": "WhatsApp", "sms": "SMS", "viber": "Viber", "email": "Email"}
PHONE_CHANNELS = frozenset({"whatsapp", "sms", "viber"})
SOURCES = {
    "manual": "Added by hand",
    "keyword": "Keyword reply",
    "web_form": "Web opt-out form",
    "unsubscribe_link": "Unsubscribe link",
    "import": "CSV import",
    "api": "API",
    "campaign_reply": "Reply to a campaign",
    "provider": "Provider report",
    "flow": "Chat flow step",
}
EVENT_KINDS = {"opt_out": "Opted out", "extended": "Opt-out extended", "opt_in": "Opted back in"}
EVENT_STYLE = {
    "opt_out": ("block", "text-rose-700 bg-rose-50"),
    "extended": ("more_time", "text-amber-800 bg-amber-50"),
    "opt_in": ("check_circle", "text-emerald-700 bg-emerald-50"),
}
STATUS_STYLE = {
    "active": "bg-rose-50 text-rose-700",
    "expired": "bg-slate-100 text-slate-600",
    "revoked": "bg-emerald-50 text-emerald-700",
}
ACTIVE_FILTER = {"true": "Active now", "false": "Ended (opted in or expired)"}

MAX_VALID_DAYS = 36_500
"""The API's limit on ``valid_days`` (100 years)."""
MAX_REMARKS = 1000
MAX_CATEGORY_DAYS = 3650
"""The API's limit on a category's (and the workspace's) unsubscribe days."""
DAYS, UNTIL, PERMANENT = "days", "until", "permanent"
VALIDITY = {DAYS: "For a number of days", UNTIL: "Until a date", PERMANENT: "Permanent"}
WORKSPACE = "workspace"
SENDER = "sender"
AS_WRITTEN = "as_written"
"""Import mapping choice: leave the ``sender`` cell to the API (matched by the sender's address or name)."""


def channel_label(channel: str) -> str:
    return CHANNELS.get(channel, channel)


def source_label(source: str) -> str:
    return SOURCES.get(source, source.replace("_", " ").capitalize())


def event_label(kind: str) -> str:
    return EVENT_KINDS.get(kind, kind)


def address_label(channel: str) -> str:
    """What the contact field asks for on this media type (seed 000: a mobile number or an email)."""
    return "Email address" if channel == "email" else "Mobile number"


def address_hint(channel: str, region: str) -> str:
    if channel == "email":
        return "For example ana@example.com; stored in lower case."
    if region:
        return f"With +country code, or a {region} number without it. Stored as +country code and number."
    return "With +country code, for example +351 912 345 678."


def category_text(name: str | None) -> str:
    """An entry without a category covers all marketing."""
    return name or "All marketing"


def scope_text(entry: dict[str, Any]) -> str:
    if entry.get("sender_id") is None:
        return "Whole workspace"
    return f"Sender {entry.get('sender_name') or entry['sender_id']}"


def short_date(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc.day} {utc:%b %Y}"


def short_moment(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc.day} {utc:%b %Y, %H:%M} UTC"


def status_of(entry: dict[str, Any]) -> str:
    """``active``, ``revoked`` (opted back in) or ``expired``, as the API decided ``active`` just now."""
    if entry["active"]:
        return "active"
    return "revoked" if entry.get("revoked_at") else "expired"


STATUS_TEXT = {"active": "Active", "revoked": "Opted back in", "expired": "Expired"}


def validity_text(entry: dict[str, Any], now: datetime) -> str:
    """``Permanent``, ``until 3 Mar 2026 (in 12 days)``, ``expired 3 Mar 2026``, ``opted in 1 Feb 2026``."""
    if entry.get("revoked_at"):
        return f"opted in {short_date(parse_timestamp(entry['revoked_at']))}"
    if entry.get("valid_until") is None:
        return "Permanent"
    until = parse_timestamp(entry["valid_until"])
    if until <= now:
        return f"expired {short_date(until)}"
    return f"until {short_date(until)} ({time_left(until - now)})"


def time_left(left: timedelta) -> str:
    if left < timedelta(hours=1):
        return "less than an hour left"
    if left < timedelta(days=1):
        return f"{plural(int(left.total_seconds() // 3600), 'hour')} left"
    return f"{plural(round(left.total_seconds() / 86400), 'day')} left"  # 9 days 23 h reads as 10


def evidence_lines(evidence: dict[str, Any] | None) -> list[str]:
    """The raw proof of an event (the keyword's message, the form's IP, the import's row) as
    ``name: value`` lines, nested values flattened with dots."""
    lines: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif value not in (None, "", [], {}):
            lines.append(f"{prefix.replace('_', ' ')}: {value}")

    walk("", evidence or {})
    return lines


def list_params(filters: dict[str, Any]) -> dict[str, Any]:
    """The page's filters as the API's query parameters (``scope`` + ``sender_id`` from one choice)."""
    params: dict[str, Any] = {
        key: filters.get(key) for key in ("channel", "address", "category_id", "source") if filters.get(key)
    }
    scope = filters.get("scope")
    if scope == WORKSPACE:
        params["scope"] = WORKSPACE
    elif isinstance(scope, int):
        params["sender_id"] = scope
    if filters.get("active") in ("true", "false"):
        params["active"] = filters["active"]
    return params


def history_path(channel: str, address: str) -> str:
    return "/opt-outs/history?" + urlencode({"channel": channel, "address": address})


# --- the add form ------------------------------------------------------------------------------------------


@dataclass
class OptOutForm:
    """What the add form holds; :meth:`problems` are the checks made before sending, :meth:`body` is
    what is sent. Everything else (is the address one, is the sender on this channel) is the API's call.
    """

    channel: str = "whatsapp"
    address: str = ""
    category_id: int | None = None
    validity: str = DAYS
    days: float | None = 30
    until: str = ""
    """``YYYY-MM-DD`` from a date input; the opt-out lasts to the end of that day in ``zone``."""
    remarks: str = ""
    scope: str = WORKSPACE
    sender_id: int | None = None
    zone: str = "UTC"
    today: date = field(default_factory=lambda: datetime.now(UTC).date())

    def problems(self) -> dict[str, str]:
        """Field name (as the API names it) → what is wrong, for the checks the form can make itself."""
        found: dict[str, str] = {}
        if not self.address.strip():
            found["address"] = f"Enter the {address_label(self.channel).lower()} that opted out."
        if self.validity == DAYS:
            problem = days_problem(self.days, MAX_VALID_DAYS)
            if problem:
                found["valid_days"] = problem
        elif self.validity == UNTIL:
            problem = until_problem(self.until, self.today)
            if problem:
                found["valid_until"] = problem
        if len(self.remarks) > MAX_REMARKS:
            found["remarks"] = f"At most {MAX_REMARKS} characters."
        if self.scope == SENDER and self.sender_id is None:
            found["sender_id"] = f"Pick the {channel_label(self.channel)} sender this opt-out applies to."
        return found

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "channel": self.channel,
            "address": self.address.strip(),
            "category_id": self.category_id,
            "sender_id": self.sender_id if self.scope == SENDER else None,
            "remarks": self.remarks.strip(),
        }
        if self.validity == DAYS and self.days is not None:
            body["valid_days"] = int(self.days)
        elif self.validity == UNTIL:
            body["valid_until"] = end_of_day(date.fromisoformat(self.until), self.zone).isoformat()
        return body


def days_problem(value: float | None, most: int) -> str | None:
    """Why a number of days cannot be sent, in words (never ``Expected `int` >= 1``)."""
    if value is None:
        return "Enter a number of days."
    if value != int(value) or not 1 <= value <= most:
        return f"A whole number of days between 1 and {most:,}."
    return None


def until_problem(text: str, today: date) -> str | None:
    if not text:
        return "Pick the last day of the opt-out."
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return "Pick a date, for example 2030-01-31."
    if day < today:
        return "Pick today or a later day: to end an opt-out, opt the address back in."
    return None


def end_of_day(day: date, zone_name: str) -> datetime:
    """The opt-out lasts through ``day`` in the workspace's time zone (as the CSV import reads a date)."""
    try:
        zone = ZoneInfo(zone_name or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)


def default_days(category: dict[str, Any] | None, workspace_days: int) -> int:
    """The days the form proposes: the category's unsubscribe days, else the workspace's duration."""
    return int(category["unsubscribe_days"]) if category else workspace_days


def extends(check_entries: list[dict[str, Any]], category_id: int | None, sender_id: int | None) -> Any:
    """The active entry a new opt-out would extend (same category and scope), or None."""
    for entry in check_entries:
        if entry["category_id"] == category_id and entry["sender_id"] == sender_id:
            return entry
    return None


def saved_sentence(entry: dict[str, Any], extended: bool, now: datetime) -> str:
    what = f"{entry['address']} on {channel_label(entry['channel'])}"
    validity = "permanently" if entry.get("valid_until") is None else validity_text(entry, now)
    if extended:
        return f"Extended the opt-out of {what}: now {validity}."
    return f"Opted out {what} {validity}."


# --- the import file ---------------------------------------------------------------------------------------


class ImportFileProblem(ValueError):
    """Why a picked file cannot be an opt-out CSV, in words for the person who picked it."""


@dataclass(frozen=True, slots=True)
class ImportPreview:
    columns: list[str]
    """Normalised header names (``Valid Days`` → ``valid_days``)."""
    rows: int
    senders: list[str]
    """The distinct values of the ``sender`` column, in order of first appearance (empty cells left out)."""
    more_senders: bool
    """More distinct values than :data:`MAX_MAPPED_SENDERS` (the rest are matched by the API)."""


MAX_MAPPED_SENDERS = 30
REQUIRED_COLUMNS = ("channel", "address")


def column_key(raw: str) -> str:
    """A header cell as the API matches it, loosely: ``Valid Days`` and ``valid-days`` are ``valid_days``."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", raw.strip())
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def preview_import(data: bytes) -> ImportPreview:
    """The header, the number of rows and the sender values of an uploaded CSV.

    Only what the mapping needs and what makes the whole file unusable (not UTF-8, no header, a missing
    required column) is judged here; each row is judged by the API, which reports row errors.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileProblem(
            "The file is not UTF-8 text; save it as “CSV UTF-8” and pick it again."
        ) from None
    first_line = text.split("\n", 1)[0]
    best = max(";\t", key=first_line.count)
    delimiter = best if first_line.count(best) > first_line.count(",") else ","  # as the API sniffs it
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise ImportFileProblem("The file is empty: it needs a header row, e.g. channel,address,remarks.")
    columns = [column_key(cell) for cell in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise ImportFileProblem(
            f"The header has no {' or '.join(missing)} column; it has: {', '.join(header)}."
        )
    sender_at = columns.index("sender") if "sender" in columns else None
    senders: list[str] = []
    seen: set[str] = set()
    rows = 0
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue
        rows += 1
        if sender_at is not None and sender_at < len(record):
            value = record[sender_at].strip()
            if value and value not in seen:
                seen.add(value)
                senders.append(value)
    return ImportPreview(
        columns=columns,
        rows=rows,
        senders=senders[:MAX_MAPPED_SENDERS],
        more_senders=len(senders) > MAX_MAPPED_SENDERS,
    )


def mapping_body(choices: dict[str, Any]) -> dict[str, int | str]:
    """The upload's ``sender_mapping``: only the values mapped to a sender or the workspace."""
    return {
        value: choice for value, choice in choices.items() if choice == WORKSPACE or isinstance(choice, int)
    }


SAMPLE_CSV = (
    "channel,address,category,sender,valid_days,valid_until,remarks\r\n"
    "whatsapp,+351912345678,,,30,,asked on the phone\r\n"
    "email,ana@example.com,Promotions,,,2030-01-31,\r\n"
    "sms,+447700900123,,Shop SMS,,,replied STOP to a paper mailing\r\n"
)
"""A file people can start from: every column, each validity kind, and a sender to map."""


def import_progress_text(job: dict[str, Any]) -> str:
    """A running import in words: ``Applying 40 of 120 rows``."""
    status = job["status"]
    if status == "queued":
        return "Waiting for a worker to pick the file up…"
    if status == "running":
        total = job.get("total_rows") or 0
        done = job.get("processed_rows") or 0
        phase = {"scanning": "Reading the file", "validating": "Checking rows", "applying": "Applying rows"}
        words = phase.get(job.get("phase") or "", "Working")
        return f"{words}: {done:,} of {total:,}" if total else f"{words}…"
    if status == "failed":
        return f"The import failed: {job.get('failure') or 'no reason given'}."
    parts = [f"{job['created']:,} added", f"{job['updated']:,} extended"]
    if job.get("skipped"):
        parts.append(f"{job['skipped']:,} skipped")
    return "Done: " + ", ".join(parts) + "."
