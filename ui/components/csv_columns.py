"""Reading a CSV's header in the browser's upload, and turning the person's column choices into the
``columns`` mapping of ``POST /contacts/import``. Pure functions, tested directly.

Only the first records are read here, to show the header with a few example values; the api reads the
whole file again in its worker and stays the judge of every row. The delimiter is guessed the way the
api guesses it (comma unless the header line has more semicolons or tabs), so what the page shows is
what the import will see.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass

PREVIEW_BYTES = 64 * 1024
SAMPLE_ROWS = 3
STANDARD = ("phone", "email", "name", "timezone", "tags")
ATTRIBUTE = "attribute"
IGNORE = "ignore"
MEANINGS = {
    "phone": "Phone",
    "email": "Email",
    "name": "Name",
    "timezone": "Time zone",
    "tags": "Tags (; between them)",
    ATTRIBUTE: "Attribute",
    IGNORE: "Leave out",
}
ALIASES = {
    "e_mail": "email",
    "email_address": "email",
    "mail": "email",
    "phone_number": "phone",
    "mobile": "phone",
    "mobile_phone": "phone",
    "mobile_number": "phone",
    "cell": "phone",
    "msisdn": "phone",
    "telephone": "phone",
    "full_name": "name",
    "time_zone": "timezone",
    "tz": "timezone",
    "tag": "tags",
    "labels": "tags",
}
"""Headings that usually mean a standard column (after :func:`snake_case`)."""
ATTRIBUTE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class CsvProblem(ValueError):
    """Why a file cannot be imported at all, in words for the person who picked it."""


@dataclass(frozen=True, slots=True)
class CsvPreview:
    header: list[str]
    samples: list[list[str]]
    """Up to :data:`SAMPLE_ROWS` data rows, each as long as the header."""
    delimiter: str


def snake_case(raw: str) -> str:
    """``"First Name"`` → ``first_name``, like the api names columns; accents dropped."""
    text = unicodedata.normalize("NFKD", raw.strip())
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text).lower()
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    return "_" + text if text[:1].isdigit() else text


def sniff_delimiter(line: str) -> str:
    outside_quotes = "".join(line.split('"')[::2])
    counts = {";": outside_quotes.count(";"), "\t": outside_quotes.count("\t")}
    best = max(counts, key=lambda key: counts[key])
    return best if counts[best] > outside_quotes.count(",") else ","


def read_preview(data: bytes) -> CsvPreview:
    """The header and first rows of an uploaded file; :class:`CsvProblem` when it is no CSV."""
    if not data.strip():
        raise CsvProblem("The file is empty; it needs a header row naming the columns.")
    head = data[:PREVIEW_BYTES]
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the preview
            raise CsvProblem(
                "The file is not UTF-8 text. Save it from your spreadsheet as “CSV UTF-8”."
            ) from None
        text = head[: exc.start].decode("utf-8-sig")
    if len(data) > PREVIEW_BYTES:
        text = text[: text.rfind("\n") + 1] or text  # whole lines only
    first_line = text.split("\n", 1)[0]
    delimiter = sniff_delimiter(first_line)
    records = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    header = list(records[0]) if records else []
    while header and not header[-1].strip():
        header.pop()
    if not header:
        raise CsvProblem("The first row is empty; it should name the columns.")
    rows = [
        record for record in records[1:] if any(cell.strip() for cell in record)
    ]  # blank rows are skipped
    samples = [(row + [""] * len(header))[: len(header)] for row in rows[:SAMPLE_ROWS]]
    return CsvPreview(header=header, samples=samples, delimiter=delimiter)


def suggest(cell: str) -> str:
    """The meaning a heading most likely has: a standard column, or an attribute."""
    key = snake_case(cell)
    key = ALIASES.get(key, key)
    return key if key in STANDARD else ATTRIBUTE


def attribute_key(cell: str) -> str:
    """The attribute key a heading becomes by default (``Favourite Colour`` → ``favourite_colour``)."""
    return snake_case(cell)[:64] or "column"


@dataclass
class ColumnChoice:
    """What the person chose for one heading of the file."""

    cell: str
    meaning: str
    key: str = ""
    """The attribute key, when ``meaning`` is :data:`ATTRIBUTE`."""


def initial_choices(header: list[str]) -> list[ColumnChoice]:
    """A choice per heading; a standard meaning goes to its first heading only (the later ones are
    attributes, so two columns never both claim the phone)."""
    taken: set[str] = set()
    choices = []
    for cell in header:
        meaning = suggest(cell)
        if meaning in taken:
            meaning = ATTRIBUTE
        if meaning != ATTRIBUTE:
            taken.add(meaning)
        choices.append(ColumnChoice(cell, meaning, attribute_key(cell)))
    return choices


def mapping_problems(choices: list[ColumnChoice]) -> dict[int, str]:
    """Why the choices cannot be imported, by column position; ``-1`` for the file as a whole."""
    problems: dict[int, str] = {}
    if not any(choice.meaning in ("phone", "email") for choice in choices):
        problems[-1] = "Choose the column that holds the phone number or the email address."
    seen: dict[str, int] = {}
    headings: dict[str, int] = {}
    for position, choice in enumerate(choices):
        heading = snake_case(choice.cell)
        if not heading:
            problems[position] = (
                "This column has no heading in the file; the import needs one for every column."
            )
            continue
        if heading in headings:
            other = choices[headings[heading]].cell
            problems[position] = (
                f"The import reads “{choice.cell}” and “{other}” as the same heading; rename one."
            )
            continue
        headings[heading] = position
        if choice.meaning == IGNORE:
            continue
        target = choice.key.strip() if choice.meaning == ATTRIBUTE else choice.meaning
        if choice.meaning == ATTRIBUTE and not ATTRIBUTE_KEY.fullmatch(target):
            problems[position] = (
                "An attribute name has letters, digits and underscores (up to 64), and does not start "
                "with a digit."
            )
            continue
        if choice.meaning == ATTRIBUTE and target in STANDARD:
            problems[position] = f"“{target}” is a column of its own: choose {MEANINGS[target]} instead."
            continue
        if target in seen:
            other = choices[seen[target]].cell
            problems[position] = f"“{other}” is already {MEANINGS.get(target, 'the attribute ' + target)}."
            continue
        seen[target] = position
    return problems


def mapping(choices: list[ColumnChoice]) -> dict[str, str | None]:
    """The ``columns`` field: every heading with its meaning (None: left out)."""
    result: dict[str, str | None] = {}
    for choice in choices:
        if choice.meaning == IGNORE:
            result[choice.cell] = None
        elif choice.meaning == ATTRIBUTE:
            result[choice.cell] = choice.key.strip()
        else:
            result[choice.cell] = choice.meaning
    return result


def source_of(columns: dict[str, str | None], meaning: str | None) -> str | None:
    """Which heading (as the api stored it, snake_case) was given ``meaning``, for row errors that name
    the meaning: ``phone`` came from ``mobile``."""
    if meaning is None:
        return None
    for source, target in columns.items():
        if target == meaning and source != meaning:
            return source
    return None
