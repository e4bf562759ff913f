"""Fake WhatsApp Cloud, Twilio and Viber APIs: one aiohttp application on 127.0.0.1 speaking each
provider's documented wire format, recording every request and answering what a test scripted.

Paths (base URLs on :class:`FakeProviders`):

- ``{whatsapp_base}/{phone_number_id}/messages`` — JSON, ``Authorization: Bearer <access token>``.
- ``{twilio_base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` — form, Basic auth (SID, auth token).
- ``{viber_base}/send_message`` — JSON, ``X-Viber-Auth-Token``.

Unscripted requests get the provider's success answer; :meth:`FakeProviders.script` queues others
(:func:`reply`, :func:`hang`, :func:`drop`, the ``*_error`` builders).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

import httpx
from aiohttp import web

from tests.fakes import webhooks
from tests.fakes.webhooks import (
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    VIBER_AUTH_TOKEN,
    WA_ACCESS_TOKEN,
    WA_APP_SECRET,
    WA_PHONE_NUMBER_ID,
    WA_VERIFY_TOKEN,
)

ProviderName = Literal["whatsapp", "twilio", "viber"]


@dataclass(frozen=True)
class Scripted:
    """One scripted answer. ``action``: answer normally, ``hang`` (record, never answer until the fake
    stops) or ``drop`` (record, then close the connection without answering)."""

    status: int = 200
    json: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    action: Literal["answer", "hang", "drop"] = "answer"


def reply(
    status: int = 200,
    json: Any = None,
    *,
    text: str | None = None,
    headers: dict[str, str] | None = None,
    delay: float = 0.0,
) -> Scripted:
    return Scripted(status=status, json=json, text=text, headers=headers or {}, delay=delay)


def hang() -> Scripted:
    """Accept the request and never answer: the client sees a read timeout (the message may be sent)."""
    return Scripted(action="hang")


def drop(delay: float = 0.0) -> Scripted:
    """Accept the request, then close the connection without an answer."""
    return Scripted(action="drop", delay=delay)


def whatsapp_error(
    code: int, message: str = "error", *, status: int = 400, headers: dict[str, str] | None = None
) -> Scripted:
    """Graph API error body (``{"error": {"code": ..}}``); 131050 opted out, 130429 throughput, ..."""
    body = {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message},
            "fbtrace_id": "A" + uuid.uuid4().hex[:20],
        }
    }
    return reply(status, body, headers=headers)


def twilio_error(code: int, message: str = "error", *, status: int = 400) -> Scripted:
    """Twilio REST error body (``{"code": 21610, "message": .., "status": 400}``)."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return reply(status, body)


def viber_error(status: int, message: str) -> Scripted:
    """Viber answers HTTP 200 with a non-zero ``status`` (5 receiverNotRegistered, 6 notSubscribed, ...)."""
    return reply(200, {"status": status, "status_message": message})


@dataclass
class Recorded:
    provider: ProviderName
    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: Any
    """Parsed: a dict for JSON and for form bodies (form values as strings); None when unreadable."""
    raw: bytes
    at: float
    """``time.monotonic()`` when the request arrived."""
    query: dict[str, str] = field(default_factory=dict)


