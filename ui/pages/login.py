"""``/login``: exchange an email and password for an API session token.

The token is kept in ``app.storage.user`` (server-side) and the browser goes back to the page it asked
for. Errors are worded for the three things that actually go wrong: a wrong password, too many attempts
(the API allows ten a minute per address), and an API that does not answer.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from nicegui import ui

from ui.backend import ApiError, BackendUnreachable, api
from ui.layout import PAGE_RESPONSE_TIMEOUT_S
from ui.pages.problems import render_unreachable
from ui.session import remember, safe_next, stored_token
from ui.theme import apply_theme, logo


def register() -> None:
    ui.page("/login", title="Sign in · Flowgate", response_timeout=PAGE_RESPONSE_TIMEOUT_S)(login_page)


async def login_page(request: Request) -> Response | None:
    target = safe_next(request.query_params.get("next"))
    if stored_token() is not None:
        # Already signed in here; if the token is stale, the target page sends the browser back.
        return RedirectResponse(target, status_code=303)
    try:
        await api.health()
    except BackendUnreachable as exc:
        # No point asking for a password the API cannot check.
        render_unreachable(exc.url)
        return None
    except ApiError:
        pass  # it answers, if oddly: let the login attempt report what is wrong
    _login_form(target, client_ip=request.client.host if request.client else None)
    return None


def _login_form(target: str, *, client_ip: str | None) -> None:
    apply_theme()
    with ui.column().classes("w-full min-h-screen items-center justify-center p-4 gap-6"):
        with ui.row().classes("items-center gap-3"):
            logo(36)
            ui.label("Flowgate").classes("text-2xl font-semibold tracking-tight text-slate-900")
        with ui.card().classes("w-full max-w-sm p-8 gap-4 shadow-sm rounded-xl").mark("login-card"):
            with ui.column().classes("gap-1"):
                ui.label("Sign in").classes("text-xl font-semibold text-slate-900")
                ui.label("Use the email and password your workspace admin gave you.").classes(
                    "text-sm text-slate-500"
                )
            email = (
                ui.input("Email")
                .props('outlined type=email autocomplete=username autofocus spellcheck="false"')
                .classes("w-full")
                .mark("email")
            )
            password = (
                ui.input("Password", password=True, password_toggle_button=True)
                .props("outlined autocomplete=current-password")
                .classes("w-full")
                .mark("password")
            )
            error = ui.label("").classes("text-sm text-red-700 -mt-1").props("role=alert").mark("login-error")
            error.bind_visibility_from(error, "text", backward=bool)
            button = (
                ui.button("Sign in")
                .props("unelevated no-caps size=md")
                .classes("w-full py-2 text-base")
                .mark("sign-in")
            )
        ui.label("Flowgate · marketing chat flows with one consent gate").classes("text-xs text-slate-400")

    async def submit() -> None:
        if not button.enabled:  # Enter pressed again while a request is in flight
            return
        address = (email.value or "").strip()
        if not address or not password.value:
            error.set_text("Enter your email and password.")
            return
        error.set_text("")
        button.disable()
        try:
            login = await api.login(address, password.value, client_ip=client_ip)
        except BackendUnreachable as exc:
            error.set_text(f"Flowgate's API at {exc.url} is not answering. Try again in a moment.")
        except ApiError as exc:
            error.set_text(_login_error_text(exc))
            password.set_value("")
        else:
            remember(login)
            ui.navigate.to(target)
            return
        finally:
            button.enable()

    button.on_click(submit)
    email.on("keydown.enter", submit)
    password.on("keydown.enter", submit)


def _login_error_text(exc: ApiError) -> str:
    if exc.status == 401:
        return "Wrong email or password."
    if exc.status == 429:
        wait = f"{exc.retry_after} seconds" if exc.retry_after else "a minute"
        return f"Too many sign-in attempts. Wait {wait}, then try again."
    if exc.status == 400 and exc.field_errors:
        return "; ".join(f"{field}: {message}" for field, message in exc.field_errors.items())
    return f"Sign-in failed: {exc.detail}"
