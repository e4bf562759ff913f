"""Keywords in inbound messages: STOP opts out, START opts back in, HELP asks for help (PRODUCT.md 4.4).

The gateway calls :func:`handle_keyword` for every inbound message. Matching is deliberately forgiving,
because the law counts any reasonable wording of "stop" (FIELD-NOTES): case, width, punctuation, emoji
and spacing are ignored, and a keyword anywhere in the message as whole words counts ("stop please"),
while a word that merely starts with one ("stopwatch") does not.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from backend.consent import service
from backend.core.database import transaction
from backend.core.errors import NotFound
from backend.senders.tables import DEFAULT_HELP_KEYWORDS, DEFAULT_OPT_IN_KEYWORDS, DEFAULT_OPT_OUT_KEYWORDS
from backend.webhooks import service as webhooks

Action = Literal["opted_out", "opted_in", "help", "none"]

_REMOVED = frozenset({"Cf"})
"""Format characters (zero-width joiners, soft hyphens, bidi marks) vanish without splitting a word."""
_SPACED = ("P", "S", "Z", "C")
"""Punctuation, symbols (emoji included), separators and controls become spaces: "stop,please" is two words."""
_SPACED_MARKS = frozenset({"Me"})
"""Enclosing marks (the keycap of 1️⃣) are decoration, not letters."""
_VARIATION_SELECTORS = frozenset({"\ufe0e", "\ufe0f"})
_MAX_PASSES = 8


def _pass(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = unicodedata.normalize("NFKC", text)
    out: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category in _REMOVED or char in _VARIATION_SELECTORS:
            continue
        out.append(" " if category[0] in _SPACED or category in _SPACED_MARKS else char)
    return " ".join("".join(out).split())


def normalise_text(text: str) -> str:
    """Unicode NFKC, case-folded, without punctuation, symbols or emoji, single-spaced and trimmed.

    Removing a character can bring two others together that Unicode composes, so the steps repeat until
    nothing changes: normalising a normalised text always gives it back.
    """
    for _ in range(_MAX_PASSES):
        normalised = _pass(text)
        if normalised == text:
            return normalised
        text = normalised
    return text


def match(text: str, keywords: list[str]) -> str | None:
    """The keyword ``text`` says, as configured; the longest wins ("stop all" over "stop").

    A keyword matches when the normalised message equals it or holds it as whole words.
    """
    padded = f" {normalise_text(text)} "
    best: tuple[int, str] | None = None
    for keyword in keywords:
        wanted = normalise_text(keyword)
        if wanted and f" {wanted} " in padded and (best is None or len(wanted) > best[0]):
            best = (len(wanted), keyword)
    return best[1] if best else None


@dataclass(frozen=True, slots=True)
class CampaignContext:
    """The inbound message replies to a campaign message: its opt-out lasts the category's days (seed 000)."""

    campaign_id: int | None
    category_id: int | None
    message_ref: str | None = None
    """The flow step whose message it answers ("node#visit"), for the campaign's per-step counts."""


@dataclass(frozen=True, slots=True)
class KeywordOutcome:
    action: Action
    entries: list[dict[str, Any]] = field(default_factory=list)
    """Entries created, extended or revoked."""
    reply_text: str = ""
    """What to send back (transactional), from the sender's settings; empty: send nothing."""
    keyword: str | None = None
    """The keyword as the sender configured it."""
    deliveries: list[int] = field(default_factory=list)
    """Webhook deliveries of the consent event (already dispatched unless called in a caller's transaction)."""


NOTHING = KeywordOutcome(action="none")


def _keywords(sender: dict[str, Any], key: str, default: list[str]) -> list[str]:
    value = sender.get(key)
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    return [str(item) for item in (default if value is None else value)]


