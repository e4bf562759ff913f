"""What the flow editor's side panel and palette say and show, as pure rules (issue 12's rough edges)."""

from __future__ import annotations

import pytest

from ui.components.node_kinds import BY_KIND, palette_props
from ui.components.node_settings import problems_headline


@pytest.mark.parametrize(
    ("status", "latest", "text"),
    [
        ("draft", None, "No problems: the flow can be published."),
        ("draft_ahead", 3, "No problems: the changes can be published as version 4."),
        ("published", 3, "No problems. Published as version 3 and up to date."),
        (None, None, "No problems: the flow can be published."),
    ],
)
def test_a_clean_draft_says_what_publishing_would_do(status, latest, text):
    assert problems_headline(0, readonly=False, status=status, latest_version=latest) == text


def test_viewers_read_nothing_about_publishing():
    for status, latest in (("draft", None), ("published", 2), ("draft_ahead", 2)):
        clean = problems_headline(0, readonly=True, status=status, latest_version=latest)
        broken = problems_headline(2, readonly=True, status=status, latest_version=latest)
        assert "publish" not in clean.lower() and "publish" not in broken.lower()
    assert (
        problems_headline(1, readonly=True, status="draft", latest_version=None) == "1 problem in this draft"
    )


def test_problems_for_editors_keep_publishing_in_view():
    assert problems_headline(2, readonly=False, status="draft", latest_version=None) == (
        "2 problems to fix before publishing"
    )


def test_opting_in_is_not_drawn_in_the_alarm_colour_of_opting_out():
    assert BY_KIND["opt_out"].tone == "consent"
    assert BY_KIND["opt_in"].tone == "consent_given"
    tones = {entry["kind"]: entry["tone"] for entry in palette_props()}
    assert tones["opt_in"] != tones["opt_out"]
