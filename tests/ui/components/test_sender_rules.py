"""The sender form's rules: the settings it shows agree with the API's, and the bodies it sends keep
secrets write-only (left out when empty, null only when cleared) and patch only what changed."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from backend.senders import provider_config, validation
from backend.senders.tables import DEFAULT_HELP_KEYWORDS, DEFAULT_OPT_IN_KEYWORDS, DEFAULT_OPT_OUT_KEYWORDS
from ui.components.sender_rules import (
    DEFAULT_AUTO_TEXTS,
    DEFAULT_KEYWORDS,
    DEFAULT_RATE_LIMITS,
    PROVIDERS,
    PROVIDERS_BY_CHANNEL,
    SETTINGS,
    AutoReplyForm,
    SenderForm,
    error_words,
    history_path,
    input_key,
    outcome_lines,
    quick_words,
    viber_set_webhook_command,
)


def sender(**changes: Any) -> dict[str, Any]:
    """A sender as the API answers it (``SenderOut``)."""
    base: dict[str, Any] = {
        "id": 7,
        "name": "Shop WhatsApp",
        "channel": "whatsapp",
        "provider": "whatsapp_cloud",
        "address": "+351912345678",
        "config": {"phone_number_id": "1098", "api_base_url": "https://graph.facebook.com/v21.0"},
        "secrets_set": ["access_token", "app_secret", "verify_token"],
        "opt_out_keywords": ["STOP", "UNSUBSCRIBE"],
        "opt_in_keywords": ["START"],
        "help_keywords": ["HELP", "INFO"],
        "help_reply": "",
        "opt_out_scope": "sender",
        "confirmation_message": "",
        "opt_in_confirmation_message": "",
        "rate_limit_per_second": 80,
        "webhook_url": "https://flowgate.example/webhooks/7",
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:00:00Z",
    }
    base.update(changes)
    return base


# --- the form agrees with the API ----------------------------------------------------------------------


@pytest.mark.parametrize("provider", sorted(provider_config.CONFIG_TYPES))
def test_each_providers_settings_are_the_apis(provider: str) -> None:
    config_type = provider_config.CONFIG_TYPES[provider]
    fields = {field.name: field for field in msgspec.structs.fields(config_type)}
    shown = {setting.key: setting for setting in SETTINGS[provider]}
    if provider == "sandbox":
        assert set(fields) == {"auto_reply"}  # drawn by the form's own auto-reply section
        return
    assert set(shown) == set(fields)
    assert {key for key, setting in shown.items() if setting.kind == "secret"} == set(config_type.SECRETS)
    assert {key for key, setting in shown.items() if setting.required} == {
        name for name, field in fields.items() if field.required
    }
    for key, setting in shown.items():
        if setting.default is not None:
            assert setting.default == fields[key].default, key


def test_channels_providers_rate_limits_and_keywords_are_the_apis() -> None:
    assert {channel: set(providers) for channel, providers in PROVIDERS_BY_CHANNEL.items()} == {
        channel: set(providers) for channel, providers in validation.PROVIDERS_BY_CHANNEL.items()
    }
    assert set(PROVIDERS) == set(validation.PROVIDERS)
    assert DEFAULT_RATE_LIMITS == validation.DEFAULT_RATE_LIMITS
    assert {
        "opt_out_keywords": tuple(DEFAULT_OPT_OUT_KEYWORDS),
        "opt_in_keywords": tuple(DEFAULT_OPT_IN_KEYWORDS),
        "help_keywords": tuple(DEFAULT_HELP_KEYWORDS),
    } == DEFAULT_KEYWORDS
    assert DEFAULT_AUTO_TEXTS == provider_config.DEFAULT_AUTO_TEXTS
    defaults = provider_config.AutoReply()
    form = AutoReplyForm()
    assert form.body() == {
        "delivered": defaults.delivered,
        "read": defaults.read,
        "reply": defaults.reply,
        "stop": defaults.stop,
        "delay_seconds": list(defaults.delay_seconds),
        "texts": list(defaults.texts),
    }


# --- new senders -------------------------------------------------------------------------------------------


def test_a_new_whatsapp_sender_sends_every_setting_it_has_and_its_secrets() -> None:
    form = SenderForm.new("whatsapp")
    assert form.provider == "whatsapp_cloud"
    assert set(form.problems()) == {
        "name",
        "address",
        "config.phone_number_id",
        "config.access_token",
        "config.app_secret",
        "config.verify_token",
    }
    form.name, form.address = " Shop ", "+351 912 345 678"
    form.settings["phone_number_id"] = "1098"
    form.secrets.update(access_token=" tok ", app_secret="app", verify_token="verify")
    assert form.problems() == {}
    body = form.create_body()
    assert body["name"] == "Shop" and body["channel"] == "whatsapp" and body["provider"] == "whatsapp_cloud"
    assert body["config"] == {
        "phone_number_id": "1098",
        "access_token": "tok",
        "app_secret": "app",
        "verify_token": "verify",
        "api_base_url": "https://graph.facebook.com/v21.0",
    }
    assert body["rate_limit_per_second"] == 80  # the channel's default, shown and sent
    assert body["opt_out_keywords"] == ["STOP", "UNSUBSCRIBE"]


def test_changing_channel_keeps_the_sandbox_and_picks_the_channels_provider_otherwise() -> None:
    form = SenderForm.new("sms", "sandbox")
    form.set_channel("email")
    assert form.provider == "sandbox"
    form.set_provider("smtp")
    form.settings["host"] = "smtp.acme.example"
    assert form.rate_limit == 10  # the email default, followed while nobody chose another
    form.rate_limit = 3
    form.set_channel("viber")
    assert form.provider == "viber"
    assert form.rate_limit == 3  # chosen: kept
    assert "host" not in form.settings  # another provider's settings do not follow
    assert form.settings["api_base_url"] == "https://chatapi.viber.com/pa"


def test_a_sandbox_with_simulated_customers_sends_shares_not_percentages() -> None:
    form = SenderForm.new("sms", "sandbox")
    form.name, form.address = "Demo", "+351912345670"
    assert "config" in form.create_body() and form.create_body()["config"] == {}
    form.auto_reply = AutoReplyForm(delivered=100, read=57, reply=33.3, stop=5, shortest=1, longest=4)
    assert form.create_body()["config"]["auto_reply"] == {
        "delivered": 1.0,
        "read": 0.57,
        "reply": 0.333,
        "stop": 0.05,
        "delay_seconds": [1.0, 4.0],
        "texts": list(DEFAULT_AUTO_TEXTS),
    }
    form.auto_reply.read = 120
    assert form.problems() == {"config.auto_reply.read": "Enter a share between 0 and 100 %."}


# --- editing -------------------------------------------------------------------------------------------------


def test_an_unchanged_form_patches_nothing_and_secrets_stay_set() -> None:
    stored = sender()
    form = SenderForm.from_sender(stored)
    assert form.problems() == {}  # required secrets are set: nothing to type
    assert form.changes(stored) == {}
    assert all(form.secret_is_set(key) for key in ("access_token", "app_secret", "verify_token"))


def test_a_typed_secret_is_sent_and_an_emptied_setting_is_unset() -> None:
    stored = sender(config={**sender()["config"], "waba_id": "55"})
    form = SenderForm.from_sender(stored)
    form.secrets["access_token"] = "new-token"
    form.settings["waba_id"] = "  "
    form.settings["api_base_url"] = ""
    form.name = "Shop WA"
    assert form.changes(stored) == {
        "name": "Shop WA",
        "config": {"access_token": "new-token", "waba_id": None, "api_base_url": None},
    }


def test_an_optional_secret_is_cleared_only_when_asked() -> None:
    stored = sender(
        channel="email",
        provider="smtp",
        address="news@acme.example",
        config={"host": "smtp.acme.example", "port": 587, "security": "starttls", "username": "mailer"},
        secrets_set=["password"],
        rate_limit_per_second=10,
    )
    form = SenderForm.from_sender(stored)
    assert form.changes(stored) == {}
    form.cleared.add("password")
    assert not form.secret_is_set("password")
    assert form.changes(stored) == {"config": {"password": None}}
    form.settings["port"] = 465.0
    form.rate_limit = 25
    assert form.changes(stored) == {"config": {"password": None, "port": 465}, "rate_limit_per_second": 25}


def test_switching_provider_sends_the_new_providers_whole_config() -> None:
    stored = sender(provider="sandbox", config={}, secrets_set=[])
    form = SenderForm.from_sender(stored)
    form.set_provider("whatsapp_cloud")
    assert "config.access_token" in form.problems()  # nothing is set for the new provider
    form.settings["phone_number_id"] = "1"
    form.secrets.update(access_token="a", app_secret="b", verify_token="c")
    patch = form.changes(stored)
    assert patch["provider"] == "whatsapp_cloud"
    assert patch["config"]["access_token"] == "a"
    assert patch["config"]["api_base_url"] == "https://graph.facebook.com/v21.0"


def test_simulated_customers_are_patched_only_when_they_change() -> None:
    auto = {"delivered": 0.95, "read": 0.7, "reply": 0.4, "stop": 0.0, "delay_seconds": [2.0, 20.0]}
    stored = sender(provider="sandbox", config={"auto_reply": {**auto, "texts": ["ok"]}}, secrets_set=[])
    form = SenderForm.from_sender(stored)
    assert form.auto_reply is not None and form.auto_reply.read == 70
    assert form.changes(stored) == {}
    form.auto_reply.stop = 10
    assert form.changes(stored) == {"config": {"auto_reply": {**auto, "stop": 0.1, "texts": ["ok"]}}}
    form.auto_reply = None
    assert form.changes(stored) == {"config": {"auto_reply": None}}


def test_keywords_scope_and_replies_are_patched_as_lists_and_texts() -> None:
    stored = sender()
    form = SenderForm.from_sender(stored)
    form.keywords["opt_out_keywords"] = ["STOP", "UNSUBSCRIBE", " END "]
    form.opt_out_scope = "workspace"
    form.confirmation_message = "You are unsubscribed. "
    assert form.changes(stored) == {
        "opt_out_keywords": ["STOP", "UNSUBSCRIBE", "END"],
        "opt_out_scope": "workspace",
        "confirmation_message": "You are unsubscribed.",
    }


# --- errors, in words, under the right input ---------------------------------------------------------------


def test_api_field_errors_find_their_input_and_read_as_sentences() -> None:
    assert input_key("opt_out_keywords[1]") == "opt_out_keywords"
    assert input_key("config.auto_reply.delay_seconds[0]") == "config.auto_reply.delay_seconds"
    assert error_words(
        "config.access_token", "is required for the whatsapp_cloud provider", "whatsapp_cloud"
    ) == ("Required for the WhatsApp Cloud API.")
    assert (
        error_words("config.auto_reply.read", "Expected `float` <= 1.0")
        == "Enter a share between 0 and 100 %."
    )
    assert error_words("rate_limit_per_second", "Expected `int` <= 1000") == (
        "Enter a whole number between 1 and 1000 messages per second."
    )
    assert error_words("opt_out_keywords[1]", "Expected `str` of length <= 200") == (
        "Each keyword has at most 50 characters."
    )
    assert error_words(
        "opt_in_keywords", "'STOP' is already in opt_out_keywords; a keyword may be in one list"
    ) == ("'STOP' is already in the opt-out keywords; a keyword may be in one list.")
    assert error_words("address", "'12' is not a phone number") == "'12' is not a phone number."
    assert (
        error_words(
            "config.auto_reply.delay_seconds",
            "[shortest, longest] in seconds: the shortest (30) is longer than the longest (5)",
        )
        == "The shortest (30) is longer than the longest (5)."
    )


# --- the rest -----------------------------------------------------------------------------------------------


def test_what_a_simulated_stop_did_reads_in_order() -> None:
    inbound = {"id": 5, "text": "STOP", "to": "+351912000001", "contact_id": 3}
    events = [{"kind": "opt_out", "sender_id": 7, "valid_until": None, "evidence": {"inbound_message_id": 5}}]
    replies = [{"id": 6, "text": "You are unsubscribed.", "status": "sent", "failure_reason": None}]
    texts = [line.text for line in outcome_lines(inbound, replies, events)]
    assert texts == [
        "Received “STOP” from +351912000001.",
        "Opted out of marketing from this sender, with no end date.",
        "Replied “You are unsubscribed.” (sent).",
    ]
    workspace = [{"kind": "opt_out", "sender_id": None, "valid_until": "2025-03-01T00:00:00Z"}]
    assert outcome_lines(inbound, [], workspace)[1].text == (
        "Opted out of marketing from every sender of the workspace, until 2025-03-01."
    )
    nothing = outcome_lines({**inbound, "text": "hello"}, [], [])
    assert nothing[-1].text.startswith("No keyword")


def test_small_helpers() -> None:
    assert quick_words(sender(help_keywords=[])) == ["STOP", "START"]
    assert history_path("sms", "+351 9") == "/opt-outs/history?channel=sms&address=%2B351+9"
    command = viber_set_webhook_command("https://f.example/webhooks/3")
    assert command.startswith("curl -X POST https://chatapi.viber.com/pa/set_webhook ")
    assert '"url": "https://f.example/webhooks/3"' in command
