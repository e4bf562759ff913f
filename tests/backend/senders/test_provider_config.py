"""Provider settings: checked per provider, naming ``config.<key>``; secrets accepted once and never shown."""

from __future__ import annotations

import pytest

from backend.senders.tables import Sender
from tests.backend.senders.helpers import (
    ALL_SECRET_VALUES,
    BODIES,
    SMS_SECRETS,
    WA_SECRETS,
    body,
    create_sender,
    field_of,
)


@pytest.mark.parametrize(
    ("provider", "secrets_set", "defaults"),
    [
        (
            "whatsapp_cloud",
            ["access_token", "app_secret", "verify_token"],
            {"api_base_url": "https://graph.facebook.com/v21.0"},
        ),
        ("sms_http", ["auth_token"], {"api_base_url": "https://api.twilio.com"}),
        ("viber", ["auth_token"], {"api_base_url": "https://chatapi.viber.com/pa"}),
        ("smtp", ["password"], {"port": 587, "security": "starttls"}),
        ("sandbox", [], {}),
    ],
)
async def test_each_provider_accepts_its_settings_and_hides_its_secrets(
    client, tenant, provider, secrets_set, defaults
):
    sender = await create_sender(client, tenant, provider)
    assert sender["secrets_set"] == secrets_set
    for name in secrets_set:
        assert name not in sender["config"]
    for key, value in defaults.items():
        assert sender["config"][key] == value
    given = {
        key: value for key, value in BODIES[provider].get("config", {}).items() if key not in secrets_set
    }
    assert given.items() <= sender["config"].items()


@pytest.mark.parametrize(
    ("provider", "config", "field"),
    [
        ("whatsapp_cloud", {**BODIES["whatsapp_cloud"]["config"], "token": "x"}, "config.token"),
        ("sms_http", {**BODIES["sms_http"]["config"], "from": "+351912345678"}, "config.from"),
        ("smtp", {**BODIES["smtp"]["config"], "tls": True}, "config.tls"),
        ("sandbox", {"anything": 1}, "config.anything"),
        (
            "whatsapp_cloud",
            {"phone_number_id": "1", "access_token": "a", "app_secret": "b"},
            "config.verify_token",
        ),
        ("whatsapp_cloud", {**WA_SECRETS}, "config.phone_number_id"),
        ("sms_http", {"account_sid": "AC1"}, "config.auth_token"),
        ("sms_http", {**SMS_SECRETS}, "config.account_sid"),
        ("viber", {"sender_name": "Acme"}, "config.auth_token"),
        ("viber", {"auth_token": "t"}, "config.sender_name"),
        ("smtp", {"port": 25}, "config.host"),
        ("sms_http", {**BODIES["sms_http"]["config"], "auth_token": "   "}, "config.auth_token"),
    ],
)
async def test_unknown_and_missing_keys_are_400_naming_config_key(client, tenant, provider, config, field):
    response = await client.post(
        "/api/v1/senders", json=body(provider, config=config), headers=tenant.headers()
    )
    assert response.status_code == 400, response.text
    assert field_of(response) == field
    assert (await client.get("/api/v1/senders", headers=tenant.headers())).json()["items"] == []


async def test_every_missing_key_is_named_at_once(client, tenant):
    response = await client.post(
        "/api/v1/senders", json=body("whatsapp_cloud", config={}), headers=tenant.headers()
    )
    assert response.status_code == 400
    named = {problem["field"] for problem in response.json()["errors"]}
    assert named == {
        "config.phone_number_id",
        "config.access_token",
        "config.app_secret",
        "config.verify_token",
    }


@pytest.mark.parametrize(
    ("provider", "changes", "field"),
    [
        ("smtp", {"port": 0}, "config.port"),
        ("smtp", {"port": "587"}, "config.port"),
        ("smtp", {"security": "ssl"}, "config.security"),
        ("whatsapp_cloud", {"api_base_url": "ftp://graph.example"}, "config.api_base_url"),
        ("whatsapp_cloud", {"api_base_url": "graph.facebook.com"}, "config.api_base_url"),
        ("sms_http", {"public_webhook_url": "not a url"}, "config.public_webhook_url"),
        ("viber", {"sender_name": "x" * 29}, "config.sender_name"),
        ("whatsapp_cloud", {"access_token": 12345}, "config.access_token"),
    ],
)
async def test_bad_values_are_400_naming_config_key(client, tenant, provider, changes, field):
    config = {**BODIES[provider]["config"], **changes}
    response = await client.post(
        "/api/v1/senders", json=body(provider, config=config), headers=tenant.headers()
    )
    assert response.status_code == 400, response.text
    assert field_of(response) == field


async def test_api_base_urls_may_point_at_a_local_fake_server(client, tenant):
    config = {**BODIES["whatsapp_cloud"]["config"], "api_base_url": "http://127.0.0.1:8765/v21.0"}
    sender = await create_sender(client, tenant, "whatsapp_cloud", config=config)
    assert sender["config"]["api_base_url"] == "http://127.0.0.1:8765/v21.0"


