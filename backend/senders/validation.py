"""The rules a sender's fields obey, kept apart from storage so they read as a list: which provider
serves which channel, what an address looks like per channel, and what makes a keyword set usable."""

from __future__ import annotations

import unicodedata

from backend.audience.addresses import normalise_email, normalise_phone
from backend.core.errors import InvalidInput

CHANNELS = ("whatsapp", "sms", "viber", "email")
PROVIDERS = ("whatsapp_cloud", "sms_http", "viber", "smtp", "sandbox")

PROVIDERS_BY_CHANNEL: dict[str, frozenset[str]] = {
    "whatsapp": frozenset({"whatsapp_cloud", "sandbox"}),
    "sms": frozenset({"sms_http", "sandbox"}),
    "viber": frozenset({"viber", "sandbox"}),
    "email": frozenset({"smtp", "sandbox"}),
}

DEFAULT_RATE_LIMITS: dict[str, int] = {
    "whatsapp": 80,  # Meta's default throughput per number (FIELD-NOTES)
    "sms": 10,  # a long code or a small pool; carriers filter bursts beyond that
    "viber": 20,
    "email": 10,  # what a typical SMTP relay accepts without throttling a new sender
}

KEYWORD_MAX_LENGTH = 50
VIBER_NAME_MAX_LENGTH = 50


def check_provider(channel: str, provider: str) -> None:
    """A provider speaks one channel (the sandbox fakes any); a mismatch is the provider's fault."""
    allowed = PROVIDERS_BY_CHANNEL[channel]
    if provider not in allowed:
        raise InvalidInput(
            "provider",
            f"{provider!r} cannot send on the {channel} channel; use one of {', '.join(sorted(allowed))}",
        )


def normalise_sender_address(channel: str, raw: str, region: str) -> str:
    """E.164 for phone channels (the workspace's default region reads local numbers), the account name
    for Viber, a normalised From address for email. Stored normalised so uniqueness means something."""
    if channel in ("whatsapp", "sms"):
        return normalise_phone(raw, region, field="address")
    if channel == "email":
        return normalise_email(raw, field="address")
    name = raw.strip()
    if not 1 <= len(name) <= VIBER_NAME_MAX_LENGTH:
        raise InvalidInput("address", f"a Viber account name has 1 to {VIBER_NAME_MAX_LENGTH} characters")
    return name


def keyword_key(word: str) -> str:
    """How two keywords are compared for duplicates: NFKC, case-folded, inner spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", word).casefold().split())


def _clean_list(field: str, words: list[str]) -> list[str]:
    cleaned: list[str] = []
    seen: dict[str, str] = {}
    for word in words:
        trimmed = word.strip()
        if not 1 <= len(trimmed) <= KEYWORD_MAX_LENGTH:
            raise InvalidInput(
                field, f"{trimmed!r}: each keyword has 1 to {KEYWORD_MAX_LENGTH} characters after trimming"
            )
        if not any(char.isalnum() for char in trimmed):
            # Inbound text is matched with punctuation and emoji stripped, so such a word never matches.
            raise InvalidInput(field, f"{trimmed!r}: a keyword needs at least one letter or digit")
        key = keyword_key(trimmed)
        if key in seen:
            raise InvalidInput(field, f"{trimmed!r} is listed twice (as {seen[key]!r} too)")
        seen[key] = trimmed
        cleaned.append(trimmed)
    return cleaned


def check_keywords(lists: dict[str, list[str]], changed: set[str] | None = None) -> dict[str, list[str]]:
    """Trimmed keyword lists, or a 400 naming the list at fault.

    ``lists`` maps ``opt_out_keywords``/``opt_in_keywords``/``help_keywords`` to their words. A word in
    two lists would make one reply mean two things; the error names a list the request changed
    (``changed``) so a PATCH of one list is told which of its words collides.
    """
    cleaned = {field: _clean_list(field, words) for field, words in lists.items()}
    owner: dict[str, str] = {}
    for field, words in cleaned.items():
        for word in words:
            key = keyword_key(word)
            other = owner.get(key)
            if other is not None and other != field:
                blamed = field if changed is None or field in changed or other not in changed else other
                elsewhere = other if blamed == field else field
                raise InvalidInput(
                    blamed, f"{word!r} is already in {elsewhere}; a keyword may be in one list"
                )
            owner[key] = field
    return cleaned
