"""Full pages shown instead of the requested one when the API cannot serve it.

A dead API is the most likely failure of a fresh install (wrong ``FLOWGATE_API_URL``, api not started),
so it gets a plain explanation and a Retry button instead of a stack trace or an endless spinner.
"""

from __future__ import annotations

from nicegui import ui

from ui.theme import apply_theme


def render_problem(title: str, text: str, *, icon: str = "error_outline") -> None:
    """A centred card with a Retry button (which reloads the page the user asked for)."""
    apply_theme()
    with (
        ui.column().classes("w-full min-h-screen items-center justify-center p-4"),
        ui.card().classes("w-full max-w-lg p-8 gap-3 shadow-sm").mark("problem"),
    ):
        ui.icon(icon, size="2.5rem").classes("text-amber-600")
        ui.label(title).classes("text-xl font-semibold text-slate-900").mark("problem-title")
        ui.label(text).classes("text-slate-600")
        ui.button("Retry", icon="refresh", on_click=lambda: ui.navigate.reload()).props(
            "unelevated no-caps"
        ).classes("mt-2").mark("retry")


def render_unreachable(api_url: str) -> None:
    render_problem(
        f"Flowgate's API at {api_url} is not answering",
        "The UI reaches everything through the API. Check that the api process (flowgate api) is "
        "running and that FLOWGATE_API_URL points at it, then retry.",
        icon="cloud_off",
    )


def render_api_failure(status: int, detail: str) -> None:
    render_problem(
        f"Flowgate's API could not answer this page (HTTP {status})",
        f"{detail.rstrip('.')}. Retry in a moment; if it keeps happening, the api log says why.",
    )