async def test_secrets_never_appear_in_responses_listings_or_the_audit_log(client, tenant):
    texts = []
    created = []
    for provider in ("whatsapp_cloud", "sms_http", "viber", "smtp"):
        response = await client.post("/api/v1/senders", json=body(provider), headers=tenant.headers())
        assert response.status_code == 201
        texts.append(response.text)
        created.append(response.json())
    whatsapp = created[0]
    patched = await client.patch(
        f"/api/v1/senders/{whatsapp['id']}",
        json={"config": {"access_token": "wa-access-SECRET-rotated"}, "name": "Rotated"},
        headers=tenant.headers(),
    )
    texts.append(patched.text)
    for role in ("admin", "marketer", "viewer"):
        texts.append((await client.get("/api/v1/senders", headers=tenant.headers(role))).text)
        for sender in created:
            texts.append(
                (await client.get(f"/api/v1/senders/{sender['id']}", headers=tenant.headers(role))).text
            )
    await client.delete(f"/api/v1/senders/{created[1]['id']}", headers=tenant.headers())
    texts.append((await client.get("/api/v1/audit-log?limit=500", headers=tenant.headers())).text)
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/senders/{sender_id}" in schema.json()["paths"]
    texts.append(schema.text)
    everything = "\n".join(texts)
    for secret in [*ALL_SECRET_VALUES, "wa-access-SECRET-rotated"]:
        assert secret not in everything
    # ...while the secrets are stored, for the gateway.
    stored = (
        await Sender.select(Sender.config).where(Sender.id == whatsapp["id"]).output(load_json=True).first()
    )
    assert stored["config"]["access_token"] == "wa-access-SECRET-rotated"
    assert stored["config"]["app_secret"] == WA_SECRETS["app_secret"]


async def test_an_error_never_echoes_a_secret(client, tenant):
    config = {**BODIES["sms_http"]["config"], "auth_tokn": "typo-SECRET-7777"}
    response = await client.post(
        "/api/v1/senders", json=body("sms_http", config=config), headers=tenant.headers()
    )
    assert response.status_code == 400
    assert field_of(response) == "config.auth_tokn"
    assert "typo-SECRET-7777" not in response.text


async def test_patch_config_merges_and_keeps_unspecified_secrets(client, tenant):
    sender = await create_sender(client, tenant, "whatsapp_cloud")
    response = await client.patch(
        f"/api/v1/senders/{sender['id']}",
        json={"config": {"phone_number_id": "555", "waba_id": "777"}},
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["config"]["phone_number_id"] == "555"
    assert response.json()["config"]["waba_id"] == "777"
    assert response.json()["secrets_set"] == ["access_token", "app_secret", "verify_token"]
    stored = (
        await Sender.select(Sender.config).where(Sender.id == sender["id"]).output(load_json=True).first()
    )
    assert stored["config"] == {
        **BODIES["whatsapp_cloud"]["config"],
        "phone_number_id": "555",
        "waba_id": "777",
        "api_base_url": "https://graph.facebook.com/v21.0",
    }


async def test_null_clears_an_optional_key_and_resets_a_defaulted_one(client, tenant):
    config = {**BODIES["smtp"]["config"], "from_name": "Acme News", "port": 2525}
    sender = await create_sender(client, tenant, "smtp", config=config)
    assert sender["secrets_set"] == ["password"]
    response = await client.patch(
        f"/api/v1/senders/{sender['id']}",
        json={"config": {"password": None, "from_name": None, "port": None}},
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["secrets_set"] == []
    assert "from_name" not in updated["config"]
    assert updated["config"]["port"] == 587
    assert updated["config"]["username"] == "mailer"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"access_token": None}, "config.access_token"),
        ({"bogus": None}, "config.bogus"),
        ({"bogus": "x"}, "config.bogus"),
        ({"api_base_url": "mailto:x@example.com"}, "config.api_base_url"),
    ],
)
async def test_bad_config_patches_are_400_and_keep_the_stored_settings(client, tenant, patch, field):
    sender = await create_sender(client, tenant, "whatsapp_cloud")
    response = await client.patch(
        f"/api/v1/senders/{sender['id']}", json={"config": patch}, headers=tenant.headers()
    )
    assert response.status_code == 400, response.text
    assert field_of(response) == field
    stored = (
        await Sender.select(Sender.config).where(Sender.id == sender["id"]).output(load_json=True).first()
    )
    assert stored["config"]["access_token"] == WA_SECRETS["access_token"]


