"""What the sender pages know about senders, as pure data and functions (tested directly).

Which provider serves which channel and with which settings (mirroring ``backend/senders/
provider_config.py``; ``tests/ui/components/test_sender_rules.py`` checks the two agree), the form's state
and the request bodies it makes, and the API's field errors in words under the input they name.

Secrets are write-only: the API says which are set (``secrets_set``) and never their values. So a secret
input starts empty; left empty on edit it is left out of the PATCH (the API keeps the stored value), typed
it replaces the value, and an optional secret can be cleared explicitly (``null``, which the API's config
merge reads as "unset"). Other settings left empty on edit are sent as ``null`` too: an optional one is
unset and a defaulted one (the API base URL, the SMTP port) goes back to its default.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from ui.clients.senders import ConsentEventInfo, MessageInfo, SenderInfo
from ui.components.field_errors import in_words

CHANNELS: dict[str, str] = {"whatsapp": "WhatsApp", "sms": "SMS", "viber": "Viber", "email": "Email"}
CHANNEL_ICONS: dict[str, str] = {"whatsapp": "chat", "sms": "sms", "viber": "forum", "email": "mail"}
PROVIDERS: dict[str, str] = {
    "whatsapp_cloud": "WhatsApp Cloud API",
    "sms_http": "SMS HTTP API",
    "viber": "Viber REST API",
    "smtp": "SMTP relay",
    "sandbox": "Sandbox",
}
PROVIDER_BLURBS: dict[str, str] = {
    "whatsapp_cloud": "Meta's WhatsApp Business Platform: a number of your WhatsApp Business Account.",
    "sms_http": "An SMS API speaking Twilio's format (Twilio and compatible providers).",
    "viber": "A Viber bot or business account.",
    "smtp": "Any SMTP relay: your mail server, or a service such as SES, Postmark or Mailgun.",
    "sandbox": "Sends nothing for real: messages are accepted and stored. Answer them yourself from the "
    "sender's page (STOP included), or let simulated customers answer. For demos and tests.",
}
PROVIDERS_BY_CHANNEL: dict[str, tuple[str, ...]] = {
    "whatsapp": ("whatsapp_cloud", "sandbox"),
    "sms": ("sms_http", "sandbox"),
    "viber": ("viber", "sandbox"),
    "email": ("smtp", "sandbox"),
}
DEFAULT_RATE_LIMITS: dict[str, int] = {"whatsapp": 80, "sms": 10, "viber": 20, "email": 10}
"""What the API uses when a new sender gives no rate limit (``backend/senders/validation.py``)."""
RATE_LIMIT_MAX = 1000
NAME_MAX = 200
REPLY_MAX = 1600
KEYWORD_MAX = 50

KEYWORD_LISTS: tuple[str, ...] = ("opt_out_keywords", "opt_in_keywords", "help_keywords")
DEFAULT_KEYWORDS: dict[str, tuple[str, ...]] = {
    "opt_out_keywords": ("STOP", "UNSUBSCRIBE"),
    "opt_in_keywords": ("START",),
    "help_keywords": ("HELP", "INFO"),
}
KEYWORD_WORDS: dict[str, str] = {
    "opt_out_keywords": "the opt-out keywords",
    "opt_in_keywords": "the opt-in keywords",
    "help_keywords": "the help keywords",
}
"""How the API's list names read inside its sentences ("'STOP' is already in opt_out_keywords")."""

SCOPES: dict[str, str] = {
    "sender": "This sender only",
    "workspace": "The whole workspace",
}
SCOPE_HINTS: dict[str, str] = {
    "sender": "A STOP sent to this sender stops marketing from this sender; the workspace's other senders "
    "may still write to that person.",
    "workspace": "A STOP sent to this sender stops marketing from every sender of the workspace. Opt-outs "
    "from the web form always apply to the whole workspace.",
}

