"""``/settings/webhooks``: an admin adds an endpoint (its secret shown once), sends it a test event that a
real worker delivers to a real receiver, reads the delivery log, and deletes the endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from nicegui.testing.user import User

from tests.backend.webhooks.helpers import allow_private_urls, create_endpoint, emit_event, run_worker
from tests.backend.webhooks.receiver import Receiver
from tests.conftest import Tenant
from tests.ui.conftest import log_in_and_wait, only, see
from ui.pages.settings_deliveries import delivery_result, until_text
from ui.pages.settings_webhooks import chosen_events, events_text

PUBLIC_URL = "https://93.184.215.14/hooks/consent"
"""A global address written as an IP literal: accepted without DNS, never called by these tests."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


async def open_webhooks(user: User, tenant: Tenant, path: str = "/settings/webhooks") -> None:
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password, path=f"/login?next={path}")
    await see(user, marker="settings-tabs")


async def test_adding_a_webhook_shows_its_secret_once(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_webhooks(user, tenant)
    await see(user, marker="empty-state")
    user.find(marker="add-webhook").click()
    await see(user, marker="add-webhook-dialog")
    user.find(marker="webhook-url-input").type(PUBLIC_URL)
    user.find(marker="events-all").click()  # only some events
    user.find(marker="events-opted-in").click()  # opt-outs only
    user.find(marker="webhook-description").type("CRM sync")
    user.find(marker="create-webhook").click()

    await see(user, marker="webhook-secret")
    secret = only(user, marker="webhook-secret").value
    assert secret.startswith("whsec_")
    await see(user, marker="shown-once")
    user.find(marker="copy-webhook-secret").click()
    await see(user, "Signing secret copied to the clipboard.")
    user.find(marker="close-webhook-secret").click()

    await see(user, marker="webhook-url", content=PUBLIC_URL)
    await see(user, marker="webhook-events", content="Opt-outs · CRM sync")
    [made] = (await client.get("/api/v1/webhooks", headers=tenant.headers())).json()["items"]
    assert (made["url"], made["events"], made["description"]) == (
        PUBLIC_URL,
        ["consent.opted_out"],
        "CRM sync",
    )
    await user.should_not_see(secret, retries=1)


async def test_a_refused_url_is_named_under_the_field(user: User, tenant: Tenant) -> None:
    await open_webhooks(user, tenant)
    user.find(marker="add-webhook").click()
    await see(user, marker="add-webhook-dialog")
    user.find(marker="create-webhook").click()
    await see(user, marker="webhook-url-input", content="Enter the URL that will receive the events.")
    user.find(marker="webhook-url-input").type("http://127.0.0.1:9/hook")
    user.find(marker="create-webhook").click()
    await see(user, marker="webhook-url-input", content="private")  # the API's reason: a private address

    user.find(marker="events-all").click()
    user.find(marker="events-opted-in").click()
    user.find(marker="events-opted-out").click()
    user.find(marker="create-webhook").click()
    await see(user, marker="events-error", content="Pick at least one kind of event.")


async def test_a_test_event_is_delivered_and_its_outcome_shows_in_the_log(
    user: User, tenant: Tenant, client: httpx.AsyncClient, receiver: Receiver, redis_url: str
) -> None:
    endpoint = await create_endpoint(client, tenant, receiver.url)  # allows private URLs first
    receiver.secret = endpoint["secret"]
    await open_webhooks(user, tenant, f"/settings/webhooks/{endpoint['id']}")
    await see(user, marker="webhook-card")
    await see(user, "Nothing delivered so far")

    user.find(marker="send-test").click()
    await see(user, "Test event queued")
    await see(user, marker="delivery-status", content="Pending")
    await see(user, marker="delivery-event", content="Test event")

    await run_worker(redis_url)  # a real worker sends it to the receiver, which checks the signature
    [request] = receiver.received
    assert request.verified, request.problem
    assert request.json()["type"] == "webhook.test"

    # The open log follows a pending delivery by itself: no reload needed.
    await see(user, marker="delivery-status", content="Delivered")
    await see(user, marker="delivery-response", content="HTTP 200")
    await see(user, marker="delivery-attempts", content="1")
    await see(user, marker="delivery-result", content="Delivered just now")


async def test_the_log_filters_by_status_and_shows_failures(
    user: User, tenant: Tenant, client: httpx.AsyncClient, receiver: Receiver, redis_url: str
) -> None:
    endpoint = await create_endpoint(client, tenant, receiver.url)
    receiver.secret = endpoint["secret"]
    receiver.default = 500
    [failing] = await emit_event(tenant.id, None, "+351912000001")
    from backend.webhooks import delivery

    async with httpx.AsyncClient() as http:
        await delivery.deliver(failing, client=http, queue=None, delays=())  # one attempt, then give up
    receiver.default = 200
    [ok] = await emit_event(tenant.id, None, "+351912000002")
    async with httpx.AsyncClient() as http:
        await delivery.deliver(ok, client=http, queue=None)

    await open_webhooks(user, tenant, f"/settings/webhooks/{endpoint['id']}")
    await see(user, marker="delivery-log")
    await see(user, marker="delivery-count", content="2 deliveries")
    with user.scope(marker=f"delivery-{failing}"):
        await see(user, marker="delivery-status", content="Failed")
        await see(user, marker="delivery-response", content="HTTP 500")
        await see(user, marker="delivery-result", content="Gave up after 1 attempt: HTTP 500")

    only(user, marker="delivery-status-filter").set_value("succeeded")
    await see(user, marker="delivery-count", content="1 delivery")
    await see(user, marker=f"delivery-{ok}")
    await user.should_not_see(marker=f"delivery-{failing}")

    user.find(marker="delivery-payload").click()
    await see(user, marker="payload-dialog")
    await see(user, "+351912000002")


async def test_deleting_a_webhook_asks_first(user: User, tenant: Tenant, client: httpx.AsyncClient) -> None:
    await allow_private_urls(client, tenant)
    endpoint = await create_endpoint(client, tenant, "http://127.0.0.1:9/old")
    await open_webhooks(user, tenant)
    await see(user, marker=f"webhook-{endpoint['id']}")
    user.find(marker="delete-webhook").click()
    await see(user, marker="delete-webhook-dialog")
    user.find(marker="confirm-delete-webhook").click()
    await see(user, "Webhook deleted.")
    await see(user, marker="empty-state")
    assert (await client.get("/api/v1/webhooks", headers=tenant.headers())).json()["items"] == []


async def test_a_disabled_webhook_says_why_and_can_be_enabled(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    endpoint = await create_endpoint(client, tenant, "http://127.0.0.1:9/gone")
    from backend.webhooks.tables import WebhookEndpoint

    await WebhookEndpoint.update(
        {WebhookEndpoint.enabled: False, WebhookEndpoint.disabled_reason: "the endpoint answered 410 Gone"}
    ).where(WebhookEndpoint.id == endpoint["id"])
    await open_webhooks(user, tenant, f"/settings/webhooks/{endpoint['id']}")
    await see(user, marker="webhook-disabled", content="410 Gone")
    await user.should_not_see(marker="send-test")
    user.find(marker="enable-webhook").click()
    await see(user, "Enabled: events from now on reach it again.")
    await see(user, marker="send-test")
    assert (await client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=tenant.headers())).json()[
        "enabled"
    ]


async def test_an_unknown_webhook_says_so(user: User, tenant: Tenant) -> None:
    await open_webhooks(user, tenant, "/settings/webhooks/999999")
    await see(user, marker="no-webhook")
    await see(user, marker="back-to-webhooks")


def test_events_and_outcomes_read_as_words() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert events_text(["*"]) == "All consent events"
    assert events_text(["consent.opted_out", "consent.opted_in"]) == "Opt-outs, Opt-ins"
    assert chosen_events(True, True, True) == ["*"]
    assert chosen_events(True, False, False) == ["consent.opted_out"]
    assert chosen_events(False, False, False) == []
    assert until_text(datetime(2026, 5, 1, 12, 4, 30, tzinfo=UTC), now) == "in 4 min"
    assert until_text(datetime(2026, 5, 1, 14, 30, tzinfo=UTC), now) == "in 2 hours"
    base = {
        "id": 1,
        "endpoint_id": 1,
        "message_id": "msg_1",
        "event_type": "consent.opted_out",
        "payload": {},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": None,
        "last_status_code": None,
        "last_error": "",
        "created_at": "2026-05-01T11:00:00Z",
        "delivered_at": None,
    }
    assert delivery_result(base, now) == "Waiting for the worker to send it"
    retrying = {
        **base,
        "attempts": 2,
        "last_error": "HTTP 503",
        "last_status_code": 503,
        "next_attempt_at": "2026-05-01T12:30:00Z",
    }
    assert delivery_result(retrying, now) == "2 attempts so far: HTTP 503; next attempt in 30 min"
    assert delivery_result({**retrying, "status": "failed"}, now) == "Gave up after 2 attempts: HTTP 503"
    delivered = {**base, "status": "succeeded", "attempts": 1, "delivered_at": "2026-05-01T09:00:00Z"}
    assert delivery_result(delivered, now) == "Delivered 3 hours ago"
