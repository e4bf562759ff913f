"""Public pages without auth: the web opt-out form and per-contact unsubscribe links (seed 003/004,
PRODUCT.md 4.6).

``/optout?workspace=<key>`` (``tokens.optout_form_key``: the id plus a signature, so nobody can walk
the ids to read workspace names): a person types a mobile number and/or an email address. Web-form
opt-outs always apply workspace-wide (seed 004). A number is opted out on *every* phone channel
(WhatsApp, SMS and Viber: one entry each), whether or not the workspace has senders on them today:
the person asked for no marketing on that number, not on one app, and a sender added later must not
resume it. The answer is the same whether or not the address belongs to a known contact, so the form
tells nobody who is on the list. The form is CSRF-protected by a signed double submit: a random nonce
in a ``SameSite=Strict`` cookie, and a hidden token that signs the nonce, the workspace and the time.

``/u/{token}``: the link in a marketing message (tokens: :mod:`backend.consent.tokens`). A GET only
asks for confirmation, because mail scanners and link previews fetch links; a POST unsubscribes the
token's address on the token's channel, workspace-wide and permanently. RFC 8058 one-click (a POST
with ``List-Unsubscribe=One-Click``, no cookies) takes the same path; the token is the authority, so
no CSRF token applies. Repeating either is harmless.

Every page is plain server-rendered HTML from ``templates/`` (``string.Template``; every value is
escaped unless it is markup built here), with no script and no external asset.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

import phonenumbers
from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import FromPath

from backend.audience.addresses import CHANNELS, PHONE_CHANNELS, normalise_email, normalise_phone
from backend.config import get_settings
from backend.consent.service import record_opt_out
from backend.consent.tokens import optout_form_key, read_optout_form_key, read_unsubscribe_token
from backend.core.allow import options_for
from backend.core.database import transaction
from backend.core.errors import FlowgateError, InvalidInput
from backend.webhooks import service as webhooks
from backend.workspaces.tables import Workspace

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
PHONE_CHANNEL_ORDER = tuple(channel for channel in CHANNELS if channel in PHONE_CHANNELS)
CHANNEL_MESSAGES = {
    "whatsapp": "WhatsApp messages",
    "sms": "text messages (SMS)",
    "viber": "Viber messages",
    "email": "email",
}

CSRF_COOKIE = "flowgate_optout"
CSRF_MAX_AGE_S = 2 * 60 * 60
"""How long a form stays usable after it was loaded."""
_CSRF_PURPOSE = b"flowgate/optout-form-csrf/v1"
MAX_BODY_BYTES = 16_384
MAX_PHONE_CHARS = 64
MAX_EMAIL_CHARS = 254

# Separate identifiers per kind, or every rate-limited route of the app would share one budget.
# The form takes any address, so it is the one worth abusing: 20 a minute per client. Token POSTs
# need a token only the recipient has; mailbox providers send one-click POSTs for many people from
# few addresses, so they get more room.
_GET_LIMIT = RateLimitConfig(
    rate_limit=("minute", 60),
    store="rate_limit",
    identifier_for_request=lambda request: f"public-page:{_client_ip(request)}",
)
_FORM_LIMIT = RateLimitConfig(
    rate_limit=("minute", 20),
    store="rate_limit",
    set_rate_limit_headers=True,
    identifier_for_request=lambda request: f"optout-form:{_client_ip(request)}",
)
_LINK_LIMIT = RateLimitConfig(
    rate_limit=("minute", 120),
    store="rate_limit",
    identifier_for_request=lambda request: f"unsubscribe-link:{_client_ip(request)}",
)

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    # The token is in the URL: never hand it to another site.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
}


# --- rendering --------------------------------------------------------------------------------------


class Markup(str):
    """HTML built here from escaped parts: inserted into a template as is."""


def _escape(value: object) -> str:
    return value if isinstance(value, Markup) else html.escape(str(value), quote=True)


@cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / f"{name}.html").read_text(encoding="utf-8"))


def fill(name: str, **values: object) -> Markup:
    """A template with every value escaped (a missing value is a bug: ``substitute`` raises)."""
    return Markup(_template(name).substitute({key: _escape(value) for key, value in values.items()}))


def page(
    title: str, content: Markup, status_code: int = 200, cookies: list[Cookie] | None = None
) -> Response[str]:
    return Response(
        fill("layout", title=title, content=content),
        status_code=status_code,
        media_type=MediaType.HTML,
        headers=SECURITY_HEADERS,
        cookies=cookies or [],
    )


def message_page(status_code: int, heading: str, text: str, link: tuple[str, str] | None = None) -> Response:
    link_html = Markup("")
    if link is not None:
        link_html = Markup(f'<p><a href="{_escape(link[0])}">{_escape(link[1])}</a></p>')
    return page(heading, fill("message", heading=heading, text=text, link=link_html), status_code)


def not_found_page(text: str = "This link is not valid. Check that you copied all of it.") -> Response:
    return message_page(404, "Page not found", text)


def mask_address(address: str) -> str:
    """Enough to recognise one's own address on a page anyone with the link can open, not to learn it."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}•••@{domain}"
    if len(address) <= 6:
        return "•" * len(address)
    return f"{address[:4]}{'•' * (len(address) - 7)}{address[-3:]}"