ADDRESS_LABELS: dict[str, str] = {
    "whatsapp": "WhatsApp number",
    "sms": "Phone number",
    "viber": "Viber account name",
    "email": "From address",
}
ADDRESS_HINTS: dict[str, str] = {
    "whatsapp": "The business number, with its country code: +351 912 345 678.",
    "sms": "The number messages come from, with its country code: +351 912 345 678.",
    "viber": "The bot or business account's name, 1 to 50 characters.",
    "email": "The address emails come from, e.g. news@yourshop.example.",
}
ADDRESS_MISSING: dict[str, str] = {
    "whatsapp": "Enter the WhatsApp number.",
    "sms": "Enter the phone number.",
    "viber": "Enter the Viber account name.",
    "email": "Enter the From address.",
}
FROM_HINTS: dict[str, str] = {
    "whatsapp": "The customer's number, with its country code: +351 912 000 001",
    "sms": "The customer's number, with its country code: +351 912 000 001",
    "viber": "The customer's number, with its country code: +351 912 000 001",
    "email": "The customer's email address: ana@example.com",
}
FROM_MISSING: dict[str, str] = {
    "whatsapp": "Enter the customer's number, with its country code.",
    "sms": "Enter the customer's number, with its country code.",
    "viber": "Enter the customer's number, with its country code.",
    "email": "Enter the customer's email address.",
}

SettingKind = Literal["text", "secret", "url", "number", "choice"]


@dataclass(frozen=True, slots=True)
class Setting:
    """One provider setting as the form shows it."""

    key: str
    label: str
    kind: SettingKind = "text"
    required: bool = False
    default: str | int | None = None
    """The API's default, shown as the input's initial value on a new sender."""
    hint: str = ""
    advanced: bool = False
    """Rarely changed (API base URLs): drawn folded away under "Advanced"."""
    max_length: int = 500
    choices: tuple[tuple[str, str], ...] = ()
    low: int | None = None
    high: int | None = None

    @property
    def field(self) -> str:
        """The name the API gives this setting in its field errors."""
        return f"config.{self.key}"


SETTINGS: dict[str, tuple[Setting, ...]] = {
    "whatsapp_cloud": (
        Setting(
            "phone_number_id",
            "Phone number ID",
            required=True,
            hint="In Meta's WhatsApp Manager, API setup: the ID under the number (not the number itself).",
        ),
        Setting("waba_id", "WhatsApp Business Account ID (optional)"),
        Setting(
            "access_token",
            "Access token",
            "secret",
            required=True,
            max_length=2000,
            hint="A permanent token of a system user with the whatsapp_business_messaging permission.",
        ),
        Setting(
            "app_secret",
            "App secret",
            "secret",
            required=True,
            max_length=2000,
            hint="App settings, Basic: Flowgate checks every webhook's signature with it.",
        ),
        Setting(
            "verify_token",
            "Verify token",
            "secret",
            required=True,
            max_length=2000,
            hint="Any text you choose; you give Meta the same one with the webhook URL.",
        ),
        Setting(
            "api_base_url",
            "Graph API base URL",
            "url",
            default="https://graph.facebook.com/v21.0",
            advanced=True,
        ),
    ),
    "sms_http": (
        Setting("account_sid", "Account SID", required=True, hint="Your account's ID, e.g. AC0123…"),
        Setting(
            "auth_token",
            "Auth token",
            "secret",
            required=True,
            max_length=2000,
            hint="Sends messages and checks the provider's signatures on its callbacks.",
        ),
        Setting("api_base_url", "API base URL", "url", default="https://api.twilio.com", advanced=True),
        Setting(
            "public_webhook_url",
            "Public webhook URL (optional)",
            "url",
            advanced=True,
            hint="Only when the provider reaches Flowgate at another address than the one this page "
            "shows (a proxy): the exact URL it calls and signs.",
        ),
    ),
    "viber": (
        Setting(
            "auth_token",
            "Auth token",
            "secret",
            required=True,
            max_length=2000,
            hint="From the Viber admin panel; it also signs Viber's callbacks.",
        ),
        Setting(
            "sender_name",
            "Sender name",
            required=True,
            max_length=28,
            hint="Shown to customers as the sender, at most 28 characters.",
        ),
        Setting("sender_avatar", "Avatar URL (optional)", "url"),
        Setting("api_base_url", "API base URL", "url", default="https://chatapi.viber.com/pa", advanced=True),
    ),
    "smtp": (
        Setting("host", "SMTP host", required=True, max_length=253, hint="e.g. smtp.yourshop.example"),
        Setting("port", "Port", "number", default=587, low=1, high=65535),
        Setting(
            "security",
            "Security",
            "choice",
            default="starttls",
            choices=(
                ("starttls", "STARTTLS (usually port 587)"),
                ("tls", "TLS from the start (usually port 465)"),
                ("none", "None (only inside a trusted network)"),
            ),
        ),
        Setting("username", "User name (optional)"),
        Setting("password", "Password (optional)", "secret", max_length=2000),
        Setting("from_name", "From name (optional)", max_length=200, hint="e.g. Acme Shop"),
    ),
    "sandbox": (),
}

