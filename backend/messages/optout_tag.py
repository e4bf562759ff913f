"""The opt-out instruction on marketing SMS (seed 003): "Reply STOP to opt out", or a per-contact link.

Applied at dispatch, not stored: the message keeps the text the marketer wrote (what the API, the
timeline and the campaign reports show), and the tag always follows the sender's current keywords.
Transactional and conversational SMS, and every other channel, get nothing (WhatsApp and Viber have
their own block buttons; email carries List-Unsubscribe headers).
"""

from __future__ import annotations

import re
from typing import Any

from backend.consent.tokens import unsubscribe_url


def first_keyword(sender: dict[str, Any]) -> str | None:
    keywords = sender.get("opt_out_keywords") or []
    for keyword in keywords:
        if isinstance(keyword, str) and keyword.strip():
            return keyword.strip().upper()
    return None


def has_instruction(text: str, keyword: str) -> bool:
    """Whether the marketer already wrote the instruction ("reply STOP", "text STOP to …", "send STOP")."""
    pattern = rf"\b(reply|text|send|txt)\b\W{{0,3}}{re.escape(keyword)}\b"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def tag_text(text: str, sender: dict[str, Any], workspace_id: int, address: str) -> str:
    """``text`` with the sender's opt-out instruction appended (a marketing SMS)."""
    keyword = first_keyword(sender)
    if keyword is None:
        return f"{text}\nOpt out: {unsubscribe_url(workspace_id, 'sms', address)}"
    if has_instruction(text, keyword):
        return text
    return f"{text}\nReply {keyword} to opt out"