# --- requests ---------------------------------------------------------------------------------------


def _client_ip(request: Request) -> str:
    # uvicorn rewrites the client from X-Forwarded-For for trusted proxies (FLOWGATE_TRUSTED_PROXIES).
    return request.client.host if request.client else "unknown"


def _evidence(request: Request, **extra: Any) -> dict[str, Any]:
    return {
        "ip": _client_ip(request),
        "user_agent": request.headers.get("user-agent", "")[:500],
        **extra,
    }


async def _workspace(workspace_id: int) -> dict[str, Any] | None:
    return (
        await Workspace.select(Workspace.id, Workspace.name, Workspace.default_phone_region)
        .where(Workspace.id == workspace_id)
        .first()
    )


async def _workspace_of_form(raw: object) -> dict[str, Any] | None:
    """The workspace named by a form key (``optout_form_key``); a bare id finds nothing."""
    workspace_id = read_optout_form_key(str(raw or "").strip())
    return None if workspace_id is None else await _workspace(workspace_id)


class _Refused(Exception):
    """An address the consent service would not take; names the form field it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


async def opt_out(workspace_id: int, targets: list[tuple[str, str]], *, queue: Any, **kwargs: Any) -> None:
    """Opt out every (channel, address) in one transaction, so one submission is recorded whole or
    not at all; their webhook deliveries are enqueued once it has committed."""
    async with transaction():
        results = []
        for channel, address in targets:
            try:
                results.append(await record_opt_out(workspace_id, channel=channel, address=address, **kwargs))
            except InvalidInput as exc:
                raise _Refused("email" if channel == "email" else "phone", exc.problems[0].message) from exc
    await webhooks.dispatch(queue, [delivery for result in results for delivery in result.deliveries])


# --- CSRF -------------------------------------------------------------------------------------------


def _csrf_key() -> bytes:
    return hmac.new(get_settings().resolved_secret_key().encode(), _CSRF_PURPOSE, hashlib.sha256).digest()


def _csrf_tag(nonce: str, workspace_id: int, issued: int) -> str:
    message = f"{workspace_id}:{issued}:{nonce}".encode()
    digest = hmac.new(_csrf_key(), message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_token(nonce: str, workspace_id: int, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    return f"{issued}.{_csrf_tag(nonce, workspace_id, issued)}"


def csrf_valid(token: str, nonce: str | None, workspace_id: int, now: float | None = None) -> bool:
    """The hidden token signs this browser's cookie nonce and this workspace, and is not too old."""
    if not nonce or not token:
        return False
    issued_text, _, tag = token.partition(".")
    if not issued_text.isdigit() or len(issued_text) > 12:
        return False
    issued, now = int(issued_text), time.time() if now is None else now
    if not (now - CSRF_MAX_AGE_S <= issued <= now + 60):
        return False
    return hmac.compare_digest(tag, _csrf_tag(nonce, workspace_id, issued))


