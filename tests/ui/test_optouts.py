"""The opt-out screens against a real api: the unsubscription list and its filters, the add form that
checks an address as it is typed, opting back in, one address's history, the CSV import (with a bad row,
followed while a worker applies it) and export, and the marketing categories with the workspace's
unsubscription duration.

Entries are made through the API (an API key's entries have source ``api``) or, for a person's own
opt-out (keyword, with its evidence), through the consent service as the inbound path would. Imports are
applied by a burst worker in this process once the UI has uploaded the file.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from nicegui import ElementFilter
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing.user import User

from tests.backend.campaigns.helpers import sandbox_sender
from tests.backend.imports.helpers import csv_bytes, run_worker
from tests.conftest import Tenant
from tests.ui.conftest import PATIENCE, log_in_and_wait, only, see

PHONE_A = "+351912000001"
PHONE_B = "+351912000002"
PHONE_C = "+351912000003"
EMAIL_A = "ana@example.com"


# --- helpers ------------------------------------------------------------------------------------------------


async def post(client: httpx.AsyncClient, tenant: Tenant, path: str, body: dict[str, Any]) -> dict:
    response = await client.post(path, json=body, headers=tenant.headers())
    assert response.status_code in (200, 201), response.text
    return response.json()


async def get(client: httpx.AsyncClient, tenant: Tenant, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()


async def optout(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> dict:
    return await post(client, tenant, "/api/v1/optouts", body)


async def category(client: httpx.AsyncClient, tenant: Tenant, name: str, days: int) -> dict:
    return await post(
        client, tenant, "/api/v1/marketing-categories", {"name": name, "unsubscribe_days": days}
    )


async def keyword_optout(
    tenant: Tenant, address: str, *, sender_id: int | None = None, valid_days: int | None = None
) -> None:
    """A person's own STOP, recorded as the inbound path records it (with its evidence)."""
    from backend.consent.service import record_opt_out

    await record_opt_out(
        tenant.id,
        channel="whatsapp",
        address=address,
        source="keyword",
        sender_id=sender_id,
        valid_days=valid_days,
        actor="inbound message 41",
        remarks="STOP",
        evidence={"inbound_message_id": 41, "text": "STOP please"},
    )


async def open_list(user: User, email: str, password: str) -> None:
    await log_in_and_wait(user, email, password, path="/login?next=/opt-outs")
    await see(user, marker="page-title", content="Opt-outs")


async def open_as_admin(user: User, tenant: Tenant, *, rows: bool = True) -> None:
    await open_list(user, tenant.admin_email, tenant.admin_password)
    await see(user, marker="optout-list" if rows else "empty-state")


def row(entry_id: int) -> str:
    return f"optout-{entry_id}"


def _inside(user: User, marker: str, texts: tuple[str, ...]) -> bool:
    """Whether some visible element marked ``marker`` holds every one of ``texts`` in its descendants."""
    with user.client:
        containers = list(ElementFilter(marker=marker, local_scope=False))
        return any(
            all(
                list(ElementFilter(content=text, local_scope=False).within(instance=container))
                for text in texts
            )
            for container in containers
        )


async def see_in(user: User, marker: str, *texts: str) -> None:
    """Wait until an element marked ``marker`` (a row, a card, a dialog) shows every one of ``texts``."""
    for _ in range(PATIENCE):
        if _inside(user, marker, texts):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no element marked {marker!r} shows {texts!r}")


async def upload(user: User, filename: str, content: bytes) -> None:
    """What NiceGUI's upload route does once the browser has sent the file."""
    await only(user, marker="import-upload").handle_uploads(
        [SmallFileUpload(name=filename, content_type="text/csv", _data=content)]
    )


# --- the list -----------------------------------------------------------------------------------------------


