"""The sender screens against a real api: the list and its filters, creating a sender per provider (the
provider's own fields, secrets shown as "set" and never echoed), editing with a secret left unchanged or
cleared, keywords and the scope of a STOP, errors under the field the API names, deletion (refused while a
campaign uses the sender), admins only, and the sandbox's "simulate an inbound message" box followed while
a burst worker in this process handles the message.
"""

from __future__ import annotations

from typing import Any

import httpx
from nicegui.testing.user import User
from nicegui.testing.user_interaction import UserInteraction

from backend.config import get_settings
from tests.backend.campaigns.helpers import create_campaign, group_of, published_flow, sandbox_sender
from tests.backend.inbound.helpers import run_worker
from tests.backend.senders.helpers import SMTP_SECRETS, WA_SECRETS, create_sender
from tests.conftest import Tenant
from tests.ui.conftest import log_in_and_wait, only, see

CONTACT = "+351912000001"


async def open_as_admin(user: User, tenant: Tenant, path: str = "/senders") -> None:
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password, path=f"/login?next={path}")


async def api_sender(client: httpx.AsyncClient, tenant: Tenant, sender_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/senders/{sender_id}", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()


async def stored_config(sender_id: int) -> dict[str, Any]:
    """What the database holds, secrets included (the API never shows them)."""
    from backend.senders.tables import Sender

    row = await Sender.select(Sender.config).where(Sender.id == sender_id).output(load_json=True).first()
    return row["config"]


async def all_senders(client: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, Any]]:
    return (await client.get("/api/v1/senders", headers=tenant.headers())).json()["items"]


def fill(user: User, marker: str, value: Any) -> None:
    only(user, marker=marker).set_value(value)


# --- the list ------------------------------------------------------------------------------------------------