def _csrf_cookie(request: Request, nonce: str) -> Cookie:
    secure = request.url.scheme == "https" or get_settings().base_public_url.startswith("https:")
    return Cookie(
        key=CSRF_COOKIE,
        value=nonce,
        path="/optout",
        max_age=CSRF_MAX_AGE_S,
        httponly=True,
        secure=secure,
        samesite="strict",
    )


def _nonce(request: Request) -> str:
    """This browser's nonce: kept across tabs and reloads, so an older open form still submits."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(existing) <= 64 and existing.replace("-", "").replace("_", "").isalnum():
        return existing
    return secrets.token_urlsafe(24)


# --- errors as pages --------------------------------------------------------------------------------


def _http_error_page(_: Request, exc: HTTPException) -> Response:
    if exc.status_code == 429:
        response = message_page(429, "Too many attempts", "Please wait a minute, then try again.")
        retry = next((v for k, v in (exc.headers or {}).items() if k.lower() == "ratelimit-reset"), "60")
        response.headers["Retry-After"] = str(retry)
        return response
    if exc.status_code == 404:
        return not_found_page()
    if exc.status_code < 500:
        return message_page(exc.status_code, "Something is wrong with this request", str(exc.detail))
    return _crash_page(_, exc)


def _flowgate_error_page(request: Request, exc: FlowgateError) -> Response:
    if exc.status_code == 404:
        return not_found_page()
    return message_page(exc.status_code, "Something is wrong with this request", exc.detail)


def _crash_page(request: Request, exc: Exception) -> Response:
    log.exception("public page %s %s failed", request.method, request.url.path, exc_info=exc)
    return message_page(
        500,
        "Sorry, something went wrong",
        "Please try again in a few minutes. Sending the form twice does no harm.",
    )


_ERROR_PAGES = {HTTPException: _http_error_page, FlowgateError: _flowgate_error_page, Exception: _crash_page}


# --- the opt-out form -------------------------------------------------------------------------------


@dataclass
class FormState:
    phone: str = ""
    email: str = ""
    errors: dict[str, str] = field(default_factory=dict)


EXAMPLE_REGION = "GB"


@cache
def example_mobile(region: str = "") -> str:
    """A mobile number to show as an example, in international format, that this form accepts.

    Taken from phonenumbers' own examples for ``region`` (else :data:`EXAMPLE_REGION`), the library
    the form validates with. The UK's drama numbers (+44 7700 900xxx) look like a natural choice but
    are unassigned, so the validator refuses them: an example the form then rejects confuses people.
    """
    number = phonenumbers.example_number_for_type(
        region.upper() or EXAMPLE_REGION, phonenumbers.PhoneNumberType.MOBILE
    ) or phonenumbers.example_number_for_type(EXAMPLE_REGION, phonenumbers.PhoneNumberType.MOBILE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _phone_hint(region: str) -> str:
    base = "Stops WhatsApp, SMS and Viber marketing to this number."
    if region:
        return f"{base} Numbers without a country code are read as {region} numbers."
    return f"{base} Start with the country code, for example {example_mobile()}."


def _field_error(name: str, state: FormState) -> tuple[Markup, str, str]:
    """Markup of a field's error, its aria-describedby list, and its aria-invalid attribute."""
    message = state.errors.get(name)
    if message is None:
        return Markup(""), f"{name}-hint", ""
    error = Markup(f'<p class="error" id="{name}-error"><span class="visually-hidden">Error: </span>')
    error = Markup(error + _escape(message) + "</p>")
    return error, f"{name}-hint {name}-error", ' aria-invalid="true"'


