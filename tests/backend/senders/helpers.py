"""Valid sender bodies per provider, with secret values easy to search for in any response text."""

from __future__ import annotations

import copy
from typing import Any

WA_SECRETS = {
    "access_token": "wa-access-SECRET-1111",
    "app_secret": "wa-app-SECRET-2222",
    "verify_token": "wa-verify-SECRET-3333",
}
SMS_SECRETS = {"auth_token": "sms-auth-SECRET-4444"}
VIBER_SECRETS = {"auth_token": "viber-auth-SECRET-5555"}
SMTP_SECRETS = {"password": "smtp-pass-SECRET-6666"}
ALL_SECRET_VALUES = [
    *WA_SECRETS.values(),
    *SMS_SECRETS.values(),
    *VIBER_SECRETS.values(),
    *SMTP_SECRETS.values(),
]

BODIES: dict[str, dict[str, Any]] = {
    "whatsapp_cloud": {
        "name": "Shop WhatsApp",
        "channel": "whatsapp",
        "provider": "whatsapp_cloud",
        "address": "+351912345678",
        "config": {"phone_number_id": "109876543210", **WA_SECRETS},
    },
    "sms_http": {
        "name": "Shop SMS",
        "channel": "sms",
        "provider": "sms_http",
        "address": "+351912345679",
        "config": {"account_sid": "AC0123456789", **SMS_SECRETS},
    },
    "viber": {
        "name": "Shop Viber",
        "channel": "viber",
        "provider": "viber",
        "address": "acme-shop",
        "config": {"sender_name": "Acme", **VIBER_SECRETS},
    },
    "smtp": {
        "name": "Newsletter",
        "channel": "email",
        "provider": "smtp",
        "address": "news@acme.example",
        "config": {"host": "smtp.acme.example", "username": "mailer", **SMTP_SECRETS},
    },
    "sandbox": {
        "name": "Demo",
        "channel": "sms",
        "provider": "sandbox",
        "address": "+351912345670",
    },
}


def body(preset: str, **changes: Any) -> dict[str, Any]:
    """A valid body for the ``preset`` provider, with ``changes`` applied (any field, provider too)."""
    result = copy.deepcopy(BODIES[preset])
    result.update(changes)
    return result


async def create_sender(client, tenant, preset: str = "sandbox", **changes: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/senders", json=body(preset, **changes), headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()


def field_of(response) -> str:
    """The field the error body names first (the error shape is backend/core/errors.py's)."""
    payload = response.json()
    assert payload["errors"], payload
    return payload["errors"][0]["field"]