WEBHOOK_STEPS: dict[str, str] = {
    "whatsapp_cloud": "In Meta's App Dashboard, WhatsApp, Configuration: paste this Callback URL and the "
    "verify token saved with this sender, verify, then subscribe to the “messages” field.",
    "sms_http": "In your SMS provider's console, set this URL for incoming messages and as the status "
    "callback of the number. Flowgate checks each call's signature with the auth token.",
    "viber": "Register this URL with Viber's set_webhook call (the command below, with your auth token). "
    "Viber signs every callback with the auth token, and Flowgate checks it.",
}

RATE_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("delivered", "Delivered", "of the messages sent"),
    ("read", "Read", "of those delivered"),
    ("reply", "Answered", "of those read"),
    ("stop", "Say STOP", "of the answers to marketing"),
)
DEFAULT_AUTO_TEXTS: tuple[str, ...] = (
    "Yes please!",
    "Sounds good",
    "Not now, thanks",
    "How much is it?",
    "ok",
)
AUTO_DEFAULTS: dict[str, float] = {"delivered": 95, "read": 70, "reply": 40, "stop": 0}
"""Percentages; the API takes shares between 0 and 1 (``AutoReply`` in provider_config.py)."""
DELAY_MAX_S = 3600


def provider_options(channel: str) -> dict[str, str]:
    return {provider: PROVIDERS[provider] for provider in PROVIDERS_BY_CHANNEL[channel]}


def secret_keys(provider: str) -> frozenset[str]:
    return frozenset(setting.key for setting in SETTINGS[provider] if setting.kind == "secret")


def new_verify_token() -> str:
    """A verify token nobody guesses, in characters every dashboard accepts."""
    return secrets.token_urlsafe(24)


# --- the form ----------------------------------------------------------------------------------------------


def _percent(share: Any, default: float) -> float:
    """A stored share (0.95) as the percentage the form shows (95)."""
    return default if share is None else round(float(share) * 100, 2)


@dataclass
class AutoReplyForm:
    """The sandbox's simulated customers as the form shows them: rates in percent, delays in seconds."""

    delivered: float = AUTO_DEFAULTS["delivered"]
    read: float = AUTO_DEFAULTS["read"]
    reply: float = AUTO_DEFAULTS["reply"]
    stop: float = AUTO_DEFAULTS["stop"]
    shortest: float = 2.0
    longest: float = 20.0
    texts: list[str] = field(default_factory=lambda: list(DEFAULT_AUTO_TEXTS))

    @classmethod
    def from_config(cls, value: dict[str, Any]) -> AutoReplyForm:
        delays = value.get("delay_seconds") or (2.0, 20.0)
        return cls(
            **{key: _percent(value.get(key), AUTO_DEFAULTS[key]) for key in AUTO_DEFAULTS},
            shortest=float(delays[0]),
            longest=float(delays[1]),
            texts=list(value.get("texts") or DEFAULT_AUTO_TEXTS),
        )

    def body(self) -> dict[str, Any]:
        """``config.auto_reply`` as the API takes it."""
        rates = {key: round(float(getattr(self, key) or 0) / 100, 4) for key in AUTO_DEFAULTS}
        return {
            **rates,
            "delay_seconds": [float(self.shortest or 0), float(self.longest or 0)],
            "texts": [text.strip() for text in self.texts if text.strip()],
        }