async def test_changing_provider_replaces_the_settings(client, tenant):
    sender = await create_sender(client, tenant, "sandbox", channel="whatsapp", address="+351912345678")
    missing = await client.patch(
        f"/api/v1/senders/{sender['id']}", json={"provider": "whatsapp_cloud"}, headers=tenant.headers()
    )
    assert missing.status_code == 400
    assert field_of(missing).startswith("config.")
    response = await client.patch(
        f"/api/v1/senders/{sender['id']}",
        json={"provider": "whatsapp_cloud", "config": BODIES["whatsapp_cloud"]["config"]},
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["provider"] == "whatsapp_cloud"
    assert response.json()["secrets_set"] == ["access_token", "app_secret", "verify_token"]
    back = await client.patch(
        f"/api/v1/senders/{sender['id']}", json={"provider": "sandbox"}, headers=tenant.headers()
    )
    assert back.status_code == 200
    assert back.json()["config"] == {}
    assert back.json()["secrets_set"] == []
    stored = (
        await Sender.select(Sender.config).where(Sender.id == sender["id"]).output(load_json=True).first()
    )
    assert stored["config"] == {}  # the old provider's secrets are gone, not lingering


async def test_config_changes_are_audited_by_key_name_only(client, tenant):
    sender = await create_sender(client, tenant, "sms_http")
    await client.patch(
        f"/api/v1/senders/{sender['id']}",
        json={"config": {"auth_token": "sms-auth-SECRET-rotated"}},
        headers=tenant.headers(),
    )
    events = (await client.get("/api/v1/audit-log?action=sender.updated", headers=tenant.headers())).json()
    (event,) = events["items"]
    assert event["data"]["config_keys"] == ["auth_token"]
    assert "SECRET" not in str(event)
    created = (await client.get("/api/v1/audit-log?action=sender.created", headers=tenant.headers())).json()
    assert created["items"][0]["data"]["secrets_set"] == ["auth_token"]


# --- the sandbox's simulated customers (auto_reply) ------------------------------------------------------

AUTO_REPLY = {"delivered": 0.97, "read": 0.75, "reply": 0.45, "stop": 0.01, "delay_seconds": [2, 20]}


async def test_sandbox_auto_reply_is_stored_with_its_defaults_and_shown(client, tenant):
    sender = await create_sender(client, tenant, "sandbox", config={"auto_reply": {"reply": 0.5}})
    shown = sender["config"]["auto_reply"]
    assert (shown["delivered"], shown["read"], shown["reply"], shown["stop"]) == (0.95, 0.7, 0.5, 0.0)
    assert shown["delay_seconds"] == [2.0, 20.0]
    assert "STOP" not in [text.upper() for text in shown["texts"]]  # default answers say no keyword

    response = await client.patch(
        f"/api/v1/senders/{sender['id']}",
        json={"config": {"auto_reply": AUTO_REPLY}},
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    assert {key: response.json()["config"]["auto_reply"][key] for key in AUTO_REPLY} == {
        **AUTO_REPLY,
        "delay_seconds": [2.0, 20.0],
    }
    # null switches the simulated customers off again: the sandbox's default.
    off = await client.patch(
        f"/api/v1/senders/{sender['id']}", json={"config": {"auto_reply": None}}, headers=tenant.headers()
    )
    assert off.status_code == 200, off.text
    assert off.json()["config"] == {}


@pytest.mark.parametrize(
    ("auto_reply", "field"),
    [
        ({"read": 1.5}, "config.auto_reply.read"),
        ({"delivered": -0.1}, "config.auto_reply.delivered"),
        ({"stop": "often"}, "config.auto_reply.stop"),
        ({"reply": True}, "config.auto_reply.reply"),
        ({"replies": 0.5}, "config.auto_reply.replies"),
        ({"delay_seconds": [5]}, "config.auto_reply.delay_seconds"),
        ({"delay_seconds": [20, 2]}, "config.auto_reply.delay_seconds"),
        ({"delay_seconds": [0, 7200]}, "config.auto_reply.delay_seconds[1]"),
        ({"texts": []}, "config.auto_reply.texts"),
        ({"texts": [""]}, "config.auto_reply.texts[0]"),
        ("yes", "config.auto_reply"),
    ],
)
async def test_bad_auto_reply_settings_are_400_naming_the_field(client, tenant, auto_reply, field):
    response = await client.post(
        "/api/v1/senders", json=body("sandbox", config={"auto_reply": auto_reply}), headers=tenant.headers()
    )
    assert response.status_code == 400, response.text
    assert field_of(response) == field
    assert (await client.get("/api/v1/senders", headers=tenant.headers())).json()["items"] == []


async def test_auto_reply_is_a_sandbox_setting_only(client, tenant):
    config = {**BODIES["whatsapp_cloud"]["config"], "auto_reply": AUTO_REPLY}
    response = await client.post(
        "/api/v1/senders", json=body("whatsapp_cloud", config=config), headers=tenant.headers()
    )
    assert response.status_code == 400
    assert field_of(response) == "config.auto_reply"
