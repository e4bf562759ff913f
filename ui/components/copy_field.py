"""A read-only field with a copy button: for what people paste elsewhere (webhook URLs and verify tokens
in a provider's dashboard, API keys and signing secrets shown once, the public opt-out form's address)."""

from __future__ import annotations

from nicegui import ui


def copy_field(
    label: str, value: str, marker: str, *, mono: bool = True, dense: bool = True, multiline: bool = False
) -> ui.input | ui.textarea:
    """``mono`` for keys and tokens (characters that must be told apart), ``multiline`` to show a value
    too long for one line in full (a command), ``dense`` except in the roomier settings dialogs."""
    props = "outlined readonly stack-label"
    props += " dense" if dense else ""
    props += ' input-class="font-mono text-sm"' if mono else ""
    element = (
        (ui.textarea(label, value=value).props("autogrow") if multiline else ui.input(label, value=value))
        .props(props)
        .classes("w-full")
        .mark(marker)
    )
    with element.add_slot("append"):

        def copy() -> None:
            ui.clipboard.write(value)
            ui.notify(f"{label} copied to the clipboard.", type="positive")

        ui.button(icon="content_copy", on_click=copy).props(
            f'flat round dense color=primary aria-label="Copy {label}"'
        ).tooltip("Copy").mark(f"copy-{marker}")
    return element
