"""Keyword normalisation and matching (PRODUCT.md 4.4): forgiving about how people type STOP, strict about
whole words, and stable (normalising twice changes nothing)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.consent.keywords import match, normalise_text

NORMALISED = [
    ("STOP", "stop"),
    ("Stop.", "stop"),
    (" stop!! ", "stop"),
    ("sToP", "stop"),
    ("stop\n", "stop"),
    ("\tSTOP\t", "stop"),
    ("S.T.O.P", "s t o p"),
    ("stop 🛑", "stop"),
    ("🛑stop🛑", "stop"),
    ("👍🏽 ok", "ok"),
    ("STOP ❤️", "stop"),
    ("\uff33\uff34\uff2f\uff30", "stop"),  # full-width STOP (NFKC)
    ("stop\u00a0all", "stop all"),  # no-break space
    ("stop   all", "stop all"),
    ("Opt-Out", "opt out"),
    ("opt_out", "opt out"),
    ("UNSUBSCRIBE!!!", "unsubscribe"),
    ("«stop»", "stop"),
    ("¡Stop, por favor!", "stop por favor"),
    ("STRAẞE", "strasse"),  # case folding, not lower()
    ("ﬁn", "fin"),  # the "fi" ligature (NFKC)
    ("st\u200bop", "stop"),  # a zero-width space inside the word vanishes
    ("sto\u00adp", "stop"),  # a soft hyphen too
    ("", ""),
    ("   ", ""),
    ("?!…", ""),
    ("Ärger über Spam", "ärger über spam"),
    ("café", "café"),  # e + combining acute composes to é
    ("1️⃣ stop", "1 stop"),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALISED)
def test_normalise_text(raw, expected):
    assert normalise_text(raw) == expected


@given(st.text())
@settings(max_examples=2000, deadline=None)
def test_normalising_twice_changes_nothing(text):
    once = normalise_text(text)
    assert normalise_text(once) == once


@given(st.text())
@settings(max_examples=500, deadline=None)
def test_normalised_text_is_single_spaced_and_trimmed(text):
    once = normalise_text(text)
    assert once == once.strip()
    assert "  " not in once


STOP_WORDS = ["STOP", "UNSUBSCRIBE", "stop all", "Opt out"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Stop.", "STOP"),
        (" stop!! ", "STOP"),
        ("STOP", "STOP"),
        ("stop please", "STOP"),
        ("please, STOP sending these", "STOP"),
        ("Unsubscribe me", "UNSUBSCRIBE"),
        ("stop all", "stop all"),  # the longer keyword wins over "stop"
        ("STOP ALL!!", "stop all"),
        ("I want to opt-out", "Opt out"),
        ("opt out", "Opt out"),
        ("stopwatch", None),
        ("nonstop", None),
        ("unstoppable", None),
        ("opt outside", None),
        ("hello", None),
        ("", None),
    ],
)
def test_match(text, expected):
    assert match(text, STOP_WORDS) == expected


def test_keywords_are_normalised_like_messages():
    assert match("stop", ["  Stop! "]) == "  Stop! "
    assert match("anything", ["", "!!"]) is None
