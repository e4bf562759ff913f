"""A correctly signed webhook whose body cannot be read is acknowledged and kept as a rejected event
(issue 14): answering 400 made providers re-deliver the same bytes for days. An unsigned or wrongly
signed request is still refused with 401 and leaves nothing behind. Bodies signed as the providers sign
them (tests/fakes/signing.py), a real database and a real Redis queue.
"""

from __future__ import annotations

import base64

from backend.inbound.unreadable import KIND
from tests.backend.inbound.helpers import events, make_sender, post_webhook, run_worker, webhook_url
from tests.fakes import webhooks as hooks
from tests.fakes.signing import twilio_signature, viber_signature, whatsapp_signature


def _whatsapp(body: bytes, secret: str = hooks.WA_APP_SECRET) -> tuple[bytes, dict[str, str]]:
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": whatsapp_signature(secret, body)}


async def _listed(client, tenant, **params) -> list[dict]:
    response = await client.get("/api/v1/inbound-events", params=params, headers=tenant.headers("viewer"))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def _queued_jobs(redis_url: str) -> list:
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        return [job for job in await pool.queued_jobs() if job.function == "process_inbound"]
    finally:
        await pool.aclose()


async def test_a_signed_whatsapp_body_that_is_not_json_is_acknowledged_and_rejected(
    client, tenant, redis_url, fake_providers
):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    garbage = b'{"entry": [{"changes": [ this is not JSON'

    response = await post_webhook(client, sender["id"], _whatsapp(garbage))
    assert response.status_code == 200, response.text  # what WhatsApp needs to stop re-delivering

    [row] = await events(sender["id"])
    assert (row["kind"], row["state"], row["attempts"]) == (KIND, "rejected", 0)
    assert row["error"].startswith("body: not a readable whatsapp_cloud webhook: body is not JSON")
    assert row["payload"]["body"] == garbage.decode()
    assert row["processed_at"] is not None
    assert await _queued_jobs(redis_url) == []  # nothing for the worker

    # The provider re-delivers the same bytes: still acknowledged, still one event.
    again = await post_webhook(client, sender["id"], _whatsapp(garbage))
    assert again.status_code == 200
    assert len(await events(sender["id"])) == 1
    await run_worker(redis_url)
    [row] = await events(sender["id"])
    assert row["state"] == "rejected"

    [item] = await _listed(client, tenant, status="rejected", kind=KIND)
    assert (item["id"], item["kind"], item["status"], item["sender_id"]) == (
        row["id"],
        "unreadable",
        "rejected",
        sender["id"],
    )
    assert "body is not JSON" in item["error"]
    assert item["payload"]["body"] == garbage.decode()


async def test_a_signed_body_that_is_not_utf8_is_kept_byte_for_byte(client, tenant, fake_providers):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    latin1 = '{"object": "whatsapp_business_account", "entry": "Olá"}'.encode("latin-1") + b"\x00\xff"

    response = await post_webhook(client, sender["id"], _whatsapp(latin1))
    assert response.status_code == 200, response.text
    [row] = await events(sender["id"])
    assert row["state"] == "rejected" and "body is not JSON" in row["error"]
    assert base64.b64decode(row["payload"]["body_base64"]) == latin1
    assert row["payload"]["bytes"] == len(latin1)


async def test_a_signed_json_body_that_is_not_a_whatsapp_notification_is_rejected(
    client, tenant, fake_providers
):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    body = b'{"entry": "not a list of entries"}'

    assert (await post_webhook(client, sender["id"], _whatsapp(body))).status_code == 200
    [row] = await events(sender["id"])
    assert (row["kind"], row["state"]) == (KIND, "rejected")
    assert "not a WhatsApp notification" in row["error"]


async def test_unsigned_or_wrongly_signed_garbage_is_refused_and_nothing_is_stored(
    client, tenant, fake_providers
):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    garbage = b"not json at all"
    for headers in (
        {"Content-Type": "application/json"},
        {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64},
        _whatsapp(garbage, secret="another app's secret")[1],
    ):
        response = await client.post(f"/webhooks/{sender['id']}", content=garbage, headers=headers)
        assert response.status_code == 401, response.text
    assert await events() == []


async def test_a_signed_viber_body_that_is_not_json_is_acknowledged_and_rejected(
    client, tenant, fake_providers
):
    sender = await make_sender(client, tenant, "viber", fake_providers)
    garbage = b"event=message&sender=nobody"
    headers = {
        "Content-Type": "application/json",
        "X-Viber-Content-Signature": viber_signature(hooks.VIBER_AUTH_TOKEN, garbage),
    }
    response = await client.post(f"/webhooks/{sender['id']}", content=garbage, headers=headers)
    assert response.status_code == 200, response.text
    [row] = await events(sender["id"])
    assert (row["kind"], row["state"], row["provider"]) == (KIND, "rejected", "viber")
    assert row["error"].startswith("body: not a readable viber webhook: body is not JSON")

    bad = {**headers, "X-Viber-Content-Signature": viber_signature("guess", garbage)}
    assert (await client.post(f"/webhooks/{sender['id']}", content=garbage, headers=bad)).status_code == 401
    assert len(await events()) == 1


async def test_a_signed_sms_form_that_is_no_twilio_callback_is_acknowledged_with_twiml(
    client, tenant, fake_providers
):
    sender = await make_sender(client, tenant, "sms_http", fake_providers)
    params = [("Hello", "there")]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(hooks.TWILIO_AUTH_TOKEN, webhook_url(sender["id"]), params),
    }
    response = await client.post(f"/webhooks/{sender['id']}", content=b"Hello=there", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")  # TwiML, as Twilio expects
    [row] = await events(sender["id"])
    assert (row["kind"], row["state"]) == (KIND, "rejected")
    assert "no MessageSid" in row["error"]
    assert row["payload"]["body"] == "Hello=there"