@dataclass
class SenderForm:
    """Everything the create and edit form holds; :meth:`create_body` and :meth:`changes` make requests."""

    channel: str = "whatsapp"
    provider: str = "whatsapp_cloud"
    name: str = ""
    address: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    """Non-secret settings as their inputs hold them (None or "" when empty)."""
    secrets: dict[str, str] = field(default_factory=dict)
    """Secrets typed into the form; empty ones are not sent."""
    cleared: set[str] = field(default_factory=set)
    """Optional secrets the person chose to clear."""
    stored_provider: str | None = None
    stored_secrets: frozenset[str] = frozenset()
    """The secrets the API says are set (``secrets_set``), for the provider stored."""
    auto_reply: AutoReplyForm | None = None
    keywords: dict[str, list[str]] = field(
        default_factory=lambda: {name: list(words) for name, words in DEFAULT_KEYWORDS.items()}
    )
    opt_out_scope: str = "sender"
    confirmation_message: str = ""
    opt_in_confirmation_message: str = ""
    help_reply: str = ""
    rate_limit: int | None = None
    """A new sender starts at its channel's default (and follows the channel until changed)."""

    @classmethod
    def new(cls, channel: str = "whatsapp", provider: str | None = None) -> SenderForm:
        form = cls(channel=channel, rate_limit=DEFAULT_RATE_LIMITS[channel])
        form.set_provider(provider or PROVIDERS_BY_CHANNEL[channel][0])
        return form

    @classmethod
    def from_sender(cls, sender: SenderInfo) -> SenderForm:
        provider = sender["provider"]
        config = sender["config"]
        settings = {
            setting.key: config.get(setting.key)
            for setting in SETTINGS.get(provider, ())
            if setting.kind != "secret"
        }
        auto = config.get("auto_reply")
        return cls(
            channel=sender["channel"],
            provider=provider,
            name=sender["name"],
            address=sender["address"],
            settings=settings,
            stored_provider=provider,
            stored_secrets=frozenset(sender["secrets_set"]),
            auto_reply=AutoReplyForm.from_config(auto) if isinstance(auto, dict) else None,
            keywords={name: list(sender[name]) for name in KEYWORD_LISTS},  # type: ignore[literal-required]
            opt_out_scope=sender["opt_out_scope"],
            confirmation_message=sender["confirmation_message"],
            opt_in_confirmation_message=sender["opt_in_confirmation_message"],
            help_reply=sender["help_reply"],
            rate_limit=sender["rate_limit_per_second"],
        )

    def set_channel(self, channel: str) -> None:
        """A new sender's channel changed: keep the provider when it serves the channel (the sandbox)."""
        if self.rate_limit == DEFAULT_RATE_LIMITS[self.channel]:  # not chosen: follow the channel's
            self.rate_limit = DEFAULT_RATE_LIMITS[channel]
        self.channel = channel
        if self.provider not in PROVIDERS_BY_CHANNEL[channel]:
            self.set_provider(PROVIDERS_BY_CHANNEL[channel][0])

    def set_provider(self, provider: str) -> None:
        """Another provider's settings mean nothing to this one: start from its defaults. Going back to
        the stored provider shows the stored secrets as set again (the API keeps them until saved)."""
        self.provider = provider
        self.settings = {
            setting.key: setting.default for setting in SETTINGS[provider] if setting.kind != "secret"
        }
        self.secrets = {}
        self.cleared = set()

    @property
    def fresh_config(self) -> bool:
        """Whether the whole provider config is sent (a new sender, or a new provider for this one)."""
        return self.stored_provider != self.provider

    def secret_is_set(self, key: str) -> bool:
        return not self.fresh_config and key in self.stored_secrets and key not in self.cleared

    def config_body(self, stored: dict[str, Any] | None) -> dict[str, Any]:
        """The ``config`` to send: everything filled in for a fresh config, else only what changed."""
        fresh = self.fresh_config or stored is None
        stored = stored or {}
        body: dict[str, Any] = {}
        for setting in SETTINGS[self.provider]:
            if setting.kind == "secret":
                typed = (self.secrets.get(setting.key) or "").strip()
                if typed:
                    body[setting.key] = typed
                elif not fresh and setting.key in self.cleared:
                    body[setting.key] = None
                continue
            value = setting_value(setting, self.settings.get(setting.key))
            if fresh:
                if value is not None:
                    body[setting.key] = value
            elif value != stored.get(setting.key):
                body[setting.key] = value  # None unsets it (or restores its default)
        if self.provider == "sandbox":
            wanted = self.auto_reply.body() if self.auto_reply is not None else None
            if fresh:
                if wanted is not None:
                    body["auto_reply"] = wanted
            elif not _same_auto_reply(wanted, stored.get("auto_reply")):
                body["auto_reply"] = wanted
        return body

    def _common(self) -> dict[str, Any]:
        return {
            "name": self.name.strip(),
            "address": self.address.strip(),
            **{name: [word.strip() for word in self.keywords[name]] for name in KEYWORD_LISTS},
            "opt_out_scope": self.opt_out_scope,
            "confirmation_message": self.confirmation_message.strip(),
            "opt_in_confirmation_message": self.opt_in_confirmation_message.strip(),
            "help_reply": self.help_reply.strip(),
        }

    def create_body(self) -> dict[str, Any]:
        body = {
            "channel": self.channel,
            "provider": self.provider,
            **self._common(),
            "config": self.config_body(None),
        }
        if self.rate_limit:
            body["rate_limit_per_second"] = int(self.rate_limit)
        return body

    def changes(self, sender: SenderInfo) -> dict[str, Any]:
        """The PATCH for ``sender``: only the fields that differ (empty when nothing changed)."""
        patch = {
            key: value
            for key, value in self._common().items()
            if value != sender[key]  # type: ignore[literal-required]
        }
        if self.provider != sender["provider"]:
            patch["provider"] = self.provider
            patch["config"] = self.config_body(None)
        elif config := self.config_body(sender["config"]):
            patch["config"] = config
        if self.rate_limit and int(self.rate_limit) != sender["rate_limit_per_second"]:
            patch["rate_limit_per_second"] = int(self.rate_limit)
        return patch

    def problems(self) -> dict[str, str]:
        """What is plainly missing or out of range before asking the API, by the API's field names."""
        found: dict[str, str] = {}
        if not self.name.strip():
            found["name"] = "Enter a name people recognise, e.g. “Shop WhatsApp”."
        if not self.address.strip():
            found["address"] = ADDRESS_MISSING[self.channel]
        for setting in SETTINGS[self.provider]:
            if not setting.required:
                continue
            if setting.kind == "secret":
                missing = not (self.secrets.get(setting.key) or "").strip() and not self.secret_is_set(
                    setting.key
                )
            else:
                missing = setting_value(setting, self.settings.get(setting.key)) is None
            if missing:
                found[setting.field] = f"Required for the {PROVIDERS[self.provider]}."
        if self.rate_limit is not None and not 1 <= self.rate_limit <= RATE_LIMIT_MAX:
            found["rate_limit_per_second"] = (
                f"Enter a whole number between 1 and {RATE_LIMIT_MAX} messages per second."
            )
        if self.provider == "sandbox" and self.auto_reply is not None:
            for key, _, _ in RATE_FIELDS:
                value = getattr(self.auto_reply, key)
                if value is None or not 0 <= value <= 100:
                    found[f"config.auto_reply.{key}"] = "Enter a share between 0 and 100 %."
        return found


