"""``{{variables}}`` in message texts, template parameters, URLs and attribute values.

Syntax: ``{{ contact.name }}``, with an optional default: ``{{ contact.name | "there" }}``.
Namespaces:

- ``contact.name``, ``contact.phone``, ``contact.email``, ``contact.timezone``, and
  ``contact.<attribute>`` for the contact's free attributes;
- ``vars.<name>``: values a run saved (a reply's ``save_as``, an HTTP request's ``save``);
- ``reply.text`` / ``reply.button``: the contact's latest reply.

Rendering never fails: a missing value renders as its default, or as nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

NAMESPACES = ("contact", "vars", "reply")
CONTACT_FIELDS = ("name", "phone", "email", "timezone")
REPLY_FIELDS = ("text", "button")

_PLACEHOLDER = re.compile(
    r"""\{\{\s*
        (?P<path>[A-Za-z_][\w]*(?:\.[\w-]+)*)
        \s*
        (?:\|\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^}]*?))\s*)?
    \}\}""",
    re.VERBOSE,
)
_OPEN_BRACES = re.compile(r"\{\{")


@dataclass(frozen=True, slots=True)
class Placeholder:
    path: str
    default: str | None
    start: int
    end: int

    @property
    def namespace(self) -> str:
        return self.path.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.path.split(".", 1)[1] if "." in self.path else ""


def placeholders(text: str) -> list[Placeholder]:
    found = []
    for match in _PLACEHOLDER.finditer(text):
        default = match["dq"] if match["dq"] is not None else match["sq"]
        if default is None and match["bare"] is not None:
            default = match["bare"].strip()
        found.append(Placeholder(match["path"], default, match.start(), match.end()))
    return found


def malformed_placeholders(text: str) -> list[int]:
    """Offsets of ``{{`` that do not start a well-formed placeholder (e.g. ``{{ contact name }}``)."""
    good = {placeholder.start for placeholder in placeholders(text)}
    return [match.start() for match in _OPEN_BRACES.finditer(text) if match.start() not in good]


def lookup(path: str, context: Mapping[str, Any]) -> Any:
    """The value at a dotted path, or None. ``contact.x`` falls back to ``contact.attributes.x``."""
    namespace, _, rest = path.partition(".")
    value: Any = context.get(namespace)
    if not rest:
        return value
    parts = rest.split(".")
    if namespace == "contact" and isinstance(value, Mapping) and parts[0] not in value:
        value = value.get("attributes", {})
    for part in parts:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


Escape = Callable[[str], str]


def url_component(value: str) -> str:
    """For values inside a URL: ``a&b=c`` must not add a query parameter."""
    from urllib.parse import quote

    return quote(value, safe="")


def json_string_content(value: str) -> str:
    """For values inside a JSON body: a quote in a contact's name must not break (or inject into) it."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def header_value(value: str) -> str:
    """For header values: no line breaks, so a value cannot add headers."""
    return value.replace("\r", " ").replace("\n", " ")


def render(text: str, context: Mapping[str, Any], escape: Escape | None = None) -> str:
    """Fill the placeholders. ``escape`` applies to substituted values only, never to the template."""
    if "{{" not in text:
        return text

    def _replace(match: re.Match[str]) -> str:
        value = lookup(match["path"], context)
        if value is None or value == "":
            default = match["dq"] if match["dq"] is not None else match["sq"]
            if default is None and match["bare"] is not None:
                default = match["bare"].strip()
            rendered = default or ""
        else:
            rendered = _as_text(value)
        return escape(rendered) if escape is not None else rendered

    return _PLACEHOLDER.sub(_replace, text)
