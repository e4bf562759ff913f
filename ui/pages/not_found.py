"""The page for an address the UI does not have: inside the app, with a way back.

NiceGUI answers unknown paths with its own bare "404: Not Found" page. :func:`register` replaces that
handler for pages (never for NiceGUI's own resources and API-like routes, which keep their JSON 404):
a signed-in person sees the app's header and navigation around "Page not found" with Back and "Go to
Flows"; someone signed out sees the same words with "Sign in". The answer keeps the 404 status, so a
mistyped address never looks like a page that exists.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from nicegui import Client, app, ui
from starlette.exceptions import HTTPException

from ui.backend import ApiError, BackendUnreachable, api
from ui.layout import shell
from ui.session import Session, session_from_me, stored_token
from ui.theme import apply_theme, logo

log = logging.getLogger(__name__)

HOME = "/flows"
TITLE = "Page not found · Flowgate"


def register() -> None:
    """Answer every unknown page address with :func:`not_found_response`."""
    app.exception_handlers[404] = not_found_response


def is_page_request(request: Request, exception: Exception) -> bool:
    """False for a 404 raised by a matched non-page route (NiceGUI's files, an endpoint): those stay JSON.

    The same test NiceGUI applies before drawing its own page, so nothing changes for them.
    """
    endpoint = request.scope.get("endpoint")
    return not (
        endpoint is not None
        and endpoint is not app
        and not request.scope.get("nicegui_page_path")
        and isinstance(exception, HTTPException)
    )


async def not_found_response(request: Request, exception: Exception) -> Response:
    if not is_page_request(request, exception):
        return await http_exception_handler(request, exception)  # type: ignore[arg-type]
    log.info("no page at %s", request.url.path)
    session = await _session()
    with Client(ui.page("", title=TITLE), request=request) as client:
        if session is None:
            _signed_out(request.url.path)
        else:
            with shell(session, request.url.path):
                _body(request.url.path, signed_in=True)
    return client.build_response(request, 404)


async def _session() -> Session | None:
    """Who is signed in, when someone is and the API says so; otherwise the signed-out page."""
    token = stored_token()
    if token is None:
        return None
    try:
        return session_from_me(token, await api.me(token))
    except (ApiError, BackendUnreachable):
        return None  # an expired session or a dead API: the page still shows, just without the shell


def _signed_out(path: str) -> None:
    apply_theme()
    with ui.column().classes("w-full min-h-screen items-center justify-center p-4 gap-6"):
        with ui.row().classes("items-center gap-2"):
            logo(28)
            ui.label("Flowgate").classes("text-lg font-semibold tracking-tight text-slate-900")
        _body(path, signed_in=False)


def _body(path: str, *, signed_in: bool) -> None:
    with ui.card().classes("w-full max-w-lg mx-auto p-8 gap-3 shadow-sm rounded-xl").mark("not-found"):
        ui.icon("travel_explore", size="2.5rem").classes("text-slate-400")
        ui.label("Page not found").classes("text-xl font-semibold text-slate-900").mark("not-found-title")
        ui.label(f"There is no page at {path}. The link may be old, or the address mistyped.").classes(
            "text-slate-600 [overflow-wrap:anywhere]"
        )
        with ui.row().classes("gap-2 mt-2"):
            if signed_in:
                ui.button("Go to Flows", icon="account_tree", on_click=lambda: ui.navigate.to(HOME)).props(
                    "unelevated no-caps"
                ).mark("not-found-home")
                ui.button("Back", icon="arrow_back", on_click=ui.navigate.back).props(
                    "flat no-caps color=grey-8"
                ).mark("not-found-back")
            else:
                ui.button("Sign in", icon="login", on_click=lambda: ui.navigate.to("/login")).props(
                    "unelevated no-caps"
                ).mark("not-found-login")
