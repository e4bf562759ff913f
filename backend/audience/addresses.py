"""Normalising the addresses Flowgate messages: phones to E.164, emails to lower case.

Every domain that stores or compares an address (contacts, senders, opt-outs, inbound messages) goes
through here, so "+351 912 345 678", "00351912345678" and "912345678" with region PT are one person.
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from backend.core.errors import InvalidInput

PHONE_CHANNELS = frozenset({"whatsapp", "sms", "viber"})
CHANNELS = ("whatsapp", "sms", "viber", "email")


def normalise_phone(raw: str, region: str = "", *, field: str = "phone") -> str:
    """E.164 for a phone number; ``region`` (ISO 3166, e.g. ``PT``) reads numbers without ``+``."""
    text = raw.strip()
    if not text:
        raise InvalidInput(field, "is empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region.upper() or None)
    except phonenumbers.NumberParseException as exc:
        hint = (
            ""
            if text.startswith("+") or region
            else " (write it with +country code, or set default_phone_region)"
        )
        raise InvalidInput(field, f"{raw!r} is not a phone number: {exc._msg}{hint}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(field, f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str, *, field: str = "email") -> str:
    """The address as email-validator normalises it, lower-cased whole (PRODUCT.md 4.1)."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput(field, str(exc)) from None


def normalise_address(channel: str, raw: str, region: str = "", *, field: str = "address") -> str:
    """The address of a contact on a channel: a phone for whatsapp, sms and viber, an email for email."""
    if channel == "email":
        return normalise_email(raw, field=field)
    if channel in PHONE_CHANNELS:
        return normalise_phone(raw, region, field=field)
    raise InvalidInput("channel", f"{channel!r} is not one of {', '.join(CHANNELS)}")
