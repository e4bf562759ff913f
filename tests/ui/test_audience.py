"""The audience screens against a real api: the contacts list (search, tags, paging, an opt-out badge per
channel), a contact's page (details, opt-outs, consent history with evidence, runs, conversation, edit),
the compose box's warnings and sends, groups with their members and reach, and a CSV import with a bad
row whose error shows under the progress bar.

Imports and sends run in this process with the worker's own code (``run_worker``/``work``), as the
backend's tests do; the live api enqueues into the same Redis.
"""

from __future__ import annotations

import httpx
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing.user import User

from backend.audience.tables import Contact
from backend.consent.service import record_opt_out
from tests.backend.campaigns.helpers import ONE_MESSAGE, graph, published_flow, sandbox_sender, work
from tests.backend.imports.helpers import csv_bytes, run_worker
from tests.conftest import Tenant
from tests.ui.conftest import log_in_and_wait, only, see


async def _post(client: httpx.AsyncClient, tenant: Tenant, path: str, body: dict) -> dict:
    response = await client.post(path, json=body, headers=tenant.headers())
    assert response.status_code in (200, 201, 202), response.text
    return response.json()


async def _contact(client: httpx.AsyncClient, tenant: Tenant, **body) -> dict:
    return await _post(client, tenant, "/api/v1/contacts", body)


async def _open(user: User, tenant: Tenant, path: str) -> None:
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password, path=f"/login?next={path}")


def _texts(user: User, marker: str) -> list[str]:
    """The texts of the elements with ``marker``, in drawing order."""
    return [element.text for element in sorted(user.find(marker=marker).elements, key=lambda e: e.id)]


# --- the contacts list ----------------------------------------------------------------------------------


