"""The shell around every signed-in page: header, role-aware navigation, and the session check.

:func:`shell_page` is the only way a page gets registered behind the login, so no page can forget the
check: no token, or a token the API rejects, sends the browser to ``/login?next=<page>``; a dead API
shows the "not answering" page instead of the requested one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from nicegui import ui

from ui.backend import ApiError, BackendUnreachable, api
from ui.pages.problems import render_api_failure, render_unreachable
from ui.session import Session, forget, login_url, session_from_me, stored_token
from ui.theme import apply_theme, logo

# The API call that checks the session must finish before NiceGUI gives up building the page (3 s by
# default); the client's own timeout (5 s) stays below this, so a slow API ends on our error page.
PAGE_RESPONSE_TIMEOUT_S = 10.0

ROLE_LABELS = {"admin": "Admin", "marketer": "Marketer", "viewer": "Viewer"}


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    icon: str
    least_role: str
    """The least powerful role that sees this entry."""


NAV: tuple[NavItem, ...] = (
    NavItem("Flows", "/flows", "account_tree", "viewer"),
    NavItem("Campaigns", "/campaigns", "campaign", "viewer"),
    NavItem("Audience", "/audience", "groups", "viewer"),
    NavItem("Opt-outs", "/opt-outs", "unsubscribe", "viewer"),
    NavItem("Senders", "/senders", "send", "admin"),
    NavItem("Settings", "/settings", "settings", "viewer"),
)

PageBody = Callable[..., Awaitable[None]]
"""``body(session, **path_params)``: a page at ``/flows/{flow_id}`` gets ``flow_id`` (a string)."""


def shell_page(
    path: str, title: str, *, full_width: bool = False, wide: bool = False
) -> Callable[[PageBody], PageBody]:
    """Register ``body`` as the signed-in page at ``path``; it draws only the content area.

    ``full_width`` gives the body the whole area next to the navigation, without the reading-width
    column and its padding (the flow editor's canvas). ``wide`` keeps the padding but allows a wider
    column, for dashboards (the campaign monitor's graph and charts).
    """

    def register(body: PageBody) -> PageBody:
        async def page(request: Request) -> Response | None:
            wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            token = stored_token()
            if token is None:
                return RedirectResponse(login_url(wanted), status_code=303)
            try:
                me = await api.me(token)
            except BackendUnreachable as exc:
                render_unreachable(exc.url)
                return None
            except ApiError as exc:
                if exc.status == 401:
                    forget()
                    return RedirectResponse(login_url(wanted), status_code=303)
                render_api_failure(exc.status, exc.detail)
                return None
            session = session_from_me(token, me)
            with shell(session, path, full_width=full_width, wide=wide):
                await body(session, **request.path_params)
            return None

        ui.page(path, title=f"{title} · Flowgate", response_timeout=PAGE_RESPONSE_TIMEOUT_S)(page)
        return body

    return register


@contextlib.contextmanager
def shell(
    session: Session, current_path: str, *, full_width: bool = False, wide: bool = False
) -> Iterator[ui.column]:
    """Header and navigation drawer; the body of the ``with`` block fills the main column."""
    apply_theme()
    # value=None: open on wide screens, a closed overlay (menu button) on phones. A full-width page
    # (the flow canvas) needs the room: its drawer starts closed behind the menu button.
    drawer = (
        ui.left_drawer(value=False if full_width else None, fixed=True)
        .props("bordered width=232")
        .classes("bg-white p-0")
    )
    _header(session, drawer, always_menu=full_width)
    with drawer:
        _navigation(session, current_path)
    if full_width:
        layout = "w-full p-0 gap-0"
    else:
        layout = f"w-full {'max-w-[1600px]' if wide else 'max-w-5xl'} mx-auto px-6 py-8 gap-6"
    with ui.column().classes(layout) as content:
        yield content


def _header(session: Session, drawer: ui.left_drawer, *, always_menu: bool) -> None:
    with (
        ui.header(elevated=False)
        .classes("bg-white text-slate-900 border-b border-slate-200 px-4 py-2")
        .props("height-hint=56"),
        ui.row().classes("w-full items-center no-wrap gap-3"),
    ):
        ui.button(icon="menu", on_click=drawer.toggle).props("flat round dense color=grey-8").classes(
            "" if always_menu else "lg:hidden"
        ).mark("menu")
        logo(26)
        ui.label("Flowgate").classes("text-lg font-semibold tracking-tight max-sm:hidden")
        ui.label("/").classes("text-slate-300 max-sm:hidden")
        ui.label(session.workspace_name).classes("text-slate-700 truncate").mark("workspace-name")
        ui.space()
        with ui.column().classes("items-end gap-0 leading-tight max-sm:hidden"):
            ui.label(session.email).classes("text-sm text-slate-800").mark("user-email")
            ui.label(ROLE_LABELS.get(session.role, session.role)).classes(
                "text-xs text-slate-500 uppercase tracking-wide"
            ).mark("user-role")
        ui.button("Log out", icon="logout", on_click=_logout).props("flat no-caps no-wrap color=grey-8").mark(
            "logout"
        )


def _navigation(session: Session, current_path: str) -> None:
    with ui.list().props("padding").classes("w-full text-slate-700"):
        for item in NAV:
            if not session.allows(item.least_role):
                continue
            active = current_path == item.path or current_path.startswith(item.path + "/")
            with (
                ui.item(on_click=lambda path=item.path: ui.navigate.to(path))
                .props("active" if active else "")  # Quasar's active state: aria and text colour
                .classes(
                    "rounded-lg mx-2 my-0.5" + (" bg-indigo-50 text-primary font-medium" if active else "")
                )
                .mark(f"nav-{item.path.strip('/')}", *(["nav-active"] if active else []))
            ):
                with ui.item_section().props("avatar").classes("min-w-0 pr-3"):
                    ui.icon(item.icon, size="1.25rem")
                with ui.item_section():
                    ui.item_label(item.label)
    if not session.allows("marketer"):
        ui.label("Read-only access: viewers can look but not change anything.").classes(
            "text-xs text-slate-500 px-5 pt-2"
        ).mark("read-only-note")


async def _logout() -> None:
    """Revoke the token at the API first, so the session is dead even if the browser kept a copy."""
    token = stored_token()
    revoked = True
    if token:
        try:
            await api.logout(token)
        except BackendUnreachable:
            revoked = False
        except ApiError:
            pass  # already expired or revoked: nothing left to end
    forget()
    if not revoked:
        ui.notify(
            "Signed out here; the API did not answer, so the session ends when it expires.", type="warning"
        )
    ui.navigate.to("/login")


def page_heading(title: str, description: str) -> None:
    """The title and one sentence on what the page is for, at the top of the content area."""
    with ui.column().classes("gap-1"):
        ui.label(title).classes("text-2xl font-semibold text-slate-900").mark("page-title")
        ui.label(description).classes("text-slate-600")
