"""Meta's WhatsApp Cloud API: ``POST {api_base_url}/{phone_number_id}/messages`` with the bearer token,
and its webhooks (subscription GET with ``hub.challenge``; ``X-Hub-Signature-256`` over the raw body).

Error codes (Graph ``error.code``) decide retry vs. rejection:

- retry: HTTP 429 and 5xx; 130429 throughput, 131056 pair rate, 131000 "something went wrong",
  131016 service unavailable, 133004 server unavailable, 1/2 API unknown/service, 4 and 80007 rate limits.
- rejected, opted out: 131050 (the user stopped marketing messages from the business; never retry).
- rejected: 131049 (per-user marketing limit: Meta asks not to retry soon, so a campaign reports it
  instead of hammering), and every other 4xx.
"""

from __future__ import annotations

import hmac
from typing import Any, ClassVar, Final

from backend.providers.base import (
    InboundEvent,
    InboundMessage,
    MalformedWebhook,
    Outgoing,
    SendResult,
    StatusUpdate,
    WebhookReply,
    WebhookRequest,
    header,
    media_kind,
)
from backend.providers.http import (
    NETWORK_ERRORS,
    HttpResponse,
    ProviderHttp,
    json_or_none,
    network_outcome,
    retry_after,
)
from backend.providers.webhook_tools import e164, from_epoch, hmac_hex_matches, json_object
from backend.senders.provider_config import WhatsAppCloudConfig

TRANSIENT_CODES: Final = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131056, 133004})
OPTED_OUT_CODE: Final = 131050
MAX_BUTTONS: Final = 3
MAX_BUTTON_TITLE: Final = 20
MAX_BUTTON_ID: Final = 256
MAX_CAPTION: Final = 1024
STATUSES: Final = frozenset({"sent", "delivered", "read", "failed"})


class WhatsAppCloudProvider:
    name: ClassVar[str] = "whatsapp_cloud"

    def __init__(
        self,
        *,
        sender_id: int,
        address: str,
        config: WhatsAppCloudConfig,
        http: ProviderHttp,
        webhook_url: str = "",
    ) -> None:
        self.sender_id = sender_id
        self.address = address
        self.config = config
        self.http = http
        self.url = f"{config.api_base_url.rstrip('/')}/{config.phone_number_id}/messages"
        self.headers = {"Authorization": f"Bearer {config.access_token}"}

    # --- sending --------------------------------------------------------------------------------------

    async def send(self, message: Outgoing) -> SendResult:
        try:
            body = build_body(message)
        except ValueError as exc:
            return SendResult(outcome="rejected", error_code="invalid_message", error_message=str(exc))
        try:
            response = await self.http.post(self.url, json=body, headers=self.headers)
        except NETWORK_ERRORS as exc:
            return SendResult(outcome=network_outcome(exc), error_message=f"{type(exc).__name__}: {exc}")
        return classify(response)

    # --- webhooks -------------------------------------------------------------------------------------

    def handshake(self, request: WebhookRequest) -> WebhookReply | None:
        """Meta's subscription check: echo ``hub.challenge`` when the verify token matches, else 403."""
        if request.method.upper() != "GET":
            return None
        token = request.query.get("hub.verify_token", "")
        challenge = request.query.get("hub.challenge", "")
        ok = request.query.get("hub.mode") == "subscribe" and hmac.compare_digest(
            token.encode(), self.config.verify_token.encode()
        )
        if not ok or not challenge:
            return WebhookReply(403, "text/plain", "verification failed")
        return WebhookReply(200, "text/plain", challenge)

    def verify(self, request: WebhookRequest) -> bool:
        signature = header(request.headers, "x-hub-signature-256")
        if not signature or not signature.startswith("sha256="):
            return False
        return hmac_hex_matches(self.config.app_secret, request.body, signature.removeprefix("sha256="))

    def parse(self, request: WebhookRequest) -> list[InboundEvent]:
        return parse_notification(json_object(request.body))

    def acknowledge(self) -> WebhookReply:
        return WebhookReply(200)

    async def aclose(self) -> None:
        return None