async def test_the_list_shows_each_entry_and_its_filters_narrow_it(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    promotions = await category(client, tenant, "Promotions", 60)
    shop = await sandbox_sender(client, tenant, channel="sms", name="Shop SMS")
    forever = await optout(client, tenant, channel="whatsapp", address=PHONE_A, remarks="called the shop")
    mail = await optout(
        client, tenant, channel="email", address=EMAIL_A, category_id=promotions["id"], valid_days=10
    )
    scoped = await optout(client, tenant, channel="sms", address=PHONE_B, sender_id=shop["id"])
    revoked = await optout(client, tenant, channel="whatsapp", address=PHONE_C)
    gone = await client.delete(
        f"/api/v1/optouts/{revoked['id']}", params={"reason": "asked again"}, headers=tenant.headers()
    )
    assert gone.status_code == 200

    await open_as_admin(user, tenant)
    await see(user, marker="optout-count", content="4 opt-outs")
    # Each row: address, channel, category, scope, source, validity, remarks.
    for text in (
        PHONE_A,
        "WhatsApp",
        "All marketing",
        "Whole workspace",
        "API",
        "Permanent",
        "called the shop",
    ):
        await see_in(user, row(forever["id"]), text)
    for text in (EMAIL_A, "Promotions", "until", "10 days left"):
        await see_in(user, row(mail["id"]), text)
    await see_in(user, row(scoped["id"]), "Sender Shop SMS")
    await see_in(user, row(revoked["id"]), "Opted back in")
    await see_in(user, row(revoked["id"]), "asked again")

    only(user, marker="filter-channel").set_value("email")
    await see(user, marker="optout-count", content="1 opt-out")
    await user.should_not_see(marker=row(forever["id"]))
    only(user, marker="filter-channel").set_value(None)
    only(user, marker="filter-active").set_value("true")
    await see(user, marker="optout-count", content="3 opt-outs")
    await user.should_not_see(marker=row(revoked["id"]))
    only(user, marker="filter-scope").set_value(shop["id"])
    await see(user, marker="optout-count", content="1 opt-out")
    await see(user, marker=row(scoped["id"]))
    only(user, marker="filter-scope").set_value("workspace")
    only(user, marker="filter-category").set_value(promotions["id"])
    await see(user, marker="optout-count", content="1 opt-out")
    await see(user, marker=row(mail["id"]))
    only(user, marker="filter-source").set_value("keyword")
    await see_in(user, "empty-state", "No opt-outs match")


async def test_an_address_is_found_however_it_is_written_and_a_bad_one_is_named(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    wanted = await optout(client, tenant, channel="whatsapp", address=PHONE_A)
    other = await optout(client, tenant, channel="whatsapp", address=PHONE_B)
    await open_as_admin(user, tenant)

    user.find(marker="address-search").type("00351 912 000 001")
    await see(user, marker="optout-count", content="1 opt-out")
    await see(user, marker=row(wanted["id"]))
    await user.should_not_see(marker=row(other["id"]))

    only(user, marker="address-search").set_value("12")
    await see(user, marker="address-search", content="not a")  # the API's sentence, under the box


async def test_more_entries_load_with_the_cursor(
    user: User, tenant: Tenant, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = [
        await optout(client, tenant, channel="whatsapp", address=f"+35191200000{i}") for i in range(1, 4)
    ]
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password)
    import ui.pages.optouts_list as page

    monkeypatch.setattr(page, "PAGE_SIZE", 2)
    await user.open("/opt-outs")
    await see(user, marker="optout-count", content="2 opt-outs; more to load")
    await user.should_not_see(marker=row(entries[2]["id"]))
    user.find(marker="load-more").click()
    await see(user, marker=row(entries[2]["id"]))
    await see(user, marker="optout-count", content="3 opt-outs")
    await user.should_not_see(marker="load-more")


async def test_an_empty_list_says_where_opt_outs_come_from(user: User, tenant: Tenant) -> None:
    await open_as_admin(user, tenant, rows=False)
    await see_in(user, "empty-state", "No opt-outs yet")
    await see(user, marker="add-optout")


# --- the add form -------------------------------------------------------------------------------------------


async def test_the_add_form_checks_the_address_as_it_is_typed(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await optout(client, tenant, channel="whatsapp", address=PHONE_A, valid_days=5)
    await open_as_admin(user, tenant)
    user.find(marker="add-optout").click()
    await see(user, marker="optout-dialog")

    user.find(marker="optout-address").type("12")
    await see(user, marker="optout-address", content="not a")  # refused by the API's own rules
    only(user, marker="optout-address").set_value("00351 912 000 002")
    await see(user, marker="address-reading", content="Stored as +351912000002.")
    await user.should_not_see(marker="extends-note")

    only(user, marker="optout-address").set_value(PHONE_A)  # already opted out: saving adds the days up
    await see_in(user, "already-opted-out", "Already opted out on WhatsApp")
    await see(user, marker="extends-note", content="Saving extends that entry: the days add up.")

    only(user, marker="optout-channel").set_value("email")
    only(user, marker="optout-address").set_value("ana@")
    await see(user, marker="optout-address", content="There must be something after the @-sign.")
    only(user, marker="optout-address").set_value("Ana@Example.com")
    await see(user, marker="address-reading", content=f"Stored as {EMAIL_A}.")


async def test_a_saved_opt_out_has_the_fields_of_the_form_and_a_bad_one_names_the_field(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    promotions = await category(client, tenant, "Promotions", 45)
    shop = await sandbox_sender(client, tenant, channel="whatsapp", name="Shop WhatsApp")
    await open_as_admin(user, tenant, rows=False)
    user.find(marker="add-optout").click()
    await see(user, marker="optout-dialog")

    user.find(marker="save-optout").click()  # nothing typed: the field says what it needs
    await see(user, marker="optout-address", content="Enter the mobile number that opted out.")
    only(user, marker="optout-address").set_value("+351 912 000 001")
    only(user, marker="optout-category").set_value(promotions["id"])
    assert only(user, marker="optout-days").value == 45  # the category's unsubscribe days
    only(user, marker="optout-days").set_value(0)
    await see(user, marker="optout-days", content="between 1 and 36,500")
    only(user, marker="optout-days").set_value(20)
    only(user, marker="optout-scope").set_value("sender")
    user.find(marker="save-optout").click()
    await see(user, marker="optout-sender", content="Pick the WhatsApp sender")
    only(user, marker="optout-sender").set_value(shop["id"])
    user.find(marker="optout-remarks").type("asked at the counter")
    user.find(marker="save-optout").click()

    await see(user, "Opted out +351912000001 on WhatsApp until")  # the toast
    await see(user, marker="optout-list")
    (entry,) = (await get(client, tenant, "/api/v1/optouts"))["items"]
    assert (
        entry["address"],
        entry["category_id"],
        entry["sender_id"],
        entry["source"],
        entry["remarks"],
    ) == (
        PHONE_A,
        promotions["id"],
        shop["id"],
        "manual",  # made by a person in the UI
        "asked at the counter",
    )
    await see_in(user, row(entry["id"]), "Sender Shop WhatsApp")
    await see_in(user, row(entry["id"]), "20 days left")
    await see_in(user, row(entry["id"]), "Added by hand")


async def test_a_permanent_workspace_opt_out_for_email(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_as_admin(user, tenant, rows=False)
    user.find(marker="add-optout").click()
    await see(user, marker="optout-dialog")
    only(user, marker="optout-channel").set_value("email")
    only(user, marker="optout-address").set_value("Bob@Example.com")
    only(user, marker="optout-validity").set_value("permanent")
    user.find(marker="save-optout").click()
    await see_in(user, "optout-row", "bob@example.com")
    await see_in(user, "optout-row", "Permanent")
    (entry,) = (await get(client, tenant, "/api/v1/optouts"))["items"]
    assert (entry["channel"], entry["permanent"], entry["scope"]) == ("email", True, "workspace")


async def test_an_opt_out_until_a_date_lasts_through_that_day(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await open_as_admin(user, tenant, rows=False)
    user.find(marker="add-optout").click()
    await see(user, marker="optout-dialog")
    only(user, marker="optout-address").set_value(PHONE_A)
    only(user, marker="optout-validity").set_value("until")
    only(user, marker="optout-until").set_value("2020-01-31")
    await see(user, marker="optout-until", content="Pick today or a later day")
    only(user, marker="optout-until").set_value("2099-01-31")
    user.find(marker="save-optout").click()
    await see(user, marker="optout-list")
    (entry,) = (await get(client, tenant, "/api/v1/optouts"))["items"]
    # Through the 31st in the workspace's time zone (UTC unless set).
    assert datetime.fromisoformat(entry["valid_until"]) == datetime(2099, 2, 1, tzinfo=UTC)


async def test_a_list_that_could_not_load_offers_retry(
    user: User, tenant: Tenant, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await optout(client, tenant, channel="whatsapp", address=PHONE_A)
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password)
    import ui.clients.consent as calls
    from ui.backend import BackendUnreachable

    real, failures = calls.list_optouts, [BackendUnreachable("http://127.0.0.1:1", "ConnectError")]

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real(*args, **kwargs)

    monkeypatch.setattr(calls, "list_optouts", flaky)
    await user.open("/opt-outs")
    await see(user, marker="inline-problem", content="is not answering")
    user.find(marker="retry").click()
    await see_in(user, "optout-row", PHONE_A)
    await user.should_not_see(marker="inline-problem")


# --- opting back in and the history ----------------------------------------------------------------------


async def test_opting_back_in_asks_why_and_the_history_keeps_it(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    entry = await optout(client, tenant, channel="whatsapp", address=PHONE_A, remarks="entered at the fair")
    await open_as_admin(user, tenant)
    await see_in(user, row(entry["id"]), "Active")

    user.find(marker="opt-back-in").click()
    await see_in(user, "revoke-dialog", f"Opt {PHONE_A} back in?")
    user.find(marker="confirm-revoke").click()
    await see(user, marker="revoke-reason", content="Say why the address is opted back in")
    user.find(marker="revoke-reason").type("wants the offers again")
    user.find(marker="confirm-revoke").click()
    await see(user, f"{PHONE_A} is opted back in on WhatsApp.")  # the toast
    await see_in(user, row(entry["id"]), "Opted back in")
    await user.should_not_see(marker="opt-back-in")
    revoked = await get(client, tenant, f"/api/v1/optouts/{entry['id']}")
    assert (revoked["active"], revoked["revoke_reason"]) == (False, "wants the offers again")

    user.find(marker="optout-history").click()
    await see(user, marker="history-verdict", content="Not opted out")
    await see_in(user, "event-opt_in", "wants the offers again")
    await see_in(user, "event-opt_out", "entered at the fair")


async def test_a_persons_own_opt_out_is_for_admins_to_reverse(
    user: User, tenant: Tenant, client: httpx.AsyncClient, add_user
) -> None:
    await keyword_optout(tenant, PHONE_A)
    email, password = await add_user(tenant, "marketer")
    await open_list(user, email, password)
    await see_in(user, "optout-row", "Keyword reply")
    await see(user, marker="admin-only")
    await user.should_not_see(marker="opt-back-in")


async def test_the_history_shows_every_event_with_its_source_and_evidence(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # Timed (as a campaign reply's is), so the API's opt-out below adds days: a repeated opt-out that
    # changes nothing (over a permanent one) records no event at all.
    await keyword_optout(tenant, PHONE_A, valid_days=30)
    await optout(client, tenant, channel="whatsapp", address=PHONE_A, valid_days=3, remarks="a second note")
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password)
    await user.open(f"/opt-outs/history?channel=whatsapp&address={PHONE_A.replace('+', '%2B')}")

    await see(user, marker="history-shown", content=PHONE_A)
    await see(user, marker="history-verdict", content="Opted out")
    await see_in(user, "history-entry", "Keyword reply")
    await see_in(user, "event-opt_out", "Keyword reply")
    await see_in(user, "event-opt_out", "by inbound message 41")
    await see_in(user, "event-evidence", "text: STOP please")
    await see_in(user, "event-evidence", "inbound message id: 41")
    # The API's opt-out of the same category and scope extended the entry (the days add up).
    await see_in(user, "event-extended", "Opt-out extended", "API", "by API key")

    only(user, marker="history-address").set_value("not an address")
    user.find(marker="show-history").click()
    await see(user, marker="history-address", content="not a")


# --- import and export --------------------------------------------------------------------------------------


async def test_an_import_maps_senders_follows_the_worker_and_lists_the_bad_row(
    user: User, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    shop = await sandbox_sender(client, tenant, channel="sms", name="Shop SMS")
    await open_as_admin(user, tenant, rows=False)
    user.find(marker="import-optouts").click()
    await see(user, marker="import-dialog")
    data = csv_bytes(
        [
            ["Channel", "Address", "Sender", "Valid Days", "Remarks"],
            ["sms", PHONE_A, "Shop", "10", "paper form"],
            ["sms", "12", "", "", ""],
            ["whatsapp", PHONE_B, "", "", "phone call"],
        ]
    )
    await upload(user, "optouts.csv", data)
    await see(user, marker="import-file", content="optouts.csv: 3 rows")
    only(user, marker="map-Shop").set_value(shop["id"])  # "Shop" is no sender's name: map it
    user.find(marker="start-import").click()
    await see(user, marker="import-status", content="Waiting for a worker")

    await run_worker(redis_url)
    await see(user, marker="import-status", content="Done: 2 added, 0 extended, 1 skipped.")
    await see_in(user, "import-error-row", "address")
    await see_in(user, "import-error-row", "'12'")
    assert only(user, marker="import-progress").value == 1.0
    await see(user, marker="optout-count", content="2 opt-outs")  # the list behind reloaded
    entries = (await get(client, tenant, "/api/v1/optouts"))["items"]
    assert [(e["address"], e["sender_id"], e["source"]) for e in entries] == [
        (PHONE_A, shop["id"], "import"),
        (PHONE_B, None, "import"),
    ]


async def test_a_file_without_the_required_columns_is_refused_before_upload(
    user: User, tenant: Tenant
) -> None:
    await open_as_admin(user, tenant, rows=False)
    user.find(marker="import-optouts").click()
    await upload(user, "people.csv", csv_bytes([["name", "phone"], ["Ana", PHONE_A]]))
    await see(user, marker="import-problem", content="The header has no channel or address column")


async def test_the_export_downloads_what_the_filters_show(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await optout(client, tenant, channel="whatsapp", address=PHONE_A)
    await optout(client, tenant, channel="email", address=EMAIL_A, remarks="newsletter only")
    await open_as_admin(user, tenant)
    only(user, marker="filter-channel").set_value("email")
    await see(user, marker="optout-count", content="1 opt-out")
    user.find(marker="export-optouts").click()
    download = await user.download.next(timeout=5)
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert [(r["channel"], r["address"], r["remarks"]) for r in rows] == [
        ("email", EMAIL_A, "newsletter only")
    ]


# --- roles -------------------------------------------------------------------------------------------------


async def test_a_viewer_reads_the_list_and_the_history_but_changes_nothing(
    user: User, tenant: Tenant, client: httpx.AsyncClient, add_user
) -> None:
    await optout(client, tenant, channel="whatsapp", address=PHONE_A)
    email, password = await add_user(tenant, "viewer")
    await open_list(user, email, password)
    await see_in(user, "optout-row", PHONE_A)
    await see(user, marker="export-optouts")
    for marker in ("add-optout", "import-optouts", "opt-back-in", "admin-only"):
        await user.should_not_see(marker=marker)
    user.find(marker="address-link").click()
    await see(user, marker="history-verdict", content="Opted out")
    await user.should_not_see(marker="history-add")
    await user.should_not_see(marker="opt-back-in")


# --- categories and the duration --------------------------------------------------------------------------


async def test_an_admin_manages_categories_and_the_duration(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await log_in_and_wait(
        user, tenant.admin_email, tenant.admin_password, path="/login?next=/opt-outs/categories"
    )
    await see(user, marker="duration-days")
    assert only(user, marker="duration-days").value == 30
    await see_in(user, "empty-state", "No marketing categories yet")

    only(user, marker="duration-days").set_value(0)
    await see(user, marker="duration-days", content="between 1 and 3,650")
    only(user, marker="duration-days").set_value(45)
    user.find(marker="save-duration").click()
    await see(user, "now last 45 days")
    assert (await get(client, tenant, "/api/v1/settings"))["marketing_unsubscription_days"] == 45

    user.find(marker="add-category").click()
    assert only(user, marker="category-days-input").value == 45  # a new category starts with the duration
    user.find(marker="category-name-input").type("Promotions")
    only(user, marker="category-days-input").set_value(90)
    user.find(marker="save-category").click()
    await see_in(user, "category-row", "Promotions")
    await see(user, marker="category-days", content="90 days")

    user.find(marker="add-category").click()
    user.find(marker="category-name-input").type("promotions")
    user.find(marker="save-category").click()
    await see(user, marker="category-name-input", content="already exists")  # the API's 409, at the field
    user.find(marker="cancel-category").click()
    await user.should_not_see(marker="category-dialog", retries=PATIENCE)

    (saved,) = (await get(client, tenant, "/api/v1/marketing-categories"))["items"]
    user.find(marker="edit-category").click()
    only(user, marker="category-days-input").set_value(14)
    user.find(marker="save-category").click()
    await see(user, marker="category-days", content="14 days")
    assert (await get(client, tenant, f"/api/v1/marketing-categories/{saved['id']}"))[
        "unsubscribe_days"
    ] == 14

    user.find(marker="delete-category").click()
    await see_in(user, "delete-category-dialog", "become all-marketing opt-outs")
    user.find(marker="confirm-delete-category").click()
    await see_in(user, "empty-state", "No marketing categories yet")


async def test_others_read_categories_and_the_duration(
    user: User, tenant: Tenant, client: httpx.AsyncClient, add_user
) -> None:
    await category(client, tenant, "Newsletter", 7)
    email, password = await add_user(tenant, "marketer")
    await log_in_and_wait(user, email, password, path="/login?next=/opt-outs/categories")
    await see(user, marker="duration-text", content="30 days")
    await see_in(user, "category-row", "Newsletter")
    await see(user, marker="category-days", content="7 days")
    for marker in ("duration-days", "add-category", "edit-category", "delete-category"):
        await user.should_not_see(marker=marker)