async def test_the_list_shows_each_sender_and_filters_them(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_as_admin(user, tenant)
    await see(user, "No senders yet")
    await create_sender(client, tenant, "whatsapp_cloud")
    await sandbox_sender(client, tenant, channel="sms", name="Demo SMS", opt_out_scope="workspace")
    await create_sender(client, tenant, "smtp", rate_limit_per_second=25)

    await user.open("/senders")
    await see(user, marker="sender-count", content="3 senders")
    await see(user, marker="sender-link", content="Shop WhatsApp")
    await see(user, marker="sender-address", content="+351912345678")
    await see(user, marker="sender-provider", content="WhatsApp Cloud API")
    await see(user, marker="sender-provider", content="Sandbox")
    await see(user, marker="sender-scope", content="Whole workspace")
    await see(user, marker="sender-scope", content="This sender only")
    await see(user, marker="sender-rate", content="25 / s")
    await see(user, marker="sender-rate", content="80 / s")
    await see(user, marker="sender-channel", content="Email")

    fill(user, "filter-channel", "sms")
    await see(user, marker="sender-count", content="1 sender")
    await see(user, marker="sender-link", content="Demo SMS")
    await user.should_not_see("Shop WhatsApp")
    fill(user, "filter-channel", None)
    fill(user, "filter-provider", "smtp")
    await see(user, marker="sender-link", content="Newsletter")
    await see(user, marker="sender-count", content="1 sender")
    fill(user, "filter-provider", None)
    fill(user, "sender-search", "nothing like it")
    await see(user, "No senders match")
    await user.should_not_see("No senders yet")
    fill(user, "sender-search", "shop")
    await see(user, marker="sender-link", content="Shop WhatsApp")
    await see(user, marker="sender-count", content="1 sender")


async def test_viewers_and_marketers_find_no_sender_screens(
    user: User, tenant: Tenant, client: httpx.AsyncClient, add_user
) -> None:
    sender = await sandbox_sender(client, tenant)
    for role in ("viewer", "marketer"):
        email, password = await add_user(tenant, role)
        await log_in_and_wait(user, email, password)
        await user.should_not_see(marker="nav-senders")
        for path in ("/senders", "/senders/new", f"/senders/{sender['id']}"):
            await user.open(path)
            await see(user, "Admins only")
            await user.should_not_see(marker="sender-list")
            await user.should_not_see(marker="sender-form")
            await user.should_not_see(marker="simulate-box")
        user.find(marker="logout").click()
        await see(user, marker="login-card")


# --- creating, per provider ------------------------------------------------------------------------------


async def test_create_a_sandbox_sender_with_simulated_customers(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_as_admin(user, tenant, "/senders/new")
    await see(user, marker="sender-form")
    fill(user, "sender-channel", "sms")
    await see(user, marker="sender-address", content="Phone number")
    fill(user, "sender-provider", "sandbox")
    await see(user, marker="auto-reply-switch")
    fill(user, "sender-name", "Demo SMS")
    fill(user, "sender-address", "+351 912 345 670")
    fill(user, "auto-reply-switch", True)
    await see(user, marker="auto-reply-stop")
    fill(user, "auto-reply-stop", 10)
    fill(user, "auto-reply-shortest", 1)
    fill(user, "auto-reply-longest", 5)
    user.find(marker="save-sender").click()

    await see(user, marker="simulate-box")  # the new sender's page, without a reload
    await see(user, marker="page-title", content="Demo SMS")
    [made] = await all_senders(client, tenant)
    assert (made["channel"], made["provider"], made["address"]) == ("sms", "sandbox", "+351912345670")
    assert made["rate_limit_per_second"] == 10  # the channel's default
    auto = made["config"]["auto_reply"]
    assert (auto["stop"], auto["delivered"], auto["delay_seconds"]) == (0.1, 0.95, [1.0, 5.0])
    assert made["webhook_url"] is None
    await user.should_not_see(marker="connect-card")  # nothing to connect: the box answers instead


async def test_create_a_whatsapp_cloud_sender_shows_secrets_as_set_never_their_values(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_as_admin(user, tenant, "/senders/new")
    await see(user, marker="setting-phone_number_id")
    user.find(marker="save-sender").click()  # empty: the form names what is missing, asks nothing
    await see(user, marker="setting-access_token", content="Required for the WhatsApp Cloud API.")
    await see(user, marker="sender-name", content="Enter a name people recognise")
    assert await all_senders(client, tenant) == []

    fill(user, "sender-name", "Shop WhatsApp")
    fill(user, "sender-address", "+351912345678")
    fill(user, "setting-phone_number_id", "109876543210")
    fill(user, "setting-access_token", WA_SECRETS["access_token"])
    fill(user, "setting-app_secret", WA_SECRETS["app_secret"])
    user.find(marker="generate-verify-token").click()
    token = only(user, marker="setting-verify_token").value
    assert len(token) >= 24
    user.find(marker="save-sender").click()

    await see(user, marker="connect-card")
    [made] = await all_senders(client, tenant)
    url = f"{get_settings().base_public_url}/webhooks/{made['id']}"
    assert only(user, marker="webhook-url").value == url
    assert only(user, marker="verify-token").value == token  # shown this once, next to the URL
    await see(user, marker="shown-once")
    user.find(marker="copy-webhook-url").click()
    await see(user, "Webhook URL copied to the clipboard.")
    assert sorted(made["secrets_set"]) == ["access_token", "app_secret", "verify_token"]
    assert (await stored_config(made["id"]))["verify_token"] == token

    await user.open(f"/senders/{made['id']}")  # later: "set", and no value anywhere on the page
    for key in ("access_token", "app_secret", "verify_token"):
        await see(user, marker=f"secret-set-{key}")
        assert only(user, marker=f"setting-{key}").value == ""
    await see(user, marker="verify-token-state", content="set")
    for secret in (*WA_SECRETS.values(), token):
        await user.should_not_see(secret, retries=1)


async def test_create_an_smtp_sender(user: User, tenant: Tenant, client: httpx.AsyncClient) -> None:
    await open_as_admin(user, tenant, "/senders/new")
    fill(user, "sender-channel", "email")
    await see(user, marker="setting-host")
    await see(user, marker="sender-address", content="From address")
    fill(user, "sender-name", "Newsletter")
    fill(user, "sender-address", "News@Acme.example")
    fill(user, "setting-host", "smtp.acme.example")
    fill(user, "setting-port", 465)
    fill(user, "setting-security", "tls")
    fill(user, "setting-username", "mailer")
    fill(user, "setting-password", SMTP_SECRETS["password"])
    fill(user, "setting-from_name", "Acme Shop")
    user.find(marker="save-sender").click()

    await see(user, marker="page-title", content="Newsletter")
    [made] = await all_senders(client, tenant)
    assert made["address"] == "news@acme.example"
    assert made["config"] == {
        "host": "smtp.acme.example",
        "port": 465,
        "security": "tls",
        "username": "mailer",
        "from_name": "Acme Shop",
    }
    assert made["secrets_set"] == ["password"]
    await see(user, marker="secret-set-password")
    await user.should_not_see(marker="connect-card")  # SMTP receives no webhooks


# --- editing -----------------------------------------------------------------------------------------------


async def test_edit_leaves_an_empty_secret_unchanged_and_replaces_a_typed_one(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    sender = await create_sender(client, tenant, "whatsapp_cloud")
    await open_as_admin(user, tenant, f"/senders/{sender['id']}")
    await see(user, marker="secret-set-access_token")
    fill(user, "sender-name", "Shop WhatsApp PT")
    fill(user, "setting-app_secret", "a-new-app-secret")
    user.find(marker="save-sender").click()
    await see(user, "The sender is saved.")
    await see(user, marker="page-title", content="Shop WhatsApp PT")

    config = await stored_config(sender["id"])
    assert config["access_token"] == WA_SECRETS["access_token"]  # left empty: kept
    assert config["verify_token"] == WA_SECRETS["verify_token"]
    assert config["app_secret"] == "a-new-app-secret"
    assert only(user, marker="setting-app_secret").value == ""  # the page forgets it once saved
    await user.should_not_see("a-new-app-secret", retries=1)

    user.find(marker="save-sender").click()
    await see(user, "Nothing to save: no field was changed.")


async def test_an_optional_secret_is_cleared_explicitly(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    sender = await create_sender(client, tenant, "smtp")
    await open_as_admin(user, tenant, f"/senders/{sender['id']}")
    await see(user, marker="secret-set-password")
    user.find(marker="clear-password").click()
    await see(user, marker="secret-cleared-password", content="cleared on save")
    user.find(marker="save-sender").click()
    await see(user, "The sender is saved.")
    assert (await api_sender(client, tenant, sender["id"]))["secrets_set"] == []
    assert "password" not in await stored_config(sender["id"])
    await user.should_not_see(marker="secret-set-password")


async def test_keywords_and_the_scope_of_a_stop(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    sender = await sandbox_sender(client, tenant)
    await open_as_admin(user, tenant, f"/senders/{sender['id']}")
    await see(user, marker="opt-out-keywords", content="UNSUBSCRIBE")
    fill(user, "opt-out-keywords", ["STOP", "UNSUBSCRIBE", "END", "CANCEL"])
    fill(user, "opt-in-keywords", ["START", "end"])
    fill(user, "sender-scope", "workspace")
    await see(user, "stops marketing from every sender of the workspace")
    fill(user, "confirmation-message", "You are unsubscribed. Reply START to come back.")
    user.find(marker="save-sender").click()
    # The API refuses a word in two lists; its sentence is under the list the request changed.
    await see(user, marker="opt-in-keywords", content="is already in the opt-out keywords")
    assert (await api_sender(client, tenant, sender["id"]))["opt_out_keywords"] == ["STOP", "UNSUBSCRIBE"]

    fill(user, "opt-in-keywords", ["START"])
    await user.should_not_see(marker="opt-in-keywords", content="is already in", retries=1)
    user.find(marker="save-sender").click()
    await see(user, "The sender is saved.")
    saved = await api_sender(client, tenant, sender["id"])
    assert saved["opt_out_keywords"] == ["STOP", "UNSUBSCRIBE", "END", "CANCEL"]
    assert saved["opt_in_keywords"] == ["START"]
    assert saved["opt_out_scope"] == "workspace"
    assert saved["confirmation_message"] == "You are unsubscribed. Reply START to come back."


async def test_the_apis_errors_are_under_the_fields_they_name(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    sender = await sandbox_sender(client, tenant)
    await open_as_admin(user, tenant, f"/senders/{sender['id']}")
    await see(user, marker="auto-reply-switch")
    fill(user, "auto-reply-switch", True)
    await see(user, marker="auto-reply-longest")
    fill(user, "auto-reply-shortest", 30)
    fill(user, "auto-reply-longest", 5)
    fill(user, "sender-address", "12")
    user.find(marker="save-sender").click()
    # One answer, two fields (the API stops at the address; the config is judged once that is fine).
    await see(user, marker="sender-address", content="'12' is not a phone number")
    fill(user, "sender-address", "+351912345670")
    user.find(marker="save-sender").click()
    await see(user, marker="auto-reply-longest", content="The shortest (30) is longer than the longest (5).")
    await user.should_not_see(marker="form-error", retries=1)
    assert (await api_sender(client, tenant, sender["id"]))["config"] == {}


# --- deleting ----------------------------------------------------------------------------------------------


async def test_delete_asks_first_and_shows_why_a_sender_in_use_stays(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    spare = await create_sender(client, tenant, "smtp")
    used = await sandbox_sender(client, tenant, name="Campaign sender")
    flow = await published_flow(client, tenant)
    group = await group_of(tenant.id, 2)
    await create_campaign(client, tenant, flow["id"], group["id"], used["id"])

    await open_as_admin(user, tenant)
    await see(user, marker="sender-count", content="2 senders")
    in_row(user, used["id"], "menu-delete").click()
    await see(user, marker="delete-dialog")
    user.find(marker="confirm-delete").click()
    await see(user, marker="delete-refused", content="is used by a campaign")
    await see(user, marker="delete-dialog")  # still open, nothing deleted
    assert len(await all_senders(client, tenant)) == 2
    user.find(marker="cancel-delete").click()

    await user.open(f"/senders/{spare['id']}")
    user.find(marker="delete-sender").click()
    await see(user, marker="delete-dialog")
    user.find(marker="confirm-delete").click()
    await see(user, "“Newsletter” is deleted.")
    await see(user, marker="sender-count", content="1 sender")
    assert [item["id"] for item in await all_senders(client, tenant)] == [used["id"]]


def in_row(user: User, sender_id: int, marker: str) -> UserInteraction:
    """The element ``marker`` of one sender's row (each row has its own menu)."""
    row = only(user, marker=f"sender-{sender_id}")
    [element] = [element for element in row.descendants() if marker in element._markers]
    return UserInteraction(user, {element}, None)


# --- the sandbox's simulate box ----------------------------------------------------------------------------


async def test_simulating_stop_opts_the_address_out_and_shows_the_confirmation(
    user: User, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    sender = await sandbox_sender(
        client, tenant, channel="sms", confirmation_message="You are unsubscribed. Reply START to return."
    )
    await open_as_admin(user, tenant, f"/senders/{sender['id']}")
    await see(user, marker="simulate-box")
    user.find(marker="simulate-send").click()
    await see(user, marker="simulate-from", content="Enter the customer's number, with its country code.")

    fill(user, "simulate-from", CONTACT)
    fill(user, "simulate-text", "")
    user.find(marker="quick-stop").click()
    assert only(user, marker="simulate-text").value == "STOP"
    user.find(marker="simulate-send").click()
    await see(user, marker="simulate-waiting", content="Waiting for the worker")

    await run_worker(redis_url)  # the worker handles it as a provider's webhook
    await see(user, marker="outcome-line", content=f"Received “STOP” from {CONTACT}.")
    await see(
        user, marker="outcome-line", content="Opted out of marketing from this sender, with no end date."
    )
    await see(user, marker="outcome-line", content="Replied “You are unsubscribed. Reply START to return.”")
    await see(user, marker="simulate-history-link")
    await see(user, marker="simulate-contact-link")

    check = await client.get(
        "/api/v1/optouts/check",
        params={"channel": "sms", "address": CONTACT, "sender_id": sender["id"]},
        headers=tenant.headers(),
    )
    assert check.json()["opted_out"] is True
    [entry] = check.json()["entries"]
    assert (entry["source"], entry["sender_id"]) == ("keyword", sender["id"])


async def test_a_simulated_message_that_is_no_keyword_and_a_bad_address(
    user: User, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    sender = await sandbox_sender(client, tenant, channel="whatsapp")
    await open_as_admin(user, tenant, f"/senders/{sender['id']}")
    await see(user, marker="simulate-box")
    fill(user, "simulate-from", "12")
    fill(user, "simulate-text", "Hello there")
    user.find(marker="simulate-send").click()
    await see(user, marker="simulate-from", content="'12' is not a phone number")  # the API's words

    fill(user, "simulate-from", CONTACT)
    user.find(marker="simulate-send").click()
    await see(user, marker="simulate-waiting")
    await run_worker(redis_url)
    await see(user, marker="outcome-line", content="No keyword")
    check = await client.get(
        "/api/v1/optouts/check",
        params={"channel": "whatsapp", "address": CONTACT},
        headers=tenant.headers(),
    )
    assert check.json()["opted_out"] is False
