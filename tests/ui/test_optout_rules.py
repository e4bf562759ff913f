"""The opt-out pages' pure rules: how entries read, what the add form sends and refuses before sending,
the filters as query parameters, and the quick look at an import file that finds its sender values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.backend.imports.helpers import csv_bytes
from ui.components.optout_rules import (
    DAYS,
    PERMANENT,
    SENDER,
    UNTIL,
    WORKSPACE,
    ImportFileProblem,
    OptOutForm,
    days_problem,
    default_days,
    end_of_day,
    evidence_lines,
    extends,
    import_progress_text,
    list_params,
    mapping_body,
    preview_import,
    saved_sentence,
    scope_text,
    status_of,
    validity_text,
)

NOW = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)


def entry(**fields) -> dict:
    base = {
        "id": 1,
        "channel": "whatsapp",
        "address": "+351912000001",
        "category_id": None,
        "category_name": None,
        "sender_id": None,
        "sender_name": None,
        "valid_until": None,
        "active": True,
        "revoked_at": None,
    }
    return base | fields


def test_an_entry_reads_as_its_state_validity_and_scope() -> None:
    assert validity_text(entry(), NOW) == "Permanent"
    soon = entry(valid_until=(NOW + timedelta(days=9, hours=23)).isoformat())
    assert validity_text(soon, NOW) == "until 20 Jan 2030 (10 days left)"
    assert validity_text(entry(valid_until=(NOW + timedelta(hours=5)).isoformat()), NOW).endswith(
        "(5 hours left)"
    )
    expired = entry(valid_until="2030-01-01T00:00:00Z", active=False)
    assert (status_of(expired), validity_text(expired, NOW)) == ("expired", "expired 1 Jan 2030")
    revoked = entry(active=False, revoked_at="2030-01-05T08:00:00Z")
    assert (status_of(revoked), validity_text(revoked, NOW)) == ("revoked", "opted in 5 Jan 2030")
    assert scope_text(entry()) == "Whole workspace"
    assert scope_text(entry(sender_id=4, sender_name="Shop")) == "Sender Shop"


def test_the_form_says_what_is_missing_before_anything_is_sent() -> None:
    form = OptOutForm(address=" ", validity=DAYS, days=0, scope=SENDER, today=date(2030, 1, 10))
    assert form.problems() == {
        "address": "Enter the mobile number that opted out.",
        "valid_days": "A whole number of days between 1 and 36,500.",
        "sender_id": "Pick the WhatsApp sender this opt-out applies to.",
    }
    form = OptOutForm(
        channel="email", address="", validity=UNTIL, until="2030-01-09", today=date(2030, 1, 10)
    )
    assert form.problems() == {
        "address": "Enter the email address that opted out.",
        "valid_until": "Pick today or a later day: to end an opt-out, opt the address back in.",
    }
    assert OptOutForm(address="x", remarks="r" * 1001).problems() == {"remarks": "At most 1000 characters."}


def test_the_form_sends_one_kind_of_validity_and_the_scope_it_shows() -> None:
    days = OptOutForm(
        address=" +351 912 ", category_id=3, days=20.0, scope=SENDER, sender_id=7, remarks=" hi "
    )
    assert days.body() == {
        "channel": "whatsapp",
        "address": "+351 912",
        "category_id": 3,
        "sender_id": 7,
        "remarks": "hi",
        "valid_days": 20,
    }
    until = OptOutForm(
        address="a@b.co", validity=UNTIL, until="2030-01-31", zone="Europe/Lisbon", sender_id=7
    )
    body = until.body()
    assert body["valid_until"] == "2030-02-01T00:00:00+00:00"  # through the 31st, Lisbon time
    assert "valid_days" not in body and body["sender_id"] is None  # the workspace scope drops the sender
    forever = OptOutForm(address="a@b.co", validity=PERMANENT).body()
    assert "valid_days" not in forever and "valid_until" not in forever


def test_end_of_day_uses_the_workspace_zone_and_survives_a_bad_one() -> None:
    assert end_of_day(date(2030, 7, 1), "America/New_York").isoformat() == "2030-07-02T00:00:00-04:00"
    assert end_of_day(date(2030, 7, 1), "Not/AZone").isoformat() == "2030-07-02T00:00:00+00:00"


@pytest.mark.parametrize(
    ("value", "problem"),
    [(None, "Enter a number of days."), (0, "between"), (1.5, "between"), (36_501, "between"), (1, None)],
)
def test_days_are_a_whole_number_in_range(value, problem) -> None:
    found = days_problem(value, 36_500)
    assert (found is None) if problem is None else (problem in found)


def test_the_proposed_days_follow_the_category() -> None:
    assert default_days(None, 30) == 30
    assert default_days({"unsubscribe_days": 90}, 30) == 90


def test_saving_extends_only_an_entry_of_the_same_category_and_scope() -> None:
    entries = [entry(id=1, category_id=2), entry(id=2, sender_id=5)]
    assert extends(entries, 2, None)["id"] == 1
    assert extends(entries, None, 5)["id"] == 2
    assert extends(entries, None, None) is None
    made = entry(valid_until=(NOW + timedelta(days=5)).isoformat())
    assert (
        saved_sentence(made, False, NOW)
        == "Opted out +351912000001 on WhatsApp until 15 Jan 2030 (5 days left)."
    )
    assert (
        saved_sentence(entry(), True, NOW)
        == "Extended the opt-out of +351912000001 on WhatsApp: now permanently."
    )


def test_the_filters_become_the_apis_query_parameters() -> None:
    assert list_params({"channel": None, "address": "", "active": None}) == {}
    assert list_params({"channel": "sms", "category_id": 3, "source": "keyword", "active": "false"}) == {
        "channel": "sms",
        "category_id": 3,
        "source": "keyword",
        "active": "false",
    }
    assert list_params({"scope": WORKSPACE}) == {"scope": "workspace"}
    assert list_params({"scope": 12}) == {"sender_id": 12}


def test_evidence_reads_as_lines() -> None:
    assert evidence_lines({"inbound_message_id": 41, "form": {"ip": "10.0.0.1", "ua": ""}, "x": None}) == [
        "inbound message id: 41",
        "form.ip: 10.0.0.1",
    ]
    assert evidence_lines(None) == []


def test_an_import_file_is_read_for_its_rows_and_sender_values() -> None:
    data = csv_bytes(
        [
            ["Channel", "Address", "Sender", "Valid Days"],
            ["sms", "+351912000001", "Shop", "10"],
            ["sms", "+351912000002", " Shop ", ""],
            ["", "", "", ""],
            ["email", "a@b.co", "", ""],
            ["sms", "+351912000003", "Outlet", ""],
        ],
        bom=True,
    )
    preview = preview_import(data)
    assert preview.columns == ["channel", "address", "sender", "valid_days"]
    assert (preview.rows, preview.senders, preview.more_senders) == (4, ["Shop", "Outlet"], False)
    semicolons = preview_import(b"channel;address\nsms;+351912000001\n")
    assert (semicolons.columns, semicolons.rows, semicolons.senders) == (["channel", "address"], 1, [])


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"", "empty"),
        (b"name,phone\nAna,+351912000001\n", "no channel or address column"),
        (b"channel,phone\nsms,+351912000001\n", "no address column"),
    ],
)
def test_a_file_that_cannot_be_an_opt_out_csv_is_refused_in_words(data, problem) -> None:
    with pytest.raises(ImportFileProblem, match=problem):
        preview_import(data)


def test_only_mapped_sender_values_are_sent() -> None:
    assert mapping_body({"Shop": 4, "All": "workspace", "Outlet": "as_written"}) == {
        "Shop": 4,
        "All": "workspace",
    }


def test_an_import_in_progress_reads_as_words() -> None:
    base = {"created": 0, "updated": 0, "skipped": 0, "failure": "", "total_rows": 0, "processed_rows": 0}
    assert import_progress_text(base | {"status": "queued"}).startswith("Waiting for a worker")
    running = base | {"status": "running", "phase": "applying", "total_rows": 1200, "processed_rows": 400}
    assert import_progress_text(running) == "Applying rows: 400 of 1,200"
    done = base | {"status": "completed", "created": 2, "updated": 1, "skipped": 1}
    assert import_progress_text(done) == "Done: 2 added, 1 extended, 1 skipped."
    failed = base | {"status": "failed", "failure": "header: missing required column(s): address"}
    assert import_progress_text(failed) == "The import failed: header: missing required column(s): address."