def _summary(state: FormState) -> Markup:
    if not state.errors:
        return Markup("")
    items = "".join(
        f'<li><a href="#{name}">{_escape(message)}</a></li>' for name, message in state.errors.items()
    )
    return Markup(
        f'<div class="summary" role="alert" tabindex="-1"><h2>There is a problem</h2><ul>{items}</ul></div>'
    )


def form_page(
    request: Request, workspace: dict[str, Any], state: FormState, status_code: int = 200
) -> Response:
    nonce = _nonce(request)
    phone_error, phone_describedby, phone_invalid = _field_error("phone", state)
    email_error, email_describedby, email_invalid = _field_error("email", state)
    content = fill(
        "optout_form",
        workspace=workspace["name"],
        workspace_id=optout_form_key(workspace["id"]),
        csrf_token=csrf_token(nonce, workspace["id"]),
        summary=_summary(state),
        phone=state.phone,
        phone_hint=_phone_hint(workspace["default_phone_region"]),
        phone_error=phone_error,
        phone_describedby=phone_describedby,
        phone_invalid=Markup(phone_invalid),
        email=state.email,
        email_error=email_error,
        email_describedby=email_describedby,
        email_invalid=Markup(email_invalid),
    )
    title = f"Stop marketing messages from {workspace['name']}"
    if state.errors:
        title = f"Error: {title}"
    return page(title, content, status_code, cookies=[_csrf_cookie(request, nonce)])


def _validated(form: Mapping[str, str], region: str) -> tuple[FormState, str | None, str | None]:
    """The form's values, its errors, and the normalised phone and email (None when left empty)."""
    state = FormState(phone=str(form.get("phone", "")).strip(), email=str(form.get("email", "")).strip())
    phone = email = None
    if len(state.phone) > MAX_PHONE_CHARS:
        state.errors["phone"] = f"Enter at most {MAX_PHONE_CHARS} characters"
    elif state.phone:
        try:
            phone = normalise_phone(state.phone, region, field="phone")
        except InvalidInput:
            # The normaliser's words are for admins ("set default_phone_region"); these are for the public.
            state.errors["phone"] = "Enter a valid mobile number" + (
                "" if region else f", starting with the country code (for example {example_mobile()})"
            )
    if len(state.email) > MAX_EMAIL_CHARS:
        state.errors["email"] = f"Enter at most {MAX_EMAIL_CHARS} characters"
    elif state.email:
        try:
            email = normalise_email(state.email, field="email")
        except InvalidInput as exc:
            state.errors["email"] = exc.problems[0].message
    if not state.phone and not state.email:
        state.errors["phone"] = "Enter a mobile number or an email address"
    return state, phone, email


@get(
    "/optout",
    exclude_from_auth=True,
    exception_handlers=_ERROR_PAGES,
    middleware=[_GET_LIMIT.middleware],
    tags=["public pages"],
    summary="The web opt-out form of a workspace (HTML)",
)
async def optout_form(request: Request) -> Response:
    workspace = await _workspace_of_form(request.query_params.get("workspace"))
    if workspace is None:
        return not_found_page("We could not find this opt-out form. Check the link you followed.")
    return form_page(request, workspace, FormState())


