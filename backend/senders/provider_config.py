"""Provider settings of a sender: one msgspec struct per provider, which fields are secrets, and how a
request's ``config`` object is checked, merged into the stored one and shown without its secrets.

The stored ``Sender.config`` holds every effective value (defaults filled in, secrets included) so the
gateway can decode it with :func:`decode` and never guess. The API never returns a secret: responses
carry :func:`public_view` and the names of the secrets that are set (:func:`secrets_set`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

from backend.core.errors import FieldProblem, InvalidInput

Text = Annotated[str, Meta(min_length=1, max_length=500)]
Secret = Annotated[str, Meta(min_length=1, max_length=2000)]
Url = Annotated[str, Meta(min_length=1, max_length=500)]


class ProviderConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every provider's settings."""

    SECRETS: ClassVar[frozenset[str]] = frozenset()
    """Fields the API accepts but never shows again."""
    URLS: ClassVar[frozenset[str]] = frozenset()
    """Fields that must be http(s) URLs (tests point the API bases at local fake servers)."""

    def problems(self) -> list[FieldProblem]:
        """What the types cannot say (one field against another); each problem names its field."""
        return []


class WhatsAppCloudConfig(ProviderConfig):
    """Meta's WhatsApp Cloud API: send with the access token, verify webhooks with the app secret and
    the verify token of the subscription handshake."""

    SECRETS = frozenset({"access_token", "app_secret", "verify_token"})
    URLS = frozenset({"api_base_url"})

    phone_number_id: Text
    access_token: Secret
    app_secret: Secret
    verify_token: Secret
    api_base_url: Url = "https://graph.facebook.com/v21.0"
    waba_id: Text | None = None


class SmsHttpConfig(ProviderConfig):
    """An SMS HTTP API speaking Twilio's wire format (Basic auth with the account SID and auth token)."""

    SECRETS = frozenset({"auth_token"})
    URLS = frozenset({"api_base_url", "public_webhook_url"})

    account_sid: Text
    auth_token: Secret
    api_base_url: Url = "https://api.twilio.com"
    public_webhook_url: Url | None = None
    """The URL the provider calls and signs (X-Twilio-Signature is computed over it, not over the URL a
    proxy hands the api)."""


class ViberConfig(ProviderConfig):
    """A Viber bot / business account on the Viber REST API."""

    SECRETS = frozenset({"auth_token"})
    URLS = frozenset({"api_base_url", "sender_avatar"})

    auth_token: Secret
    sender_name: Annotated[str, Meta(min_length=1, max_length=28)]
    """Shown as the message's sender; Viber allows at most 28 characters."""
    api_base_url: Url = "https://chatapi.viber.com/pa"
    sender_avatar: Url | None = None


class SmtpConfig(ProviderConfig):
    """An SMTP relay. ``security``: ``starttls`` (upgrade on 587), ``tls`` (implicit, 465) or ``none``."""

    SECRETS = frozenset({"password"})

    host: Annotated[str, Meta(min_length=1, max_length=253)]
    port: Annotated[int, Meta(ge=1, le=65535)] = 587
    username: Text | None = None
    password: Secret | None = None
    security: Literal["starttls", "tls", "none"] = "starttls"
    from_name: Annotated[str, Meta(min_length=1, max_length=200)] | None = None


Rate = Annotated[float, Meta(ge=0.0, le=1.0)]
Seconds = Annotated[float, Meta(ge=0.0, le=3600.0)]
ReplyText = Annotated[str, Meta(min_length=1, max_length=200)]
DEFAULT_AUTO_TEXTS = ("Yes please!", "Sounds good", "Not now, thanks", "How much is it?", "ok")
"""What a simulated customer writes when the message has no buttons to tap: words a demo flow's reply
branch can recognise ("yes", "ok") and words it cannot, and never a consent keyword."""