def build_body(message: Outgoing) -> dict[str, Any]:
    """The ``/messages`` JSON for text, media (a link, with the text as its caption), interactive reply
    buttons (under the media, as their header) or a template; ValueError when the
    message cannot be expressed (WhatsApp would refuse it anyway, with a vaguer error)."""
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.to.lstrip("+"),
        "biz_opaque_callback_data": message.callback_ref,
    }
    if message.reply_to_provider_id:
        body["context"] = {"message_id": message.reply_to_provider_id}
    if message.template is not None:
        template: dict[str, Any] = {
            "name": message.template.name,
            "language": {"code": message.template.language},
        }
        if message.template.params:
            parameters = [{"type": "text", "text": value} for value in message.template.params]
            template["components"] = [{"type": "body", "parameters": parameters}]
        body.update(type="template", template=template)
    elif message.buttons:
        if not message.text:
            raise ValueError("interactive buttons need a body text")
        if len(message.buttons) > MAX_BUTTONS:
            raise ValueError(f"WhatsApp allows at most {MAX_BUTTONS} reply buttons")
        for button in message.buttons:
            if not button.title or len(button.title) > MAX_BUTTON_TITLE:
                raise ValueError(f"button title {button.title!r} must be 1-{MAX_BUTTON_TITLE} characters")
            if not button.id or len(button.id) > MAX_BUTTON_ID:
                raise ValueError(f"button id must be 1-{MAX_BUTTON_ID} characters")
        buttons = [{"type": "reply", "reply": {"id": b.id, "title": b.title}} for b in message.buttons]
        interactive: dict[str, Any] = {
            "type": "button",
            "body": {"text": message.text},
            "action": {"buttons": buttons},
        }
        if message.media_url:  # the picture (or video, document) above the text and its buttons
            kind = media_kind(message.media_url)
            interactive["header"] = {"type": kind, kind: {"link": message.media_url}}
        body.update(type="interactive", interactive=interactive)
    elif message.media_url:
        kind = media_kind(message.media_url)
        media: dict[str, Any] = {"link": message.media_url}
        if message.text:
            if len(message.text) > MAX_CAPTION:
                raise ValueError(f"a WhatsApp media caption is limited to {MAX_CAPTION} characters")
            media["caption"] = message.text
        body.update(type=kind, **{kind: media})
    elif message.text:
        body.update(type="text", text={"preview_url": False, "body": message.text})
    else:
        raise ValueError("a WhatsApp message needs text, buttons or a template")
    return body


def classify(response: HttpResponse) -> SendResult:
    payload = json_or_none(response)
    if response.is_success:
        try:
            message_id = str(payload["messages"][0]["id"])  # type: ignore[index]
        except (TypeError, KeyError, IndexError):
            # Taken, but we cannot tell which id: let status webhooks (callback_ref) reconcile it.
            return SendResult(outcome="unknown", error_message="2xx answer without messages[0].id")
        return SendResult(outcome="accepted", provider_message_id=message_id)
    error = payload.get("error") if isinstance(payload, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    text = str(error.get("message") or "") if isinstance(error, dict) else response.text[:500]
    code_text = str(code) if code is not None else str(response.status_code)
    if code == OPTED_OUT_CODE:
        return SendResult(outcome="rejected", error_code=code_text, error_message=text, opted_out=True)
    if response.status_code == 429 or response.status_code >= 500 or code in TRANSIENT_CODES:
        return SendResult(
            outcome="retry", error_code=code_text, error_message=text, retry_after=retry_after(response)
        )
    return SendResult(outcome="rejected", error_code=code_text, error_message=text)


def parse_notification(payload: dict[str, Any]) -> list[InboundEvent]:
    """Messages and statuses of every ``entry[].changes[].value`` (other fields are ignored)."""
    events: list[InboundEvent] = []
    try:
        for entry in payload.get("entry") or []:
            for change in entry.get("changes") or []:
                if change.get("field", "messages") != "messages":
                    continue
                value = change.get("value") or {}
                names = {
                    str(contact.get("wa_id")): (contact.get("profile") or {}).get("name")
                    for contact in value.get("contacts") or []
                }
                events += [_message(item, names) for item in value.get("messages") or []]
                events += [
                    _status(item) for item in value.get("statuses") or [] if item.get("status") in STATUSES
                ]
    except (AttributeError, KeyError, TypeError) as exc:
        raise MalformedWebhook(f"not a WhatsApp notification: {exc!r}") from None
    return events


def _message(item: dict[str, Any], names: dict[str, Any]) -> InboundMessage:
    kind = item.get("type")
    text = button_id = button_title = None
    if kind == "text":
        text = item["text"]["body"]
    elif kind == "interactive":
        interactive = item["interactive"]
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        button_id, button_title = reply.get("id"), reply.get("title")
        text = button_title
    elif kind == "button":
        button_id, button_title = item["button"].get("payload"), item["button"].get("text")
        text = button_title
    else:
        text = (item.get(kind) or {}).get("caption") if isinstance(kind, str) else None
    sender = str(item["from"])
    return InboundMessage(
        provider_event_id=str(item["id"]),
        from_address=e164(sender),
        text=text,
        button_id=button_id,
        button_title=button_title,
        context_provider_message_id=(item.get("context") or {}).get("id"),
        profile_name=names.get(sender),
        timestamp=from_epoch(item.get("timestamp")),
    )


def _status(item: dict[str, Any]) -> StatusUpdate:
    errors = item.get("errors") or []
    first = errors[0] if errors else {}
    code = first.get("code")
    recipient = item.get("recipient_id")
    return StatusUpdate(
        provider_event_id=f"{item['id']}:{item['status']}",
        provider_message_id=str(item["id"]),
        callback_ref=item.get("biz_opaque_callback_data"),
        status=item["status"],
        error_code=str(code) if code is not None else None,
        error_message=first.get("title") or first.get("message"),
        opted_out=code == OPTED_OUT_CODE,
        recipient=e164(recipient) if recipient else None,
        timestamp=from_epoch(item.get("timestamp")),
    )