@post(
    "/optout",
    exclude_from_auth=True,
    exception_handlers=_ERROR_PAGES,
    middleware=[_FORM_LIMIT.middleware],
    request_max_body_size=MAX_BODY_BYTES,
    status_code=200,
    tags=["public pages"],
    summary="Submit the web opt-out form (form-encoded, with its CSRF token and cookie)",
)
async def optout_submit(request: Request) -> Response:
    form = await request.form()
    workspace = await _workspace_of_form(form.get("workspace") or request.query_params.get("workspace"))
    if workspace is None:
        return not_found_page("We could not find this opt-out form. Check the link you followed.")
    if not csrf_valid(str(form.get("csrf_token", "")), request.cookies.get(CSRF_COOKIE), workspace["id"]):
        return message_page(
            403,
            "Please try again",
            "This form has expired or was opened in another browser. Load it again and resubmit.",
            (f"/optout?workspace={optout_form_key(workspace['id'])}", "Open the opt-out form"),
        )
    state, phone, email = _validated(form, workspace["default_phone_region"])
    if state.errors:
        return form_page(request, workspace, state, status_code=400)
    targets = [(channel, phone) for channel in PHONE_CHANNEL_ORDER if phone] + (
        [("email", email)] if email else []
    )
    evidence = _evidence(request, form={"phone": state.phone, "email": state.email})
    try:
        await opt_out(
            workspace["id"],
            targets,
            queue=request.app.state.queue,
            source="web_form",
            sender_id=None,
            actor="web form",
            evidence=evidence,
        )
    except _Refused as exc:
        state.errors[exc.field] = exc.message
        return form_page(request, workspace, state, status_code=400)
    items = []
    if phone:
        items.append(
            Markup(f'<li>WhatsApp, SMS and Viber to <span class="address">{_escape(phone)}</span></li>')
        )
    if email:
        items.append(Markup(f'<li>email to <span class="address">{_escape(email)}</span></li>'))
    content = fill("optout_done", workspace=workspace["name"], items=Markup("\n".join(items)))
    return page("You are unsubscribed", content)


# --- unsubscribe links ------------------------------------------------------------------------------


async def _link_target(token: str) -> tuple[dict[str, Any], str, str] | None:
    found = read_unsubscribe_token(token)
    if found is None:
        return None
    workspace_id, channel, address = found
    workspace = await _workspace(workspace_id)
    return (workspace, channel, address) if workspace is not None else None


@get(
    "/u/{token:str}",
    exclude_from_auth=True,
    exception_handlers=_ERROR_PAGES,
    middleware=[_GET_LIMIT.middleware],
    tags=["public pages"],
    summary="Confirmation page of an unsubscribe link (a GET never unsubscribes)",
)
async def unsubscribe_confirm(request: Request, token: FromPath[str]) -> Response:
    target = await _link_target(token)
    if target is None:
        return not_found_page()
    workspace, channel, address = target
    content = fill(
        "unsubscribe_confirm",
        workspace=workspace["name"],
        channel=CHANNEL_MESSAGES[channel],
        address=mask_address(address),
    )
    return page(f"Unsubscribe from {workspace['name']}", content)


@post(
    "/u/{token:str}",
    exclude_from_auth=True,
    exception_handlers=_ERROR_PAGES,
    middleware=[_LINK_LIMIT.middleware],
    request_max_body_size=MAX_BODY_BYTES,
    status_code=200,
    tags=["public pages"],
    summary="Unsubscribe (the confirmation button, or an RFC 8058 one-click POST)",
)
async def unsubscribe(request: Request, token: FromPath[str]) -> Response:
    target = await _link_target(token)
    if target is None:
        return not_found_page()
    workspace, channel, address = target
    form = await request.form()
    one_click = str(form.get("List-Unsubscribe", "")) == "One-Click"
    try:
        await opt_out(
            workspace["id"],
            [(channel, address)],
            queue=request.app.state.queue,
            source="unsubscribe_link",
            sender_id=None,
            valid_until=None,
            actor="unsubscribe link",
            evidence=_evidence(request, token=token, one_click=one_click),
        )
    except _Refused as exc:  # an address the workspace's rules no longer accept
        return message_page(400, "This link cannot be used", exc.message)
    content = fill(
        "unsubscribe_done",
        workspace=workspace["name"],
        channel=CHANNEL_MESSAGES[channel],
        address=mask_address(address),
    )
    return page("You are unsubscribed", content)


PUBLIC_ROUTES: list = [
    # Before the pages: their Allow header must list POST too (backend/core/allow.py).
    options_for("/optout", tags=["public pages"]),
    options_for("/u/{token:str}", tags=["public pages"]),
    optout_form,
    optout_submit,
    unsubscribe_confirm,
    unsubscribe,
]
