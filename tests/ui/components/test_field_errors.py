"""The API's msgspec field errors in words, for any field (issue 12: "Expected `int` >= 1")."""

from __future__ import annotations

import pytest

from ui.components.field_errors import GraphField, graph_field, in_words, split_path


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ("Expected `int` >= 1 - at `$.marketing_unsubscription_days`", "Enter a whole number of at least 1."),
        ("Expected `int` <= 3650", "Enter a whole number of at most 3650."),
        ("Expected `float` > 0.0 - at `$.percent`", "Enter a number greater than 0."),
        ("Expected `float` < 10.5", "Enter a number less than 10.5."),
        ("Expected `str` of length <= 5 - at `$.time_of_day`", "Too long: at most 5 characters."),
        ("Expected `str` of length >= 1", "This cannot be empty."),
        ("Expected `str` of length >= 8", "Too short: at least 8 characters."),
        ("Expected `array` of length <= 3 - at `$.buttons`", "Too long: at most 3 entries."),
        ("Expected `int`, got `str` - at `$.days`", "Enter a whole number."),
        ("Expected `int | null`, got `str`", "Enter a whole number or nothing."),
        ("Expected `int` that's a multiple of 5", "Enter a multiple of 5."),
        ("Expected `str` matching regex '^[A-Z]{2}$' - at `$.region`", "This is not in the expected format."),
        ("Invalid enum value 'fax' - at `$.media_type`", "'fax' is not one of the choices."),
        ("Object missing required field `media_type`", "Media type is required."),
        ("Object contains unknown field `colour`", "“colour” is not a setting this accepts."),
    ],
)
def test_msgspec_messages_read_as_sentences(message: str, words: str):
    assert in_words(message) == words


def test_a_field_with_known_limits_says_the_whole_range_in_its_unit():
    for broken in ("Expected `int` >= 1", "Expected `int` <= 3650 - at `$.days`"):
        assert (
            in_words(broken, low=1, high=3650, unit="days") == "Enter a whole number between 1 and 3650 days."
        )
    assert in_words("Expected `int` >= 1", unit="days") == "Enter a whole number of at least 1 day."
    assert in_words("Expected `float` >= 0.5", low=0.5, high=30.0, unit="seconds") == (
        "Enter a number between 0.5 and 30 seconds."
    )


def test_the_apis_own_sentences_pass_through():
    for sentence in ("'+44 1' is not a valid phone number", "name: a flow needs a name", ""):
        assert in_words(sentence) == sentence


def test_split_path():
    assert split_path("Expected `int` >= 1 - at `$.a[0].b`") == ("Expected `int` >= 1", "$.a[0].b")
    assert split_path("no path here") == ("no path here", "")


def test_a_refused_draft_names_the_step_and_its_setting():
    assert graph_field("graph: Expected `str` of length <= 16 - at `$.graph.nodes[1].template.language`") == (
        GraphField(1, "template.language", "Too long: at most 16 characters.")
    )
    assert graph_field(
        "graph: Expected `str` of length <= 200 - at `$.graph.nodes[12].buttons[0].title`"
    ) == (GraphField(12, "buttons[0].title", "Too long: at most 200 characters."))
    assert graph_field("graph: Object missing required field `id` - at `$.graph.nodes[0]`") == (
        GraphField(0, "", "Id is required.")
    )
    # Not about one step: the graph as a whole, an edge, another field, the API down.
    for detail in (
        "graph: format_version 9 is not supported",
        "graph: Expected `str` of length <= 128 - at `$.graph.edges[0].id`",
        "name: Expected `str` of length <= 200",
        "the API is not answering; retrying in 2 s",
    ):
        assert graph_field(detail) is None
