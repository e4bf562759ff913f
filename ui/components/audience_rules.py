"""Pure rules of the audience screens, kept apart from drawing so they are tested directly: how an
opt-out reads as a badge and a sentence, how a consent event and its evidence read, how a group's reach
reads, what the compose box warns about, and how a message's delivery status reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ui.components.times import absolute_time, parse_timestamp

CHANNELS = ("whatsapp", "sms", "viber", "email")
PHONE_CHANNELS = ("whatsapp", "sms", "viber")
CHANNEL_LABEL = {"whatsapp": "WhatsApp", "sms": "SMS", "viber": "Viber", "email": "Email"}
KINDS = {
    "conversational": "Conversational reply",
    "transactional": "Transactional",
    "marketing": "Marketing",
}
KIND_HINT = {
    "conversational": "A reply in a conversation the contact started; opt-outs do not stop it.",
    "transactional": "An order, account or service notice; opt-outs from marketing do not stop it.",
    "marketing": "Promotions and offers: blocked for a contact whose opt-out applies.",
}

SOURCE_LABEL = {
    "manual": "added by hand",
    "keyword": "replied a keyword",
    "web_form": "web opt-out form",
    "unsubscribe_link": "unsubscribe link",
    "import": "CSV import",
    "api": "API",
    "campaign_reply": "reply to a campaign",
    "provider": "provider signal",
    "flow": "flow step",
}
EVENT_LABEL = {"opt_out": "Opted out", "extended": "Opt-out extended", "opt_in": "Opted back in"}
EVIDENCE_LABEL = {
    "text": "Message text",
    "keyword": "Keyword",
    "ip": "IP address",
    "user_agent": "Browser",
    "campaign_id": "Campaign",
    "message_ref": "Campaign message",
    "message_id": "Message",
    "inbound_message_id": "Inbound message",
    "provider_event_id": "Provider event",
    "error_code": "Provider error code",
    "error_message": "Provider error",
    "import_id": "Import",
    "row": "Row of the file",
    "token": "Unsubscribe token",
    "one_click": "One-click unsubscribe",
    "revoked_entry_ids": "Entries revoked",
    "reason": "Reason",
}

STATUS_LOOK = {
    "queued": ("Queued", "bg-slate-100 text-slate-600"),
    "held": ("Held", "bg-slate-100 text-slate-600"),
    "sending": ("Sending", "bg-sky-50 text-sky-700"),
    "sent": ("Sent", "bg-sky-50 text-sky-700"),
    "delivered": ("Delivered", "bg-emerald-50 text-emerald-700"),
    "read": ("Read", "bg-emerald-100 text-emerald-800"),
    "failed": ("Not sent", "bg-red-50 text-red-700"),
    "unknown": ("Unknown", "bg-amber-50 text-amber-800"),
    "received": ("Received", "bg-slate-100 text-slate-600"),
}
PENDING = frozenset({"queued", "held", "sending"})
"""Statuses that still change on their own: the timeline asks again for these."""
FAILURE_TEXT = {
    "opted_out": "the contact opted out of marketing",
    "rejected": "the provider refused it",
    "retries_exhausted": "the provider did not take it after several tries",
    "sender_unavailable": "the sender is not usable",
    "delivery_failed": "the provider could not deliver it",
    "campaign_ended": "its campaign ended first",
    "cancelled": "it was cancelled",
}


def address_on(contact: dict[str, Any], channel: str) -> str | None:
    """The contact's address on ``channel``: the phone for WhatsApp, SMS and Viber, else the email."""
    return contact.get("phone") if channel in PHONE_CHANNELS else contact.get("email")


def day(text: str | None) -> str:
    """``3 May 2026`` from an API time (UTC), or empty."""
    if not text:
        return ""
    moment = parse_timestamp(text)
    return f"{moment.day} {moment:%b %Y}"


