"""The API's field errors in words people use, whatever field they belong to.

The API validates request bodies with msgspec and passes its messages on (``Expected `int` >= 1 - at
`$.days```): exact, but written for programmers. :func:`in_words` turns each kind of msgspec message
into a sentence (``Enter a whole number of at least 1.``); a form that knows the field's limits and
unit (a number input's ``min`` and ``max``, "days") gets ``Enter a number between 1 and 3650 days.``
instead of one bound at a time. Messages it does not recognise (the API's own sentences) pass through
unchanged, so it is safe to apply to every field error.

:func:`graph_field` reads the place a refused flow graph names (``$.graph.nodes[3].time_of_day``), so
the flow editor can show the words under that step's setting.

Pure functions, tested directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_AT = re.compile(r"\s+-\s+at\s+`(?P<path>[^`]*)`\s*$")
_BOUND = re.compile(r"^Expected `(?P<type>int|float|number)` (?P<op>>=|>|<=|<) (?P<value>-?[\d.eE+-]+)$")
_LENGTH = re.compile(r"^Expected `(?P<type>str|array|object)` of length (?P<op>>=|<=) (?P<value>\d+)$")
_TYPE = re.compile(r"^Expected `(?P<expected>[^`]+)`, got `(?P<got>[^`]+)`$")
_MULTIPLE = re.compile(r"^Expected `(?:int|float)` that's a multiple of (?P<value>[\d.]+)$")
_PATTERN = re.compile(r"^Expected `str` matching regex ")
_ENUM = re.compile(r"^Invalid enum value (?P<value>.+)$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`$")
_NODE_FIELD = re.compile(r"^\$\.graph\.nodes\[(?P<index>\d+)\](?:\.(?P<field>.+))?$")

_TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "number": "a number",
    "str": "text",
    "bool": "yes or no",
    "array": "a list",
    "object": "a set of named values",
    "null": "nothing",
}
_ITEMS = {"str": "characters", "array": "entries", "object": "entries"}


def split_path(message: str) -> tuple[str, str]:
    """``(message without its "- at `$.x`" tail, the path or "")``."""
    match = _AT.search(message)
    if match is None:
        return message.strip(), ""
    return message[: match.start()].strip(), match["path"]


def _number(text: str) -> str:
    """``1.0`` -> ``1``, ``0.5`` -> ``0.5``: bounds as people write them."""
    try:
        value = float(text)
    except ValueError:
        return text
    return f"{value:g}" if value != int(value) else str(int(value))


def _unit(unit: str, count: str) -> str:
    """`` days`` after a number, `` day`` after 1 (units are given in the plural)."""
    if not unit:
        return ""
    return f" {unit[:-1]}" if count == "1" and unit.endswith("s") else f" {unit}"


def _limit(value: float | int | None) -> str | None:
    return None if value is None else _number(str(value))


def in_words(
    message: str,
    *,
    low: float | int | None = None,
    high: float | int | None = None,
    unit: str = "",
) -> str:
    """One msgspec message (with or without its ``- at`` path) as a sentence.

    ``low``/``high`` are the field's limits when the form knows them, ``unit`` what its number counts
    ("days"): a bound broken on either side then reads as the whole range. Anything that is not a
    msgspec message comes back as it was.
    """
    text, _ = split_path(message)
    if match := _BOUND.match(text):
        whole = match["type"] == "int"
        what = "a whole number" if whole else "a number"
        low_text, high_text = _limit(low), _limit(high)
        if low_text is not None and high_text is not None:
            return f"Enter {what} between {low_text} and {high_text}{_unit(unit, high_text)}."
        value = _number(match["value"])
        after = _unit(unit, value)
        return {
            ">=": f"Enter {what} of at least {value}{after}.",
            ">": f"Enter {what} greater than {value}{after}.",
            "<=": f"Enter {what} of at most {value}{after}.",
            "<": f"Enter {what} less than {value}{after}.",
        }[match["op"]]
    if match := _LENGTH.match(text):
        items = _ITEMS[match["type"]]
        value = int(match["value"])
        if match["op"] == "<=":
            return f"Too long: at most {value} {items}." if value else "Leave this empty."
        if value <= 1:
            return "This cannot be empty."
        return f"Too short: at least {value} {items}."
    if match := _MULTIPLE.match(text):
        value = _number(match["value"])
        return f"Enter a multiple of {value}{_unit(unit, value)}."
    if match := _TYPE.match(text):
        expected = " or ".join(
            _TYPE_WORDS.get(part.strip(), part.strip()) for part in match["expected"].split("|")
        )
        return f"Enter {expected}."
    if _PATTERN.match(text):
        return "This is not in the expected format."
    if match := _ENUM.match(text):
        return f"{match['value']} is not one of the choices."
    if match := _MISSING.match(text):
        return f"{match['name'].replace('_', ' ').capitalize()} is required."
    if match := _UNKNOWN.match(text):
        return f"“{match['name']}” is not a setting this accepts."
    return message


@dataclass(frozen=True, slots=True)
class GraphField:
    """Where in a flow graph a refused save went wrong: a node (by its place in the list) and a field."""

    node_index: int
    field: str
    """The setting as flow validation names it (``time_of_day``, ``buttons[0].title``); "" for the node."""
    words: str


def graph_field(detail: str) -> GraphField | None:
    """Read a refused draft save (``graph: Expected … - at `$.graph.nodes[3].time_of_day```).

    None when the error is not about one node of the graph (the graph as a whole, another field).
    """
    text = detail.removeprefix("graph:").strip()
    message, path = split_path(text)
    match = _NODE_FIELD.match(path)
    if match is None:
        return None
    return GraphField(int(match["index"]), match["field"] or "", in_words(message))
