"""The settings pages' pure parts: the API's validator phrases in words, field errors from a 409's sentence,
region and time-zone choices, and what a save sends and says."""

from __future__ import annotations

import pytest

from ui.backend import ApiError
from ui.components.settings_parts import detail_in_words, field_errors, in_words
from ui.pages.settings import changes, region_name, region_options, saved_text, timezone_options


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ("Expected `int` >= 1", "Enter a whole number of at least 1."),
        ("Expected `str` of length >= 8", "Too short: at least 8 characters."),
        ("Invalid enum value 'owner'", "'owner' is not one of the choices."),
        (
            "'XX' is not an ISO 3166 country code such as PT or US",
            "'XX' is not an ISO 3166 country code such as PT or US.",
        ),
        ("the workspace's last admin cannot be deleted", "The workspace's last admin cannot be deleted."),
        ("An email address must have an @-sign.", "An email address must have an @-sign."),
    ],
)
def test_field_errors_read_as_sentences(message: str, words: str) -> None:
    assert in_words(message) == words


def test_a_bound_reads_as_the_fields_whole_range_when_the_form_knows_it() -> None:
    for message in ("Expected `int` >= 1", "Expected `int` <= 3650"):
        assert in_words(message, "days", low=1, high=3650) == "Enter a whole number between 1 and 3650 days."


def test_a_sentence_loses_its_leading_field_name() -> None:
    assert detail_in_words("role: the workspace's last admin cannot be demoted") == (
        "The workspace's last admin cannot be demoted."
    )
    assert detail_in_words("the workspace's last admin cannot be deleted") == (
        "The workspace's last admin cannot be deleted."
    )
    assert (
        detail_in_words("webhook 3 is disabled (gone): enable it")
        == "Webhook 3 is disabled (gone): enable it."
    )


def test_field_errors_come_from_the_list_or_from_a_conflicts_sentence() -> None:
    listed = ApiError(400, "name: Expected `str` of length >= 1", {"name": "Expected `str` of length >= 1"})
    assert field_errors(listed) == {"name": "Expected `str` of length >= 1"}
    conflict = ApiError(409, "email: a user with email a@b.c already exists")
    assert field_errors(conflict) == {"email": "a user with email a@b.c already exists"}
    assert field_errors(ApiError(409, "the workspace's last admin cannot be deleted")) == {}


def test_regions_are_named_with_their_code_and_dialling_code() -> None:
    options = region_options()
    assert next(iter(options)) == ""  # "none" comes first
    assert options["PT"] == "Portugal (PT, +351)"
    assert options["US"] == "United States (US, +1)"
    assert options["XK"].startswith("Kosovo")
    names = list(options.values())[1:]
    assert names == sorted(names, key=str.casefold)
    assert region_name("ZZ") == "ZZ"


def test_time_zones_keep_the_current_one() -> None:
    zones = timezone_options("UTC")
    assert "Europe/Lisbon" in zones and "UTC" in zones
    assert "Mars/Olympus" in timezone_options("Mars/Olympus")


def test_a_save_sends_only_what_changed_and_says_what_it_means() -> None:
    current = {
        "marketing_unsubscription_days": 30,
        "allow_private_urls": False,
        "default_phone_region": "",
        "timezone": "UTC",
        "optout_form_url": "https://x/optout",
    }
    form = {**current, "default_phone_region": "PT", "allow_private_urls": True}
    assert changes(current, form) == {"default_phone_region": "PT", "allow_private_urls": True}  # type: ignore[arg-type]
    saved = {**current, "default_phone_region": "PT", "allow_private_urls": True}
    assert saved_text(["default_phone_region", "allow_private_urls"], saved) == (  # type: ignore[arg-type]
        "Saved: phone numbers without +country code are now read as Portugal (PT) numbers; "
        "HTTP steps and webhooks may now call private and local addresses."
    )
    assert saved_text(["marketing_unsubscription_days"], {**current, "marketing_unsubscription_days": 1}) == (  # type: ignore[arg-type]
        "Saved: opt-outs from campaign replies now last 1 day."
    )