# --- opt-outs -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Badge:
    """One channel's opt-out as a list shows it: ``SMS`` when it stops all marketing from every sender,
    ``SMS (partly)`` when only a category or a sender is concerned; the tooltip says which."""

    channel: str
    text: str
    complete: bool
    detail: str


def entry_sentence(entry: dict[str, Any]) -> str:
    """``All marketing · every sender · permanent · replied a keyword`` (what, where, until, how)."""
    what = f"{entry['category_name']} only" if entry.get("category_id") else "All marketing"
    scope = (
        f"{entry.get('sender_name') or 'sender ' + str(entry['sender_id'])} only"
        if entry.get("sender_id")
        else "every sender"
    )
    until = "permanent" if not entry.get("valid_until") else f"until {day(entry['valid_until'])}"
    how = SOURCE_LABEL.get(entry.get("source", ""), entry.get("source", ""))
    return " · ".join(part for part in (what, scope, until, how) if part)


def opt_out_badges(entries: list[dict[str, Any]]) -> list[Badge]:
    """One badge per channel with an active entry, in channel order."""
    badges = []
    for channel in CHANNELS:
        mine = [entry for entry in entries if entry["channel"] == channel]
        if not mine:
            continue
        complete = any(not entry.get("category_id") and not entry.get("sender_id") for entry in mine)
        label = CHANNEL_LABEL[channel]
        badges.append(
            Badge(
                channel=channel,
                text=label if complete else f"{label} (partly)",
                complete=complete,
                detail=f"Opted out on {label}: " + "; ".join(entry_sentence(entry) for entry in mine),
            )
        )
    return badges


# --- consent history ----------------------------------------------------------------------------------


def event_title(event: dict[str, Any]) -> str:
    """``Opted out on SMS`` · ``Opted back in on WhatsApp`` · ``Opt-out extended on Email``."""
    label = EVENT_LABEL.get(event["kind"], event["kind"])
    return f"{label} on {CHANNEL_LABEL.get(event['channel'], event['channel'])}"


def event_scope(event: dict[str, Any]) -> str:
    """``Promotions · sender Shop SMS · until 3 Jun 2026``: what the event was about."""
    what = "all marketing"
    if event["category_id"]:
        what = event["category_name"] or f"category {event['category_id']}"
    where = "every sender"
    if event["sender_id"]:
        where = f"sender {event['sender_name'] or event['sender_id']}"
    parts = [what, where]
    if event["kind"] != "opt_in":
        parts.append(f"until {day(event['valid_until'])}" if event.get("valid_until") else "permanent")
    return " · ".join(parts)


def evidence_lines(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    """The evidence as (label, text) pairs in a stable order: known keys first, the rest by name."""
    known = [key for key in EVIDENCE_LABEL if key in evidence]
    rest = sorted(key for key in evidence if key not in EVIDENCE_LABEL)
    lines = []
    for key in known + rest:
        value = evidence[key]
        if value is None or value == "" or value == []:
            continue
        label = EVIDENCE_LABEL.get(key) or key.replace("_", " ").capitalize()
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, list):
            text = ", ".join(str(item) for item in value)
        else:
            text = str(value)
        lines.append((label, text))
    return lines