class AutoReply(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """How the sandbox plays the customer's phone for every message it accepts.

    Each rate is a share of the step before it, as a real audience thins out: of the accepted messages
    ``delivered`` are reported delivered, of those ``read`` are read, of those ``reply`` are answered
    (a tap on one of the message's buttons when it has some, else one of ``texts``), and of the answers
    to marketing messages ``stop`` say STOP instead. Each step comes a random ``delay_seconds``
    ``[shortest, longest]`` after the one before it.
    """

    delivered: Rate = 0.95
    read: Rate = 0.7
    reply: Rate = 0.4
    stop: Rate = 0.0
    delay_seconds: tuple[Seconds, Seconds] = (2.0, 20.0)
    texts: Annotated[tuple[ReplyText, ...], Meta(min_length=1, max_length=50)] = DEFAULT_AUTO_TEXTS


class SandboxConfig(ProviderConfig):
    """The in-process fake provider for demos, previews and tests. Without ``auto_reply`` (the default)
    it accepts every message and nothing more happens; with it, simulated customers answer."""

    auto_reply: AutoReply | None = None

    def problems(self) -> list[FieldProblem]:
        if self.auto_reply is not None:
            shortest, longest = self.auto_reply.delay_seconds
            if shortest > longest:
                return [
                    FieldProblem(
                        "config.auto_reply.delay_seconds",
                        f"[shortest, longest] in seconds: the shortest ({shortest:g}) is longer than "
                        f"the longest ({longest:g})",
                        "body",
                    )
                ]
        return []


CONFIG_TYPES: dict[str, type[ProviderConfig]] = {
    "whatsapp_cloud": WhatsAppCloudConfig,
    "sms_http": SmsHttpConfig,
    "viber": ViberConfig,
    "smtp": SmtpConfig,
    "sandbox": SandboxConfig,
}

_AT_PATH = re.compile(r"at `\$\.([^`]+)`")
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")


def _fields(config_type: type[ProviderConfig]) -> dict[str, msgspec.structs.FieldInfo]:
    return {field.name: field for field in msgspec.structs.fields(config_type)}


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Trim strings (a pasted token's trailing newline breaks every signature) and drop nulls, which
    mean "not set" for an optional field."""
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, str):
            value = value.strip()
        if value is not None:
            cleaned[key] = value
    return cleaned


def _check_url(key: str, value: Any) -> FieldProblem | None:
    if not isinstance(value, str):
        return None  # msgspec reports the type
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return FieldProblem(f"config.{key}", f"{value!r} is not an http(s) URL", "body")
    return None


def validate(provider: str, values: dict[str, Any]) -> dict[str, Any]:
    """Check ``values`` against ``provider``'s struct; return what to store (defaults filled in).

    Every unknown and missing key is reported at once, each named ``config.<key>``; no message ever
    echoes a value, so a secret typed into the wrong field does not come back in an error.
    """
    config_type = CONFIG_TYPES[provider]
    fields = _fields(config_type)
    values = _clean(values)
    problems = [
        FieldProblem(f"config.{key}", f"is not a setting of the {provider} provider", "body")
        for key in sorted(values)
        if key not in fields
    ]
    problems += [
        FieldProblem(f"config.{name}", f"is required for the {provider} provider", "body")
        for name, field in fields.items()
        if field.required and name not in values
    ]
    problems += [
        problem
        for key in sorted(config_type.URLS & values.keys())
        if (problem := _check_url(key, values[key])) is not None
    ]
    if problems:
        raise InvalidInput.many(problems)
    try:
        decoded = msgspec.convert(values, config_type)
    except msgspec.ValidationError as exc:
        raise InvalidInput(*_named(exc)) from None
    if problems := decoded.problems():
        raise InvalidInput.many(problems)
    return {key: value for key, value in msgspec.to_builtins(decoded).items() if value is not None}


def _named(exc: msgspec.ValidationError) -> tuple[str, str]:
    """msgspec's error as (field, message): the path it names (nested settings included, such as
    ``config.auto_reply.read``), down to the unknown key itself when that is the complaint."""
    text = str(exc)
    match = _AT_PATH.search(text)
    path = ["config", match[1]] if match else ["config"]
    unknown = _UNKNOWN_FIELD.search(text)
    if unknown and match:  # (validate() names unknown top-level keys before msgspec sees them)
        path.append(unknown[1])
    return ".".join(path), text.split(" - at ")[0]


def merge(provider: str, stored: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A PATCH of ``config``: keys left out keep their stored value (secrets included), a key set to
    null is cleared (an optional setting unset, a defaulted one back to its default)."""
    merged = dict(stored)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    # A null for a key the provider does not know is still a mistake worth naming.
    fields = _fields(CONFIG_TYPES[provider])
    unknown = sorted(key for key, value in patch.items() if value is None and key not in fields)
    if unknown:
        raise InvalidInput.many(
            [
                FieldProblem(f"config.{key}", f"is not a setting of the {provider} provider", "body")
                for key in unknown
            ]
        )
    return validate(provider, merged)


def decode(provider: str, stored: dict[str, Any]) -> ProviderConfig:
    """The stored settings as the provider's struct, for the gateway (secrets included)."""
    return msgspec.convert(stored, CONFIG_TYPES[provider])


def secret_names(provider: str) -> frozenset[str]:
    return CONFIG_TYPES[provider].SECRETS


def public_view(provider: str, stored: dict[str, Any]) -> dict[str, Any]:
    """The settings an API response may show: everything but the secrets."""
    hidden = secret_names(provider) if provider in CONFIG_TYPES else frozenset(stored)
    return {key: value for key, value in stored.items() if key not in hidden}


def secrets_set(provider: str, stored: dict[str, Any]) -> list[str]:
    """Names of the secrets that hold a value, so a form can show "set" without the value."""
    hidden = secret_names(provider) if provider in CONFIG_TYPES else frozenset()
    return sorted(key for key in hidden if stored.get(key))