async def handle_keyword(
    workspace_id: int,
    sender: dict[str, Any],
    from_address: str,
    text: str,
    *,
    campaign: CampaignContext | None = None,
    evidence: dict[str, Any] | None = None,
    queue: Any = None,
) -> KeywordOutcome:
    """Act on the keywords of one inbound message from ``from_address`` to ``sender`` (a senders row).

    Opt-out keywords win over opt-in ones, which win over help. The scope is the sender, unless it
    enforces workspace-level opt-outs (seed 004). A reply to a campaign is a ``campaign_reply`` lasting the
    category's (or the workspace's) days; any other keyword opt-out is permanent. Opt-in keywords reverse
    only keyword opt-outs on the same scope. The raw text is kept as evidence.

    Called inside the gateway's own transaction (storing the inbound message with its effect), it joins
    it, and ``outcome.deliveries`` are for the gateway to dispatch after its commit; otherwise they are
    dispatched here with ``queue``. A ``from_address`` that is not one raises :class:`InvalidInput`.
    """
    if sender.get("workspace") not in (None, workspace_id):
        raise NotFound("sender", sender.get("id"))
    action, keyword = decide(sender, text)
    if action == "help":
        return KeywordOutcome(action="help", reply_text=sender.get("help_reply") or "", keyword=keyword)
    if action == "none":
        return NOTHING
    nested = service.in_outer_transaction()
    async with transaction():
        outcome = await _act(workspace_id, sender, from_address, text, action, keyword, campaign, evidence)
    if not nested:
        await webhooks.dispatch(queue, outcome.deliveries)
    return outcome


def decide(sender: dict[str, Any], text: str) -> tuple[Action, str | None]:
    """What a message says to ``sender``, without acting: opt-out keywords first, then opt-in, then help."""
    for action, key, default in (
        ("opted_out", "opt_out_keywords", DEFAULT_OPT_OUT_KEYWORDS),
        ("opted_in", "opt_in_keywords", DEFAULT_OPT_IN_KEYWORDS),
        ("help", "help_keywords", DEFAULT_HELP_KEYWORDS),
    ):
        if keyword := match(text, _keywords(sender, key, default)):
            return action, keyword
    return "none", None


async def _act(
    workspace_id: int,
    sender: dict[str, Any],
    from_address: str,
    text: str,
    action: Action,
    keyword: str | None,
    campaign: CampaignContext | None,
    evidence: dict[str, Any] | None,
) -> KeywordOutcome:
    channel = sender["channel"]
    sender_id = None if sender.get("opt_out_scope") == "workspace" else sender["id"]
    proof = {**(evidence or {}), "text": text, "keyword": keyword}
    if campaign is not None:
        proof["campaign_id"] = campaign.campaign_id
        if campaign.message_ref:
            proof["message_ref"] = campaign.message_ref
    actor = f"keyword {keyword} from {from_address}"
    if action == "opted_out":
        result = await service.apply_opt_out(
            workspace_id,
            channel=channel,
            address=from_address,
            source="keyword" if campaign is None else "campaign_reply",
            category_id=campaign.category_id if campaign is not None else None,
            sender_id=sender_id,
            actor=actor,
            evidence=proof,
        )
        # The confirmation goes out once per opt-out (the ledger says when): a second STOP from a number
        # already opted out changes nothing and is not confirmed again.
        return KeywordOutcome(
            action="opted_out",
            entries=[result.entry],
            reply_text=(sender.get("confirmation_message") or "") if result.confirm else "",
            keyword=keyword,
            deliveries=result.deliveries,
        )
    revoked, deliveries = await service.apply_opt_in(
        workspace_id,
        channel=channel,
        address=from_address,
        source="keyword",
        sender_id=sender_id,
        actor=actor,
        reason=f"replied {keyword}",
        evidence=proof,
        only_keyword_entries=True,
    )
    return KeywordOutcome(
        action="opted_in",
        entries=revoked,
        reply_text=sender.get("opt_in_confirmation_message") or "",
        keyword=keyword,
        deliveries=deliveries,
    )
