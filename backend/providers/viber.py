"""Viber REST API (bot / business account): ``POST {api_base_url}/send_message`` with
``X-Viber-Auth-Token``; callbacks signed with ``X-Viber-Content-Signature`` (hex HMAC-SHA256 of the raw
body keyed by the auth token).

Addressing: Flowgate stores Viber contacts by their E.164 phone, the way Viber's business messaging
addresses users, and sends that address as ``receiver``; inbound ``sender.id`` / ``user_id`` are taken
as the contact's address the same way (a bot-API deployment whose ids are opaque Viber user ids keeps
them as the address unchanged: the inbound pipeline normalises per channel).

Viber answers HTTP 200 with its own ``status``: 0 ok; 12 too many requests (retry); 6 not subscribed
(the user unsubscribed: rejected and an opt-out); 5 receiver not registered and everything else:
rejected. HTTP 429 and 5xx are retried.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from backend.providers.base import (
    DeliveryStatus,
    InboundEvent,
    InboundMessage,
    MalformedWebhook,
    Outgoing,
    ProviderOptOut,
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
from backend.providers.webhook_tools import from_epoch, hmac_hex_matches, json_object
from backend.senders.provider_config import ViberConfig

OK: Final = 0
NOT_SUBSCRIBED: Final = 6
TOO_MANY_REQUESTS: Final = 12
STATUS_EVENTS: Final[dict[str, DeliveryStatus]] = {
    "delivered": "delivered",
    "seen": "read",
    "failed": "failed",
}
OPT_OUT_EVENTS: Final = frozenset({"unsubscribed", "blocked"})
MAX_TEXT: Final = 7000
MAX_CAPTION: Final = 768


class ViberProvider:
    name: ClassVar[str] = "viber"

    def __init__(
        self,
        *,
        sender_id: int,
        address: str,
        config: ViberConfig,
        http: ProviderHttp,
        webhook_url: str = "",
    ) -> None:
        self.sender_id = sender_id
        self.address = address
        self.config = config
        self.http = http
        self.url = f"{config.api_base_url.rstrip('/')}/send_message"
        self.headers = {"X-Viber-Auth-Token": config.auth_token}

    # --- sending --------------------------------------------------------------------------------------

    def build_body(self, message: Outgoing) -> dict[str, Any]:
        """A ``text`` message, or a ``picture`` with the text as its caption; other media (Viber's video
        and file messages need the file's size, which a link does not tell) go as their link under the
        text."""
        text = message.text or ""
        picture = (
            message.media_url if message.media_url and media_kind(message.media_url) == "image" else None
        )
        if message.media_url and picture is None:
            text = f"{text}\n{message.media_url}" if text else message.media_url
        if not text and picture is None:
            raise ValueError("a Viber message needs text or a picture")
        limit = MAX_CAPTION if picture else MAX_TEXT
        if len(text) > limit:
            raise ValueError(
                f"Viber {'picture captions' if picture else 'text'} are limited to {limit} characters"
            )
        sender: dict[str, str] = {"name": self.config.sender_name}
        if self.config.sender_avatar:
            sender["avatar"] = self.config.sender_avatar
        body: dict[str, Any] = {
            "receiver": message.to,
            "sender": sender,
            "tracking_data": message.callback_ref,
            "type": "text",
            "text": text,
        }
        if picture:
            body.update(type="picture", media=picture)
        if message.buttons:
            buttons = [
                {"ActionType": "reply", "ActionBody": button.id, "Text": button.title}
                for button in message.buttons
            ]
            body["keyboard"] = {"Type": "keyboard", "DefaultHeight": False, "Buttons": buttons}
        return body

    async def send(self, message: Outgoing) -> SendResult:
        try:
            body = self.build_body(message)
        except ValueError as exc:
            return SendResult(outcome="rejected", error_code="invalid_message", error_message=str(exc))
        try:
            response = await self.http.post(self.url, json=body, headers=self.headers)
        except NETWORK_ERRORS as exc:
            return SendResult(outcome=network_outcome(exc), error_message=f"{type(exc).__name__}: {exc}")
        return classify(response)

    # --- webhooks -------------------------------------------------------------------------------------

    def handshake(self, request: WebhookRequest) -> WebhookReply | None:
        return None  # Viber's set_webhook check is a signed POST ("webhook" event), parsed as nothing

    def verify(self, request: WebhookRequest) -> bool:
        signature = header(request.headers, "x-viber-content-signature")
        return hmac_hex_matches(self.config.auth_token, request.body, signature)

    def parse(self, request: WebhookRequest) -> list[InboundEvent]:
        return parse_callback(json_object(request.body))

    def acknowledge(self) -> WebhookReply:
        return WebhookReply(200)

    async def aclose(self) -> None:
        return None


def classify(response: HttpResponse) -> SendResult:
    payload = json_or_none(response)
    body: dict[str, Any] = payload if isinstance(payload, dict) else {}
    if response.status_code == 429 or response.status_code >= 500:
        return SendResult(
            outcome="retry",
            error_code=str(response.status_code),
            error_message=response.text[:500],
            retry_after=retry_after(response),
        )
    if not response.is_success:
        return SendResult(
            outcome="rejected", error_code=str(response.status_code), error_message=response.text[:500]
        )
    status = body.get("status")
    if status == OK:
        token = body.get("message_token")
        if token is None:
            return SendResult(outcome="unknown", error_message="status 0 without a message_token")
        return SendResult(outcome="accepted", provider_message_id=str(token))
    if status is None:
        return SendResult(outcome="unknown", error_message="2xx answer without a Viber status")
    text = str(body.get("status_message") or "")
    if status == TOO_MANY_REQUESTS:
        return SendResult(
            outcome="retry", error_code=str(status), error_message=text, retry_after=retry_after(response)
        )
    return SendResult(
        outcome="rejected", error_code=str(status), error_message=text, opted_out=status == NOT_SUBSCRIBED
    )


def parse_callback(payload: dict[str, Any]) -> list[InboundEvent]:
    event = payload.get("event")
    token = payload.get("message_token")
    when = from_epoch(payload.get("timestamp"), millis=True)
    try:
        if event == "message":
            sender = payload["sender"]
            message = payload.get("message") or {}
            return [
                InboundMessage(
                    provider_event_id=str(token if token is not None else payload["timestamp"]),
                    from_address=str(sender["id"]),
                    text=message.get("text"),
                    profile_name=sender.get("name"),
                    timestamp=when,
                )
            ]
        if event in STATUS_EVENTS:
            if token is None:
                raise MalformedWebhook(f"{event} without message_token")
            status = STATUS_EVENTS[event]
            return [
                StatusUpdate(
                    provider_event_id=f"{token}:{status}",
                    provider_message_id=str(token),
                    status=status,
                    error_message=payload.get("desc") if status == "failed" else None,
                    recipient=payload.get("user_id"),
                    timestamp=when,
                )
            ]
        if event in OPT_OUT_EVENTS:
            user_id = str(payload["user_id"])
            event_key = token if token is not None else payload.get("timestamp")
            return [
                ProviderOptOut(
                    provider_event_id=f"{event}:{user_id}:{event_key}",
                    from_address=user_id,
                    reason=f"viber_{event}",
                    timestamp=when,
                )
            ]
    except (KeyError, TypeError) as exc:
        raise MalformedWebhook(f"not a Viber {event} callback: {exc!r}") from None
    if not isinstance(event, str):
        raise MalformedWebhook("no event")
    return []  # subscribed, conversation_started, webhook, client_status, action: nothing to store
