"""The one rule for NUL characters (U+0000) in text that reaches the database.

PostgreSQL refuses NUL in ``text`` and ``jsonb`` values (SQLite stores it), so a NUL that gets past the
edge becomes a 500, or a worker job that fails on every retry. Flowgate decides once, the same on both
engines, by where the text comes from:

* text a client sends us (JSON bodies, query and path parameters) is refused with a 400 naming the
  field: a NUL there is a client bug, and storing a silently altered value would hide it;
* a CSV cell is a row error naming the row and column (``backend.imports``), the other rows import;
* text a contact sent (an inbound message) is stored with the NUL removed: a customer's message must
  never be lost because of a character nobody can see (:func:`without_nul`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

import msgspec
from litestar import Request

from backend.core.errors import InvalidInput

NUL = "\x00"

T = TypeVar("T")


def nul_path(value: Any, path: str = "") -> str | None:
    """The path (``attributes.note``, ``steps[2].text``: msgspec's notation) of the first string in
    ``value`` that holds a NUL, or None. Walks structs, mappings (keys too) and sequences; ``path`` is
    the prefix (``""``: the path of ``value`` itself is empty)."""
    for where, text in _strings(value, path):
        if NUL in text:
            return where
    return None


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in ``value`` with its path, in document order. Iterative on purpose: a body nested
    hundreds of levels deep (msgspec decodes it) must not turn into a ``RecursionError`` here."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
            continue
        children: list[tuple[str, Any]] = []
        if isinstance(item, msgspec.Struct):
            # Named as the client spells them (``from``, not ``from_``).
            for name, wire in zip(item.__struct_fields__, item.__struct_encode_fields__, strict=True):
                children.append((_join(where, wire), getattr(item, name)))
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str):
                    children.append((_join(where, key), key))
                children.append((_join(where, str(key)), child))
        elif isinstance(item, list | tuple | set | frozenset):
            children = [(f"{where}[{index}]", child) for index, child in enumerate(item)]
        stack.extend(reversed(children))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def nul_message(field: str) -> str:
    """The sentence every NUL refusal uses (the API's 400 and the imports' row errors)."""
    field = field.replace(NUL, "\\u0000")  # a NUL in a mapping key must not reach the message either
    return f"text field `{field}` contains a NUL character (\\u0000), which text may not hold; remove it"


def without_nul(value: T) -> T:
    """``value`` with every NUL removed from its strings (struct fields, mapping keys and values,
    sequence items), or ``value`` itself when it holds none; structs come back as new structs.

    Meant for parsed inbound events (flat structs); it recurses once per level of nesting."""
    if nul_path(value) is None:
        return value
    return _strip(value)


def _strip(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(NUL, "")
    if isinstance(value, msgspec.Struct):
        changes = {name: _strip(getattr(value, name)) for name in value.__struct_fields__}
        return msgspec.structs.replace(value, **changes)
    if isinstance(value, Mapping):
        return {_strip(key): _strip(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(_strip(item) for item in value)
    return value


async def refuse_nul_parameters(request: Request) -> None:
    """The app's ``before_request`` hook: a query or path parameter (name or value) holding a NUL answers
    400 naming it, before any handler parses it or a query sends it to the database.

    Litestar runs the ``before_request`` of the layer closest to the handler only: a router, controller
    or route that sets its own must call this one too."""
    for source, params in (
        ("query", request.query_params.multi_items()),
        ("path", request.path_params.items()),
    ):
        for name, value in params:
            if NUL in name or (isinstance(value, str) and NUL in value):
                raise InvalidInput(name.replace(NUL, "\\u0000"), nul_message(name), source=source)