class FakeProviders:
    """The running fake: base URLs, recorded requests, scripted answers, webhook builders."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._scripts: dict[str, collections.deque[Scripted]] = collections.defaultdict(collections.deque)
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.wa_access_token = WA_ACCESS_TOKEN
        self.twilio_account_sid = TWILIO_ACCOUNT_SID
        self.twilio_auth_token = TWILIO_AUTH_TOKEN
        self.viber_auth_token = VIBER_AUTH_TOKEN
        self._status_targets: list[tuple[str, tuple[str, ...], str, Any]] = []
        self._background: set[asyncio.Task[None]] = set()

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self, port: int = 0) -> FakeProviders:
        app = web.Application()
        app.router.add_post("/whatsapp/v21.0/{phone_number_id}/messages", self._whatsapp)
        app.router.add_post("/twilio/2010-04-01/Accounts/{sid}/Messages.json", self._twilio)
        app.router.add_post("/viber/pa/send_message", self._viber)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._release.set()
        for task in list(self._background):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- what tests configure senders with ------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def whatsapp_base(self) -> str:
        return f"{self.url}/whatsapp/v21.0"

    @property
    def twilio_base(self) -> str:
        return f"{self.url}/twilio"

    @property
    def viber_base(self) -> str:
        return f"{self.url}/viber/pa"

    def config(self, provider: str, **changes: Any) -> dict[str, Any]:
        """A sender ``config`` pointing ``provider`` (whatsapp_cloud · sms_http · viber) at this fake."""
        configs: dict[str, dict[str, Any]] = {
            "whatsapp_cloud": {
                "phone_number_id": WA_PHONE_NUMBER_ID,
                "access_token": self.wa_access_token,
                "app_secret": WA_APP_SECRET,
                "verify_token": WA_VERIFY_TOKEN,
                "api_base_url": self.whatsapp_base,
            },
            "sms_http": {
                "account_sid": self.twilio_account_sid,
                "auth_token": self.twilio_auth_token,
                "api_base_url": self.twilio_base,
            },
            "viber": {
                "auth_token": self.viber_auth_token,
                "sender_name": "Acme",
                "api_base_url": self.viber_base,
            },
        }
        return {**configs[provider], **changes}

    # --- scripting and inspection ---------------------------------------------------------------------

    def script(self, provider: ProviderName, *responses: Scripted) -> None:
        """Queue the next answers for ``provider``, in order; unscripted requests succeed."""
        self._scripts[provider].extend(responses)

    def sent(self, provider: ProviderName) -> list[Recorded]:
        return [request for request in self.requests if request.provider == provider]

    def emit_statuses_to(
        self,
        url: str,
        statuses: tuple[str, ...] = ("sent", "delivered"),
        *,
        app_secret: str = WA_APP_SECRET,
        client: Any = None,
    ) -> None:
        """After each accepted WhatsApp send, post signed status webhooks for it to ``url`` (Flowgate's
        ``/webhooks/{sender_id}``), echoing ``biz_opaque_callback_data``. ``client``: an httpx client to
        post with (the ASGI test client, with a relative ``url``); default a new one per send."""
        self._status_targets.append((url, statuses, app_secret, client))

    # Builders of inbound webhooks, re-exported for convenience (see tests/fakes/webhooks.py).
    whatsapp_webhook = staticmethod(webhooks.whatsapp_webhook)
    wa_text = staticmethod(webhooks.wa_text)
    wa_button_reply = staticmethod(webhooks.wa_button_reply)
    wa_template_button = staticmethod(webhooks.wa_template_button)
    wa_status = staticmethod(webhooks.wa_status)
    twilio_inbound = staticmethod(webhooks.twilio_inbound)
    twilio_status = staticmethod(webhooks.twilio_status)
    viber_event = staticmethod(webhooks.viber_event)

    # --- request handling -----------------------------------------------------------------------------

    async def _record(self, provider: ProviderName, request: web.Request) -> Recorded:
        raw = await request.read()
        body: Any
        if request.content_type == "application/x-www-form-urlencoded":
            body = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        else:
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
        recorded = Recorded(
            provider=provider,
            method=request.method,
            path=request.path,
            headers={key.lower(): value for key, value in request.headers.items()},
            body=body,
            raw=raw,
            at=time.monotonic(),
            query=dict(request.query),
        )
        self.requests.append(recorded)
        return recorded

    async def _scripted(self, provider: ProviderName, request: web.Request) -> web.StreamResponse | None:
        """The scripted answer, if one is queued; None: answer normally."""
        queue = self._scripts[provider]
        if not queue:
            return None
        step = queue.popleft()
        if step.delay:
            await asyncio.sleep(step.delay)
        if step.action == "hang":
            await self._release.wait()
            _close(request)
            return web.Response(status=599)
        if step.action == "drop":
            _close(request)
            return web.Response(status=599)
        if step.json is not None:
            return web.json_response(step.json, status=step.status, headers=step.headers)
        return web.Response(status=step.status, text=step.text or "", headers=step.headers)

    async def _whatsapp(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record("whatsapp", request)
        scripted = await self._scripted("whatsapp", request)
        if scripted is not None:
            return scripted
        if recorded.headers.get("authorization") != f"Bearer {self.wa_access_token}":
            return await _answer(whatsapp_error(190, "Invalid OAuth access token.", status=401))
        body = recorded.body if isinstance(recorded.body, dict) else {}
        if body.get("messaging_product") != "whatsapp" or not body.get("to") or not body.get("type"):
            return await _answer(whatsapp_error(100, "(#100) Invalid parameter"))
        to = str(body["to"])
        message_id = webhooks.wamid()
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
            "messages": [{"id": message_id}],
        }
        if body["type"] == "template":
            answer["messages"][0]["message_status"] = "accepted"
        ref = body.get("biz_opaque_callback_data")
        for url, statuses, secret, client in self._status_targets:
            self._spawn(self._emit(url, statuses, secret, client, message_id, to, ref))
        return web.json_response(answer)

    async def _twilio(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record("twilio", request)
        scripted = await self._scripted("twilio", request)
        if scripted is not None:
            return scripted
        expected = (
            "Basic "
            + base64.b64encode(f"{self.twilio_account_sid}:{self.twilio_auth_token}".encode()).decode()
        )
        if recorded.headers.get("authorization") != expected or request.match_info["sid"] != (
            self.twilio_account_sid
        ):
            return await _answer(twilio_error(20003, "Authenticate", status=401))
        form = recorded.body if isinstance(recorded.body, dict) else {}
        if not form.get("To"):
            return await _answer(twilio_error(21604, "A 'To' phone number is required."))
        if not form.get("From"):
            return await _answer(twilio_error(21603, "A 'From' phone number is required."))
        if not form.get("Body"):
            return await _answer(twilio_error(21602, "Message body is required."))
        sid = webhooks.twilio_sid()
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        answer = {
            "account_sid": self.twilio_account_sid,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form["From"],
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "to": form["To"],
            "uri": f"/2010-04-01/Accounts/{self.twilio_account_sid}/Messages/{sid}.json",
        }
        return web.json_response(answer, status=201)

    async def _viber(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record("viber", request)
        scripted = await self._scripted("viber", request)
        if scripted is not None:
            return scripted
        if recorded.headers.get("x-viber-auth-token") != self.viber_auth_token:
            return await _answer(viber_error(2, "invalidAuthToken"))
        body = recorded.body if isinstance(recorded.body, dict) else {}
        if not body.get("receiver") or not body.get("type"):
            return await _answer(viber_error(3, "badData"))
        return web.json_response(
            {
                "status": 0,
                "status_message": "ok",
                "message_token": webhooks.viber_token(),
                "chat_hostname": "SN-CHAT-07_",
                "billing_status": 1,
            }
        )

    # --- status emission ------------------------------------------------------------------------------

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _emit(
        self,
        url: str,
        statuses: tuple[str, ...],
        secret: str,
        client: Any,
        message_id: str,
        to: str,
        ref: str | None,
    ) -> None:
        await asyncio.sleep(0.01)  # after the send's answer, as Meta does
        async with contextlib.AsyncExitStack() as stack:
            if client is None:
                client = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
            for status in statuses:
                hook = webhooks.whatsapp_webhook(
                    webhooks.wa_status(message_id, status, to, callback_ref=ref),  # type: ignore[arg-type]
                    app_secret=secret,
                )
                with contextlib.suppress(httpx.HTTPError):
                    await client.post(url, content=hook.body, headers=hook.headers)


async def _answer(step: Scripted) -> web.Response:
    return web.json_response(step.json, status=step.status, headers=step.headers)


def _close(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()