def setting_value(setting: Setting, raw: Any) -> Any:
    """An input's value as the API takes it: None for empty, a whole number for a number setting."""
    if raw is None:
        return None
    if setting.kind == "number":
        return int(raw)
    text = str(raw).strip()
    return text or None


def _same_auto_reply(wanted: dict[str, Any] | None, stored: Any) -> bool:
    if wanted is None or not isinstance(stored, dict):
        return wanted is None and not stored
    normalised = {
        **{key: round(float(stored.get(key, 0)), 4) for key in AUTO_DEFAULTS},
        "delay_seconds": [float(value) for value in stored.get("delay_seconds", ())],
        "texts": list(stored.get("texts", ())),
    }
    return normalised == wanted


# --- the API's field errors ------------------------------------------------------------------------------

_INDEX = re.compile(r"\[\d+\]")
_PAIR = re.compile(r"^\[[^\]]*\][^:]*:\s*")


def input_key(api_field: str) -> str:
    """The form input an API field error belongs under: list positions dropped
    (``opt_out_keywords[1]`` is the opt-out keywords input, ``config.auto_reply.delay_seconds[0]`` the
    delays)."""
    return _INDEX.sub("", api_field)


def error_words(field_name: str, message: str, provider: str = "") -> str:
    """The API's message for ``field_name`` as a sentence for the person filling in the form."""
    key = input_key(field_name)
    if message.startswith("is required for the"):
        return f"Required for the {PROVIDERS.get(provider, provider)}." if provider else "Required."
    if key.startswith("config.auto_reply.") and key.rsplit(".", 1)[-1] in AUTO_DEFAULTS:
        return "Enter a share between 0 and 100 %."
    if key == "rate_limit_per_second":
        text = in_words(message, low=1, high=RATE_LIMIT_MAX, unit="messages per second")
    elif key == "config.port":
        text = in_words(message, low=1, high=65535)
    elif key == "config.auto_reply.delay_seconds":
        # The API names the pair it checks ("[shortest, longest] in seconds: the shortest (30) is …"); the
        # form's inputs are called that already.
        text = in_words(_PAIR.sub("", message), low=0, high=DELAY_MAX_S, unit="seconds")
    else:
        text = in_words(message)
    if key in KEYWORD_LISTS and field_name != key and text.startswith("Too long"):
        text = f"Each keyword has at most {KEYWORD_MAX} characters."
    for name, words in KEYWORD_WORDS.items():
        text = text.replace(name, words)
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