async def test_the_list_shows_tags_and_opt_out_badges_and_searches_and_pages(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    ana = await _contact(
        client, tenant, phone="+351912000001", email="ana@example.com", name="Ana Lima", tags=["vip"]
    )
    category = await _post(client, tenant, "/api/v1/marketing-categories", {"name": "Promotions"})
    await _post(client, tenant, "/api/v1/optouts", {"channel": "sms", "address": ana["phone"]})
    await _post(
        client,
        tenant,
        "/api/v1/optouts",
        {"channel": "email", "address": ana["email"], "category_id": category["id"]},
    )
    await Contact.insert(
        *[Contact(workspace=tenant.id, phone=f"+3519130{i:05d}", name=f"Bulk {i:02d}") for i in range(55)]
    )

    await _open(user, tenant, "/audience")
    await see(user, marker=f"contact-{ana['id']}")
    with user.scope(marker=f"contact-{ana['id']}"):
        await see(user, marker="opt-out-sms", content="SMS")
        await see(user, marker="opt-out-email", content="Email (partly)")  # one category only
        await user.should_not_see(marker="opt-out-whatsapp")
        await see(user, marker="contact-tag", content="vip")
    await see(user, marker="contact-count", content="50 contacts, in the order they were added; more to load")

    user.find(marker="load-more").click()
    await see(user, marker="contact-count", content="56 contacts")
    await user.should_not_see(marker="load-more")

    user.find(marker="contact-search").type("lima")
    await see(user, marker="contact-count", content="1 contact matching")
    assert _texts(user, "contact-link") == ["Ana Lima"]

    only(user, marker="contact-search").set_value("")
    await see(user, marker="contact-count", content="more to load")
    user.find(marker="contact-tag").click()  # a tag filters the list by it
    await see(user, marker="tag-filter", content="Tag: vip")
    await see(user, marker="contact-count", content="1 contact matching")
    user.find(marker="export-contacts").click()  # the export has the list's filters
    exported = (await user.download.next(timeout=5)).content.decode()
    assert exported.splitlines() == [
        "phone,email,name,timezone,tags",
        "+351912000001,ana@example.com,Ana Lima,,vip",
    ]

    user.find(marker="contact-search").type("nobody here")
    await see(user, marker="empty-state")
    await see(user, "No contacts match")


# --- import ---------------------------------------------------------------------------------------------


async def test_an_import_maps_columns_and_shows_the_bad_row_under_the_progress_bar(
    user: User, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    data = csv_bytes(
        [
            ["Mobile", "Full Name", "Club", "Notes"],
            ["+14155550001", "Ana", "Chess", "likes mornings"],
            ["12", "Bo", "Go", ""],
            ["+14155550003", "Cy", "", ""],
        ]
    )
    await _open(user, tenant, "/audience/import")
    await only(user, marker="import-upload").handle_uploads(
        [SmallFileUpload(name="people.csv", content_type="text/csv", _data=data)]
    )
    await see(user, marker="import-filename", content="people.csv")
    with user.scope(marker="column-0"):
        assert only(user, marker="column-meaning").value == "phone"
    with user.scope(marker="column-2"):
        assert only(user, marker="column-meaning").value == "attribute"
        assert only(user, marker="column-key").value == "club"
    with user.scope(marker="column-3"):
        only(user, marker="column-meaning").set_value("ignore")

    user.find(marker="start-import").click()
    await see(user, marker="import-progress")
    await see(user, marker="import-status", content="Waiting for a worker")
    await run_worker(redis_url)
    await see(user, marker="import-status", content="Finished")
    await see(user, marker="import-percent", content="100%")
    await see(user, marker="import-counts", content="2 created · 0 updated · 1 skipped, 1 with an error")
    with user.scope(marker="import-error"):
        await see(user, marker="error-row", content="2")
        await see(user, marker="error-column", content="phone (the file's “mobile”)")
        await see(user, marker="error-message", content="12")

    contacts = (await client.get("/api/v1/contacts", headers=tenant.headers())).json()["items"]
    assert [(c["name"], c["attributes"]) for c in contacts] == [("Ana", {"club": "Chess"}), ("Cy", {})]


# --- a contact's page -----------------------------------------------------------------------------------


async def test_the_contact_page_shows_details_opt_outs_history_runs_and_the_conversation(
    user: User, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    ana = await _contact(
        client,
        tenant,
        phone="+351912000001",
        email="ana@example.com",
        name="Ana Lima",
        attributes={"plan": "gold", "visits": 3},
        tags=["vip"],
        timezone="Europe/Lisbon",
    )
    group = await _post(client, tenant, "/api/v1/groups", {"name": "Lisbon VIPs"})
    await _post(client, tenant, f"/api/v1/groups/{group['id']}/members", {"contact_ids": [ana["id"]]})
    await record_opt_out(
        tenant.id,
        channel="whatsapp",
        address=ana["phone"],
        source="keyword",
        actor=f"keyword STOP from {ana['phone']}",
        evidence={"text": "STOP please", "keyword": "STOP"},
    )
    sms = await _post(client, tenant, "/api/v1/optouts", {"channel": "sms", "address": ana["phone"]})
    revoked = await client.delete(
        f"/api/v1/optouts/{sms['id']}", params={"reason": "called the shop"}, headers=tenant.headers()
    )
    assert revoked.status_code == 200, revoked.text
    sender = await sandbox_sender(client, tenant, "sms")
    flow = await published_flow(client, tenant, graph(ONE_MESSAGE, trigger="api"), name="Welcome")
    run = await client.post(
        f"/api/v1/flows/{flow['id']}/runs",
        json={"sender_id": sender["id"], "contact_id": ana["id"]},
        headers=tenant.headers(),
    )
    assert run.status_code == 201, run.text
    await _post(
        client,
        tenant,
        f"/api/v1/senders/{sender['id']}/sandbox/inbound",
        {"from": ana["phone"], "text": "Thanks!"},
    )
    await work(redis_url)

    await _open(user, tenant, f"/audience/contacts/{ana['id']}")
    await see(user, marker="page-title", content="Ana Lima")
    await see(user, marker="detail-timezone", content="Europe/Lisbon")
    await see(user, marker="attributes")
    await see(user, "gold")
    await see(user, marker="contact-group", content="Lisbon VIPs")
    with user.scope(marker="opt-out-status-whatsapp"):
        await see(
            user,
            marker="opt-out-entry",
            content="All marketing · every sender · permanent · replied a keyword",
        )
    with user.scope(marker="opt-out-status-sms"):
        await see(user, "Receives marketing")  # opted back in

    await see(user, marker="consent-event")
    assert _texts(user, "event-title") == [
        "Opted back in on SMS",
        "Opted out on SMS",
        "Opted out on WhatsApp",
    ]
    await see(user, "Why: called the shop")
    await see(user, marker="event-evidence")
    await see(user, "Message text")  # the evidence of the keyword opt-out
    await see(user, "STOP please")
    await see(user, marker="event-source", content="Source: keyword by keyword STOP from +351912000001")

    await see(user, marker="run-row")  # the runs arrive after the rest of the page
    with user.scope(marker="run-row"):
        await see(user, "Welcome v1")
        await see(user, marker="run-status")
        await see(user, "API · reached an End step")  # why a finished run ended, in words
    texts = _texts(user, "message-text")
    assert "Hello Ana Lima" in texts and "Thanks!" in texts
    # Newest first in the page, drawn bottom-up: the oldest is on top, the newest at the bottom.
    assert texts.index("Thanks!") < texts.index("Hello Ana Lima")
    await see(user, marker="message-status", content="Sent")


async def test_editing_a_contact_saves_name_time_zone_tags_and_attributes(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    ana = await _contact(client, tenant, phone="+351912000001", name="Ana", attributes={"visits": 3})
    await _open(user, tenant, f"/audience/contacts/{ana['id']}")
    user.find(marker="edit-contact").click()
    await see(user, marker="edit-contact-dialog")
    only(user, marker="edit-name").set_value("Ana Lima")
    only(user, marker="edit-timezone").set_value("Europe/Lisbon")
    only(user, marker="attribute-value").set_value("4")
    user.find(marker="add-attribute").click()
    keys = sorted(user.find(marker="attribute-key").elements, key=lambda e: e.id)
    values = sorted(user.find(marker="attribute-value").elements, key=lambda e: e.id)
    keys[-1].set_value("2nd plan")
    values[-1].set_value("gold")
    user.find(marker="save-contact").click()
    await see(user, marker="attribute-key", content="not starting with a digit")

    keys[-1].set_value("plan")
    user.find(marker="save-contact").click()
    await see(user, marker="page-title", content="Ana Lima")
    await see(user, marker="detail-timezone", content="Europe/Lisbon")
    saved = (await client.get(f"/api/v1/contacts/{ana['id']}", headers=tenant.headers())).json()
    assert (saved["name"], saved["timezone"]) == ("Ana Lima", "Europe/Lisbon")
    assert saved["attributes"] == {"visits": 4, "plan": "gold"}  # a number stays a number


# --- the compose box ------------------------------------------------------------------------------------


async def test_the_compose_box_warns_twice_for_an_opted_out_contact_and_marketing_is_not_sent(
    user: User, tenant: Tenant, client: httpx.AsyncClient, redis_url: str
) -> None:
    ana = await _contact(client, tenant, phone="+351912000001", name="Ana")
    sender = await sandbox_sender(client, tenant, "whatsapp")
    await record_opt_out(tenant.id, channel="whatsapp", address=ana["phone"], source="keyword", actor="test")

    await _open(user, tenant, f"/audience/contacts/{ana['id']}")
    await see(user, marker="compose-box")
    await see(user, marker="compose-opted-out", content="Ana opted out of marketing on WhatsApp")
    await user.should_not_see(marker="compose-marketing-warning", content="consent gate")

    only(user, marker="compose-kind").set_value("marketing")
    await see(user, marker="compose-marketing-warning", content="the consent gate will not send it")
    only(user, marker="compose-text").set_value("20% off this week")
    user.find(marker="compose-send").click()
    await see(user, marker="compose-confirm")
    user.find(marker="confirm-send").click()
    await see(user, marker="message-text", content="20% off this week")
    await see(user, marker="message-status", content="Not sent: the contact opted out of marketing")

    only(user, marker="compose-kind").set_value("transactional")
    await user.should_not_see(marker="compose-marketing-warning", content="consent gate")
    await see(user, marker="compose-opted-out", content="opted out")  # still said, but no stop
    only(user, marker="compose-text").set_value("Your order has shipped")
    user.find(marker="compose-send").click()
    await see(user, marker="message-text", content="Your order has shipped")
    await user.should_not_see(marker="compose-confirm")
    await work(redis_url)
    await see(user, marker="message-status", content="Sent")  # followed in place, no reload

    messages = (await client.get("/api/v1/messages", headers=tenant.headers())).json()["items"]
    assert [(m["kind"], m["status"], m["failure_reason"], m["sender_id"]) for m in messages] == [
        ("transactional", "sent", None, sender["id"]),
        ("marketing", "failed", "opted_out", sender["id"]),
    ]


async def test_the_compose_box_sends_marketing_to_a_contact_who_did_not_opt_out(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    bo = await _contact(client, tenant, phone="+351912000002", email="bo@example.com", name="Bo")
    await sandbox_sender(client, tenant, "email", address="news@example.com")
    await sandbox_sender(client, tenant, "sms")
    await record_opt_out(tenant.id, channel="email", address=bo["email"], source="web_form", actor="test")

    await _open(user, tenant, f"/audience/contacts/{bo['id']}")
    await see(user, marker="compose-box")
    await see(user, marker="compose-opted-out", content="opted out of marketing on Email")  # the first sender
    senders = only(user, marker="compose-sender")
    sms = next(key for key, label in senders.options.items() if "SMS" in label)
    senders.set_value(sms)
    await user.should_not_see(marker="compose-opted-out", content="opted out")
    only(user, marker="compose-kind").set_value("marketing")
    await user.should_not_see(marker="compose-marketing-warning", content="consent gate")
    user.find(marker="compose-send").click()
    await see(user, marker="compose-text", content="Write the message first")
    only(user, marker="compose-text").set_value("New arrivals")
    user.find(marker="compose-send").click()
    await see(user, marker="message-text", content="New arrivals")
    await user.should_not_see(marker="compose-confirm")
    messages = (await client.get("/api/v1/messages", headers=tenant.headers())).json()["items"]
    assert [(m["channel"], m["kind"], m["to"], m["contact_id"]) for m in messages] == [
        ("sms", "marketing", bo["phone"], bo["id"])
    ]
    assert messages[0]["status"] != "failed"


# --- groups ---------------------------------------------------------------------------------------------


async def test_a_group_is_created_filled_counted_per_channel_and_flagged(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    ana = await _contact(client, tenant, phone="+351912000001", name="Ana")
    bo = await _contact(client, tenant, phone="+351912000002", email="bo@example.com", name="Bo")
    await record_opt_out(tenant.id, channel="sms", address=ana["phone"], source="keyword", actor="test")

    await _open(user, tenant, "/audience/groups")
    await see(user, marker="empty-state")
    await see(user, "No groups yet")
    user.find(marker="new-group").click()
    await see(user, marker="group-dialog")
    user.find(marker="save-group").click()
    await see(user, marker="group-name", content="Give the group a name")
    only(user, marker="group-name").set_value("Spring customers")
    user.find(marker="save-group").click()
    await see(user, marker="page-title", content="Spring customers")
    await see(user, marker="members-empty")

    # both from one search: the results stay after each Add, the one added marked as a member
    only(user, marker="member-search").set_value("+35191200000")
    for added, person in enumerate((ana, bo), start=1):
        await see(user, marker=f"found-{person['id']}", content=None)
        with user.scope(marker=f"found-{person['id']}"):
            await see(user, marker="add-member")
            user.find(marker="add-member").click()
        await see(user, marker="member-count", content=f"{added} of")
        await see(user, marker="group-summary", content=f"{added} member")
        await see(user, marker=f"found-{person['id']}", content=None)
        with user.scope(marker=f"found-{person['id']}"):
            await see(user, "Member")
    with user.scope(marker="reach-sms"):
        await see(user, marker="reach-text", content="1 of 2 members — 1 opted out, 0 without a phone number")
    with user.scope(marker="reach-email"):
        await see(
            user, marker="reach-text", content="1 of 2 members — 0 opted out, 1 without an email address"
        )
    await see(user, marker="reach-chart")
    with user.scope(marker=f"member-{ana['id']}"):
        await see(user, marker="opt-out-sms")

    with user.scope(marker=f"member-{bo['id']}"):
        user.find(marker="remove-member").click()
    await see(user, marker="member-count", content="1 of 1 member shown")

    user.find(marker="edit-group").click()
    await see(user, marker="group-dialog")
    only(user, marker="group-bypass").set_value(True)
    user.find(marker="save-group").click()
    await see(user, marker="bypass-chip")
    with user.scope(marker="reach-sms"):
        await see(user, marker="reach-text", content="the group bypasses the opt-out filter")

    await user.open("/audience/groups")
    await see(user, marker="group-members", content="1")
    await see(user, marker="bypass-chip", content="Bypassed")
    user.find(marker="delete-group").click()
    await see(user, marker="delete-group-dialog")
    user.find(marker="confirm-delete-group").click()
    await see(user, "No groups yet")
    contacts = (await client.get("/api/v1/contacts", headers=tenant.headers())).json()["items"]
    assert len(contacts) == 2  # the contacts stay


async def test_viewers_read_the_audience_but_change_nothing(
    user: User, tenant: Tenant, client: httpx.AsyncClient, add_user
) -> None:
    ana = await _contact(client, tenant, phone="+351912000001", name="Ana")
    await sandbox_sender(client, tenant, "sms")
    email, password = await add_user(tenant, "viewer")
    await log_in_and_wait(user, email, password, path="/login?next=/audience")
    await see(user, marker=f"contact-{ana['id']}")
    await see(user, marker="export-contacts")
    await user.should_not_see(marker="new-contact")
    await user.should_not_see(marker="import-contacts")
    await user.open(f"/audience/contacts/{ana['id']}")
    await see(user, marker="conversation-card")
    await see(user, "Viewers read the conversation; marketers and admins send.")
    await user.should_not_see(marker="compose-box")
    await user.should_not_see(marker="edit-contact")


async def test_a_missing_contact_is_said_so(user: User, tenant: Tenant) -> None:
    await _open(user, tenant, "/audience/contacts/999")
    await see(user, marker="page-title", content="Contact not found")
    await see(user, marker="back-link")


async def test_a_contact_is_created_by_hand_and_deleted_with_its_history_kept(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await _contact(client, tenant, phone="+351912000009", name="Taken")
    await _open(user, tenant, "/audience")
    user.find(marker="new-contact").click()
    only(user, marker="new-contact-name").set_value("Dee")
    user.find(marker="create-contact").click()
    await see(user, marker="new-contact-phone", content="Enter a phone number or an email address")
    only(user, marker="new-contact-phone").set_value("+351 912 000 009")
    user.find(marker="create-contact").click()
    await see(user, marker="new-contact-phone", content="already belongs to contact")  # the API's words
    only(user, marker="new-contact-phone").set_value("")
    only(user, marker="new-contact-email").set_value("Dee@Example.com")
    user.find(marker="create-contact").click()
    await see(user, marker="page-title", content="Dee")
    await see(user, marker="detail-email", content="dee@example.com")
    await record_opt_out(
        tenant.id, channel="email", address="dee@example.com", source="web_form", actor="test"
    )

    user.find(marker="delete-contact").click()
    await see(user, marker="delete-contact-dialog")
    user.find(marker="confirm-delete-contact").click()
    await see(user, marker="contact-count", content="1 contact")
    events = (await client.get("/api/v1/consent-events", headers=tenant.headers())).json()["items"]
    assert [event["address"] for event in events] == ["dee@example.com"]  # the history stays

    await user.open("/audience?tag=nothing-has-it")  # a tag link from a contact page
    await see(user, marker="tag-filter", content="Tag: nothing-has-it")
    await see(user, "No contacts match")