def merge_events(*pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Several addresses' histories as one, newest first (ids grow with time)."""
    events = {event["id"]: event for page in pages for event in page}
    return sorted(events.values(), key=lambda event: event["id"], reverse=True)


# --- groups -------------------------------------------------------------------------------------------


def reach_sentence(audience: dict[str, Any]) -> str:
    """``990 of 1,000 — 10 opted out, 0 without a phone number`` for one channel."""
    channel = audience["channel"]
    excluded = audience["excluded"]
    missing = "an email address" if channel == "email" else "a phone number"
    members = audience["members"]
    head = f"{audience['eligible']:,} of {members:,} member{'' if members == 1 else 's'}"
    if not audience["opt_out_filter_applied"]:
        return f"{head} — {excluded['no_address']:,} without {missing}; the group bypasses the opt-out filter"
    return f"{head} — {excluded['opted_out']:,} opted out, {excluded['no_address']:,} without {missing}"


# --- compose box --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ComposeWarnings:
    """What the compose box says before a message leaves (seed 002 "compose box")."""

    opted_out: str | None
    """Shown whenever the consent gate would stop a marketing message to this contact."""
    marketing: str | None
    """Shown again, louder, once the marketing kind is chosen for such a contact."""

    @property
    def confirm_before_send(self) -> bool:
        return self.marketing is not None


def compose_warnings(check: dict[str, Any] | None, kind: str, channel: str, name: str) -> ComposeWarnings:
    """The warnings for the gate's answer ``check`` (``GET /optouts/check``) and the chosen ``kind``."""
    if not check or not check.get("opted_out"):
        return ComposeWarnings(None, None)
    who = name or "This contact"
    label = CHANNEL_LABEL.get(channel, channel)
    entries = check.get("entries") or []
    how = f" ({entry_sentence(entries[0])}, since {day(entries[0]['created_at'])})" if entries else ""
    first = (
        f"{who} opted out of marketing on {label}{how}. Transactional messages and conversational "
        "replies still go through."
    )
    second = None
    if kind == "marketing":
        second = (
            "You chose a marketing message: the consent gate will not send it, and the conversation "
            "will show it as not sent (opted out)."
        )
    return ComposeWarnings(first, second)


# --- messages -----------------------------------------------------------------------------------------


def status_text(message: dict[str, Any]) -> str:
    """``Delivered`` · ``Not sent: the contact opted out of marketing`` · ``Received``."""
    label, _ = STATUS_LOOK.get(message["status"], (message["status"].capitalize(), ""))
    if message["status"] == "failed":
        reason = message.get("failure_reason")
        why = FAILURE_TEXT.get(reason or "", reason or message.get("error_message") or "")
        return f"{label}: {why}" if why else label
    return label


def message_body(message: dict[str, Any]) -> str:
    """What a bubble shows: the text, a template's name and parameters, or a tapped button."""
    if message.get("text"):
        return message["text"]
    if message.get("template"):
        template = message["template"]
        params = ", ".join(template.get("params") or [])
        return f"Template {template.get('name')}" + (f" ({params})" if params else "")
    if message.get("button_id"):
        return f"Tapped the button “{message['button_id']}”"
    if message.get("media_url"):
        return ""  # the media alone, shown as its link
    return "(no text)"


def message_time(message: dict[str, Any]) -> str:
    return absolute_time(parse_timestamp(message["created_at"]))


# --- editing attributes -------------------------------------------------------------------------------

ATTRIBUTE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def attribute_text(value: Any) -> str:
    """How an attribute's value is edited: text as it is, numbers, booleans and lists as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def attribute_value(text: str, original: Any = "") -> Any:
    """The edited text back as a value: an attribute that was a number, boolean or list stays one when
    the text still reads as JSON; everything else (and every new attribute) is text."""
    if isinstance(original, str):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str | int | float | bool | list) or value is None else text


def edited_attributes(
    rows: list[tuple[str, str]], originals: dict[str, Any]
) -> tuple[dict[str, Any], dict[int, str]]:
    """The attributes from the editor's (key, text) rows, and the problem of each bad row by index.

    A row with neither key nor value is dropped (an empty line of the editor)."""
    values: dict[str, Any] = {}
    problems: dict[int, str] = {}
    for index, (raw_key, text) in enumerate(rows):
        key = raw_key.strip()
        if not key and not text.strip():
            continue
        if not ATTRIBUTE_KEY.fullmatch(key):
            problems[index] = (
                "Name it with letters, digits and underscores (up to 64), not starting with a digit."
            )
        elif key in values:
            problems[index] = f"“{key}” is already above."
        else:
            values[key] = attribute_value(text, originals.get(key, ""))
    return values, problems
