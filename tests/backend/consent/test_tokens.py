"""Unsubscribe tokens: they round-trip, are compact and URL-safe, and anything not made by this
deployment's secret for this purpose (tampered, truncated, re-spelled, another key) reads as None."""

from __future__ import annotations

import hashlib
import hmac
import re
from types import SimpleNamespace

import pytest

CASES = [
    (1, "sms", "+351912345678"),
    (7, "whatsapp", "+14155550123"),
    (42, "viber", "+447700900123"),
    (123_456_789, "email", "ana.maria+promo@example.com"),
    (3, "email", "josé@exämple.pt"),
]


@pytest.mark.parametrize(("workspace_id", "channel", "address"), CASES)
def test_tokens_round_trip(workspace_id, channel, address):
    from backend.consent.tokens import make_unsubscribe_token, read_unsubscribe_token

    token = make_unsubscribe_token(workspace_id, channel, address)
    assert read_unsubscribe_token(token) == (workspace_id, channel, address)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)


def test_tokens_are_compact_and_differ_for_every_part():
    from backend.consent.tokens import make_unsubscribe_token

    token = make_unsubscribe_token(1, "sms", "+351912345678")
    assert len(token) <= 48
    assert make_unsubscribe_token(1, "sms", "+351912345678") == token
    others = {
        make_unsubscribe_token(2, "sms", "+351912345678"),
        make_unsubscribe_token(1, "whatsapp", "+351912345678"),
        make_unsubscribe_token(1, "sms", "+351912345679"),
    }
    assert token not in others
    assert len(others) == 3


def test_every_single_character_change_is_refused():
    from backend.consent.tokens import make_unsubscribe_token, read_unsubscribe_token

    token = make_unsubscribe_token(5, "email", "ana@example.com")
    alphabet = "AZaz09-_"
    for index, char in enumerate(token):
        for replacement in alphabet:
            if replacement != char:
                tampered = token[:index] + replacement + token[index + 1 :]
                assert read_unsubscribe_token(tampered) is None, (index, replacement)


def test_truncated_extended_or_respelled_tokens_are_refused():
    from backend.consent.tokens import make_unsubscribe_token, read_unsubscribe_token

    token = make_unsubscribe_token(5, "sms", "+351912345678")
    for length in range(len(token)):
        assert read_unsubscribe_token(token[:length]) is None
    for variant in (
        token + "A",
        token + "=",
        token + "==",
        " " + token,
        token + "\n",
        token.replace("-", "+"),
    ):
        if variant != token:
            assert read_unsubscribe_token(variant) is None, variant
    for garbage in ("", "u", "!!!!", "A" * 40, "A" * 10_000, "../../etc/passwd"):
        assert read_unsubscribe_token(garbage) is None


def test_a_token_signed_with_another_secret_or_without_the_purpose_is_refused(monkeypatch):
    from backend.consent import tokens

    token = tokens.make_unsubscribe_token(5, "sms", "+351912345678")
    other = SimpleNamespace(resolved_secret_key=lambda: "another-deployment-" + "y" * 32)
    monkeypatch.setattr(tokens, "get_settings", lambda: other)
    assert tokens.read_unsubscribe_token(token) is None
    monkeypatch.undo()

    # The same layout tagged with the raw secret (no key derivation) must not pass: keys are per purpose.
    from backend.config import get_settings

    body = bytes([1, 5, 1]) + b"+351912345678"
    raw_tag = hmac.new(get_settings().resolved_secret_key().encode(), body, hashlib.sha256).digest()[:16]
    forged = tokens._encode(body + raw_tag)
    assert tokens.read_unsubscribe_token(forged) is None
    assert tokens.read_unsubscribe_token(tokens._encode(body + tokens._tag(body))) == (
        5,
        "sms",
        "+351912345678",
    )


def test_unsubscribe_url_points_at_the_public_address(monkeypatch):
    from backend.consent import tokens

    settings = SimpleNamespace(
        resolved_secret_key=tokens.get_settings().resolved_secret_key,
        base_public_url="https://flowgate.example.com",
    )
    monkeypatch.setattr(tokens, "get_settings", lambda: settings)
    url = tokens.unsubscribe_url(9, "email", "ana@example.com")
    prefix = "https://flowgate.example.com/u/"
    assert url.startswith(prefix)
    assert tokens.read_unsubscribe_token(url.removeprefix(prefix)) == (9, "email", "ana@example.com")


@pytest.mark.parametrize(
    ("workspace_id", "channel", "address"),
    [(0, "sms", "+351912345678"), (1, "fax", "+351912345678"), (1, "email", "")],
)
def test_bad_parts_cannot_be_made_into_tokens(workspace_id, channel, address):
    from backend.consent.tokens import make_unsubscribe_token

    with pytest.raises(ValueError):
        make_unsubscribe_token(workspace_id, channel, address)


def test_optout_form_keys_name_one_workspace_and_cannot_be_guessed():
    from backend.consent.tokens import optout_form_key, optout_form_url, read_optout_form_key

    key = optout_form_key(7)
    assert read_optout_form_key(key) == 7
    assert read_optout_form_key("7") is None
    assert read_optout_form_key(key.replace("7-", "8-", 1)) is None
    assert read_optout_form_key(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert optout_form_url(7).endswith(f"/optout?workspace={key}")