# --- the list ---------------------------------------------------------------------------------------------


def scope_label(scope: str) -> str:
    return "Whole workspace" if scope == "workspace" else "This sender only"


def rate_label(rate: int) -> str:
    return f"{rate:,} / s"


def summary(sender: SenderInfo) -> str:
    """``WhatsApp · WhatsApp Cloud API · +351912345678``: a sender in one line."""
    return " · ".join(
        (
            CHANNELS.get(sender["channel"], sender["channel"]),
            PROVIDERS.get(sender["provider"], sender["provider"]),
            sender["address"],
        )
    )


def viber_set_webhook_command(webhook: str, base_url: str = "https://chatapi.viber.com/pa") -> str:
    """The one call that registers a Viber webhook, with a placeholder where the auth token goes."""
    return (
        f"curl -X POST {base_url.rstrip('/')}/set_webhook "
        '-H "X-Viber-Auth-Token: YOUR_AUTH_TOKEN" '
        f'-d \'{{"url": "{webhook}", "send_name": true}}\''
    )


# --- what a simulated message did ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """One line of what happened to a simulated inbound message."""

    icon: str
    text: str
    tone: Literal["neutral", "good", "warn"] = "neutral"


def outcome_lines(
    inbound: MessageInfo, replies: list[MessageInfo], events: list[ConsentEventInfo]
) -> list[Outcome]:
    """What the gateway did with the message, in the order it did it: received, consent, replies."""
    said = inbound.get("text") or ""
    lines = [Outcome("call_received", f"Received “{said}” from {inbound.get('to', '')}.")]
    for event in events:
        lines.append(_event_line(event))
    for reply in replies:
        status = reply.get("status", "")
        failure = reply.get("failure_reason")
        state = f"{status}, {failure.replace('_', ' ')}" if failure else status
        lines.append(Outcome("reply", f"Replied “{reply.get('text') or ''}” ({state}).", "good"))
    if not events and not replies:
        lines.append(
            Outcome(
                "forum",
                "No keyword: the message is in the contact's conversation, where a flow waiting for a "
                "reply or a keyword flow picks it up.",
            )
        )
    return lines


def _event_line(event: ConsentEventInfo) -> Outcome:
    kind = event.get("kind")
    where = "from every sender of the workspace" if event.get("sender_id") is None else "from this sender"
    until = event.get("valid_until")
    lasting = f", until {until[:10]}" if until else ", with no end date"
    if kind == "opt_out":
        return Outcome("unsubscribe", f"Opted out of marketing {where}{lasting}.", "warn")
    if kind == "extended":
        return Outcome("update", f"The opt-out from marketing {where} was extended{lasting}.", "warn")
    return Outcome("how_to_reg", f"Opted back in to marketing {where}.", "good")


def quick_words(sender: SenderInfo) -> list[str]:
    """The words worth trying on this sender, one per kind: its first opt-out, opt-in and help keyword."""
    words: list[str] = []
    for name in KEYWORD_LISTS:
        listed = sender[name]  # type: ignore[literal-required]
        if listed:
            words.append(str(listed[0]))
    return words


def contact_path(contact_id: int) -> str:
    return f"/audience/contacts/{contact_id}"


def history_path(channel: str, address: str) -> str:
    """The opt-out screen's page of one address: its consent now and over time."""
    return "/opt-outs/history?" + urlencode({"channel": channel, "address": address})
