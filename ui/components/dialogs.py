"""Dialogs that exist only while open."""

from __future__ import annotations

from nicegui import ui


def transient_dialog() -> ui.dialog:
    """A dialog that deletes itself once closed, so every opening starts from an empty form and
    repeated openings do not pile up elements on the page."""
    dialog = ui.dialog()
    dialog.on_value_change(lambda event: None if event.value else dialog.delete())
    return dialog
