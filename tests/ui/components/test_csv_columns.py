"""Reading an uploaded CSV's header for the column mapping, and the mapping the import is sent."""

from __future__ import annotations

import pytest

from ui.components.csv_columns import (
    PREVIEW_BYTES,
    ColumnChoice,
    CsvProblem,
    initial_choices,
    mapping,
    mapping_problems,
    read_preview,
    snake_case,
    source_of,
)


def test_the_header_and_first_rows_are_read_with_the_files_delimiter() -> None:
    preview = read_preview("\ufeffMobile;Full Name;Club\r\n+351 912;Ana;Chess\r\n+351 913;Bo\r\n".encode())
    assert preview.delimiter == ";"
    assert preview.header == ["Mobile", "Full Name", "Club"]
    assert preview.samples == [["+351 912", "Ana", "Chess"], ["+351 913", "Bo", ""]]

    quoted = read_preview(b'"Name, full",Email,\n"Lima, Ana",ana@example.com,\n')
    assert quoted.delimiter == "," and quoted.header == ["Name, full", "Email"]  # trailing delimiter dropped

    tabbed = read_preview(b"phone\temail\n1\t2\n")
    assert tabbed.delimiter == "\t" and tabbed.header == ["phone", "email"]


def test_a_large_file_is_previewed_from_its_beginning_only() -> None:
    row = "+351912000001,Ana Lima,é\n"
    data = ("phone,name,note\n" + row * (PREVIEW_BYTES // len(row) + 100)).encode()
    preview = read_preview(data)
    assert preview.header == ["phone", "name", "note"] and len(preview.samples) == 3


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"\xff\xfephone\n", "UTF-8"),
        (b",,,\nx,y\n", "first row is empty"),
        (b"\nphone\n+351912000001\n", "first row is empty"),
    ],
)
def test_files_that_are_no_csv_are_refused_in_words(data: bytes, words: str) -> None:
    with pytest.raises(CsvProblem, match=words):
        read_preview(data)


def test_headings_are_suggested_their_meaning_and_a_meaning_goes_to_one_column_only() -> None:
    choices = initial_choices(
        ["Mobile", "Phone", "E-Mail", "Full Name", "Time Zone", "Tag", "Favourite Colour"]
    )
    assert [(c.meaning, c.key) for c in choices] == [
        ("phone", "mobile"),
        ("attribute", "phone"),  # the phone is already the first column
        ("email", "e_mail"),
        ("name", "full_name"),
        ("timezone", "time_zone"),
        ("tags", "tag"),
        ("attribute", "favourite_colour"),
    ]
    assert (
        snake_case("firstName") == "first_name"
        and snake_case("2fa") == "_2fa"
        and snake_case("Prénom") == "prenom"
    )


def test_the_mapping_names_every_column_and_left_out_ones_are_null() -> None:
    choices = [
        ColumnChoice("Mobile", "phone"),
        ColumnChoice("Club", "attribute", " club_name "),
        ColumnChoice("Notes", "ignore"),
    ]
    assert mapping_problems(choices) == {}
    columns = mapping(choices)
    assert columns == {"Mobile": "phone", "Club": "club_name", "Notes": None}
    stored = {"mobile": "phone", "club": "club_name", "notes": None}  # as the api keeps it
    assert source_of(stored, "phone") == "mobile" and source_of(stored, "name") is None
    assert source_of({"phone": "phone"}, "phone") is None and source_of(stored, None) is None


def test_choices_that_cannot_be_imported_are_said_where_they_are() -> None:
    problems = mapping_problems(
        [
            ColumnChoice("Name", "name"),
            ColumnChoice("Alias", "name"),
            ColumnChoice("Score", "attribute", "1st"),
            ColumnChoice("Other", "attribute", "phone"),
            ColumnChoice("", "attribute", "x"),
            ColumnChoice("name ", "ignore"),
        ]
    )
    assert problems[-1] == "Choose the column that holds the phone number or the email address."
    assert problems[1] == "“Name” is already Name."
    assert "letters, digits and underscores" in problems[2]
    assert "choose Phone instead" in problems[3]
    assert "no heading" in problems[4]
    assert "same heading" in problems[5]
