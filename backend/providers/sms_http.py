"""SMS over HTTP in Twilio's wire format: ``POST {api_base_url}/2010-04-01/Accounts/{sid}/Messages.json``
(form-encoded, Basic auth with the account SID and auth token), status callbacks and inbound messages
posted form-encoded and signed with ``X-Twilio-Signature``.

The status callback URL is the sender's public webhook URL with ``?ref=<message id>``, so even a send
whose answer was lost can be matched to its message when the callback arrives. Twilio signs the full
URL it called, query included, so :meth:`SmsHttpProvider.verify` rebuilds exactly that URL from the
configured ``public_webhook_url`` (what Twilio was told) plus the query string received.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, ClassVar, Final
from urllib.parse import parse_qsl, urlsplit

from backend.providers.base import (
    DeliveryStatus,
    InboundEvent,
    InboundMessage,
    MalformedWebhook,
    Outgoing,
    SendResult,
    StatusUpdate,
    WebhookReply,
    WebhookRequest,
    header,
)
from backend.providers.http import (
    NETWORK_ERRORS,
    HttpResponse,
    ProviderHttp,
    basic_auth,
    json_or_none,
    network_outcome,
    retry_after,
)
from backend.senders.provider_config import SmsHttpConfig

OPTED_OUT_CODE: Final = 21610
TOO_MANY_REQUESTS_CODE: Final = 20429
STATUS_MAP: Final[dict[str, DeliveryStatus]] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}
"""Twilio ``MessageStatus`` -> ours; queued/accepted/sending/scheduled are not news and are skipped."""
EMPTY_TWIML: Final = "<Response/>"


class SmsHttpProvider:
    name: ClassVar[str] = "sms_http"

    def __init__(
        self,
        *,
        sender_id: int,
        address: str,
        config: SmsHttpConfig,
        http: ProviderHttp,
        webhook_url: str = "",
    ) -> None:
        self.sender_id = sender_id
        self.address = address
        self.config = config
        self.http = http
        base = config.api_base_url.rstrip("/")
        self.url = f"{base}/2010-04-01/Accounts/{config.account_sid}/Messages.json"
        self.callback_base = config.public_webhook_url or webhook_url
        self.headers = {"Authorization": basic_auth(config.account_sid, config.auth_token)}

    # --- sending --------------------------------------------------------------------------------------

    def status_callback(self, message: Outgoing) -> str | None:
        if message.status_callback_url:
            return message.status_callback_url
        if not self.callback_base:
            return None
        separator = "&" if "?" in self.callback_base else "?"
        return f"{self.callback_base}{separator}ref={message.callback_ref}"

    async def send(self, message: Outgoing) -> SendResult:
        if not message.text:
            return SendResult(
                outcome="rejected", error_code="invalid_message", error_message="SMS needs text"
            )
        form = {"To": message.to, "From": message.sender_address or self.address, "Body": message.text}
        callback = self.status_callback(message)
        if callback:
            form["StatusCallback"] = callback
        try:
            response = await self.http.post(self.url, data=form, headers=self.headers)
        except NETWORK_ERRORS as exc:
            return SendResult(outcome=network_outcome(exc), error_message=f"{type(exc).__name__}: {exc}")
        return classify(response)

    # --- webhooks -------------------------------------------------------------------------------------

    def handshake(self, request: WebhookRequest) -> WebhookReply | None:
        return None

    def signed_url(self, request: WebhookRequest) -> str:
        """The URL Twilio signed: the configured public URL plus the query it was called with."""
        public = self.config.public_webhook_url
        if not public:
            return request.url
        query = urlsplit(request.url).query
        if query and "?" not in public:
            return f"{public}?{query}"
        return public

    def verify(self, request: WebhookRequest) -> bool:
        given = header(request.headers, "x-twilio-signature")
        if not given or request.method.upper() != "POST":
            return False
        try:
            params = _form(request.body)
        except MalformedWebhook:
            return False
        data = self.signed_url(request) + "".join(
            key + value for key, value in sorted(params, key=lambda pair: pair[0])
        )
        expected = base64.b64encode(
            hmac.new(self.config.auth_token.encode(), data.encode(), hashlib.sha1).digest()
        )
        return hmac.compare_digest(expected, given.strip().encode())

    def parse(self, request: WebhookRequest) -> list[InboundEvent]:
        params = dict(_form(request.body))
        sid = params.get("MessageSid") or params.get("SmsSid")
        if not sid:
            raise MalformedWebhook("no MessageSid")
        if "MessageStatus" in params:
            return _status(sid, params, _ref(request))
        if "From" not in params:
            raise MalformedWebhook("neither a status callback nor an inbound message")
        return [InboundMessage(provider_event_id=sid, from_address=params["From"], text=params.get("Body"))]

    def acknowledge(self) -> WebhookReply:
        return WebhookReply(200, "text/xml", EMPTY_TWIML)

    async def aclose(self) -> None:
        return None


def classify(response: HttpResponse) -> SendResult:
    payload = json_or_none(response)
    if response.is_success:
        sid = payload.get("sid") if isinstance(payload, dict) else None
        if not sid:
            return SendResult(outcome="unknown", error_message="2xx answer without a sid")
        return SendResult(outcome="accepted", provider_message_id=str(sid))
    body: dict[str, Any] = payload if isinstance(payload, dict) else {}
    code = body.get("code")
    text = str(body.get("message") or response.text[:500])
    code_text = str(code) if code is not None else str(response.status_code)
    if code == OPTED_OUT_CODE:
        return SendResult(outcome="rejected", error_code=code_text, error_message=text, opted_out=True)
    if response.status_code in (429, 503) or response.status_code >= 500 or code == TOO_MANY_REQUESTS_CODE:
        return SendResult(
            outcome="retry", error_code=code_text, error_message=text, retry_after=retry_after(response)
        )
    return SendResult(outcome="rejected", error_code=code_text, error_message=text)


def _form(body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedWebhook(f"not a form body: {exc}") from None


def _ref(request: WebhookRequest) -> str | None:
    if request.query.get("ref"):
        return request.query["ref"]
    query = dict(parse_qsl(urlsplit(request.url).query))
    return query.get("ref") or None


def _status(sid: str, params: dict[str, str], ref: str | None) -> list[InboundEvent]:
    status = STATUS_MAP.get(params["MessageStatus"].lower())
    if status is None:
        return []
    code = params.get("ErrorCode") or None
    return [
        StatusUpdate(
            provider_event_id=f"{sid}:{status}",
            provider_message_id=sid,
            callback_ref=ref,
            status=status,
            error_code=code,
            error_message=params.get("ErrorMessage") or None,
            opted_out=code == str(OPTED_OUT_CODE),
            recipient=params.get("To"),
        )
    ]
