"""Pieces the opt-out pages share: their sub-navigation and the API's field messages as sentences
(empty, failed and signed-out states are :mod:`ui.components.page_states`)."""

from __future__ import annotations

from ui.backend import ApiError
from ui.components.page_states import Tab
from ui.components.page_states import section_tabs as tabs

SECTIONS = (
    Tab("/opt-outs", "Unsubscription list", "list", "tab-opt-outs"),
    Tab("/opt-outs/categories", "Categories and duration", "tune", "tab-categories"),
)


def section_tabs(current: str) -> None:
    """Links between the list and the categories, styled as tabs under the page heading."""
    tabs(SECTIONS, current)


def field_message(exc: ApiError, field: str) -> str | None:
    """The API's message for ``field``, starting with a capital (it is shown under the field)."""
    message = exc.field_errors.get(field)
    if not message:
        return None
    return message[:1].upper() + message[1:]
