"""The rules behind the audience screens: opt-out badges and sentences, consent events and their
evidence, a group's reach in words, the compose box's two warnings, message statuses, and attribute
editing that keeps numbers numbers."""

from __future__ import annotations

import pytest

from ui.components.audience_rules import (
    address_on,
    attribute_text,
    attribute_value,
    compose_warnings,
    edited_attributes,
    entry_sentence,
    event_scope,
    event_title,
    evidence_lines,
    merge_events,
    message_body,
    opt_out_badges,
    reach_sentence,
    status_text,
)


def entry(channel: str = "sms", **fields) -> dict:
    base = {
        "id": 1,
        "channel": channel,
        "category_id": None,
        "category_name": None,
        "sender_id": None,
        "sender_name": None,
        "valid_until": None,
        "source": "keyword",
        "created_at": "2026-05-03T10:00:00Z",
    }
    return base | fields


def test_a_badge_per_channel_complete_only_when_all_marketing_from_every_sender_is_stopped() -> None:
    badges = opt_out_badges(
        [
            entry("email", category_id=4, category_name="Promotions"),
            entry("sms"),
            entry("whatsapp", sender_id=2, sender_name="Shop"),
            entry("sms", id=9, category_id=4, category_name="Promotions"),
        ]
    )
    assert [(b.channel, b.text, b.complete) for b in badges] == [
        ("whatsapp", "WhatsApp (partly)", False),
        ("sms", "SMS", True),
        ("email", "Email (partly)", False),
    ]
    assert badges[1].detail == (
        "Opted out on SMS: All marketing · every sender · permanent · replied a keyword; "
        "Promotions only · every sender · permanent · replied a keyword"
    )
    assert opt_out_badges([]) == []


def test_an_entry_reads_as_what_where_until_and_how() -> None:
    sentence = entry_sentence(
        entry(
            category_id=4,
            category_name="Promotions",
            sender_id=2,
            sender_name="Shop SMS",
            valid_until="2026-06-01T00:00:00Z",
            source="web_form",
        )
    )
    assert sentence == "Promotions only · Shop SMS only · until 1 Jun 2026 · web opt-out form"


def test_consent_events_read_with_their_scope_and_evidence_newest_first() -> None:
    opt_out = {
        "id": 3,
        "kind": "opt_out",
        "channel": "whatsapp",
        "category_id": None,
        "category_name": "",
        "sender_id": 7,
        "sender_name": "Shop WA",
        "valid_until": "2026-07-01T00:00:00Z",
    }
    opt_in = opt_out | {"id": 5, "kind": "opt_in", "channel": "sms", "sender_id": None, "valid_until": None}
    assert event_title(opt_out) == "Opted out on WhatsApp"
    assert event_title(opt_in) == "Opted back in on SMS"
    assert event_scope(opt_out) == "all marketing · sender Shop WA · until 1 Jul 2026"
    assert event_scope(opt_in) == "all marketing · every sender"
    assert [event["id"] for event in merge_events([opt_out], [opt_in], [opt_out])] == [5, 3]

    lines = evidence_lines(
        {
            "zeta": 1,
            "keyword": "STOP",
            "text": "stop pls",
            "one_click": True,
            "message_id": None,
            "ids": [1, 2],
        }
    )
    assert lines == [
        ("Message text", "stop pls"),
        ("Keyword", "STOP"),
        ("One-click unsubscribe", "yes"),
        ("Ids", "1, 2"),
        ("Zeta", "1"),
    ]


def test_a_groups_reach_in_words() -> None:
    audience = {
        "channel": "sms",
        "members": 1000,
        "eligible": 990,
        "excluded": {"opted_out": 10, "no_address": 0},
        "opt_out_filter_applied": True,
    }
    assert reach_sentence(audience) == "990 of 1,000 members — 10 opted out, 0 without a phone number"
    bypass = audience | {"channel": "email", "eligible": 995, "excluded": {"opted_out": 0, "no_address": 5}}
    assert reach_sentence(bypass | {"opt_out_filter_applied": False}) == (
        "995 of 1,000 members — 5 without an email address; the group bypasses the opt-out filter"
    )


@pytest.mark.parametrize("kind", ["conversational", "transactional"])
def test_an_opted_out_contact_is_warned_about_once_for_replies_and_notices(kind: str) -> None:
    check = {"opted_out": True, "entries": [entry("whatsapp")]}
    warnings = compose_warnings(check, kind, "whatsapp", "Ana")
    assert warnings.opted_out == (
        "Ana opted out of marketing on WhatsApp (All marketing · every sender · permanent · replied a keyword, "
        "since 3 May 2026). Transactional messages and conversational replies still go through."
    )
    assert warnings.marketing is None and not warnings.confirm_before_send


def test_choosing_marketing_for_an_opted_out_contact_warns_again_and_asks_before_sending() -> None:
    warnings = compose_warnings({"opted_out": True, "entries": []}, "marketing", "sms", "")
    assert warnings.opted_out.startswith("This contact opted out of marketing on SMS.")
    assert "will not send it" in warnings.marketing and warnings.confirm_before_send


@pytest.mark.parametrize("check", [None, {"opted_out": False, "entries": []}])
def test_nothing_is_said_when_nothing_stops_marketing(check) -> None:
    warnings = compose_warnings(check, "marketing", "sms", "Ana")
    assert (warnings.opted_out, warnings.marketing, warnings.confirm_before_send) == (None, None, False)


def test_message_statuses_and_bodies_in_words() -> None:
    assert status_text({"status": "failed", "failure_reason": "opted_out"}) == (
        "Not sent: the contact opted out of marketing"
    )
    assert status_text({"status": "failed", "failure_reason": None, "error_message": "bad number"}) == (
        "Not sent: bad number"
    )
    assert status_text({"status": "delivered"}) == "Delivered"
    assert message_body({"text": None, "template": {"name": "promo", "params": ["Ana", "20%"]}}) == (
        "Template promo (Ana, 20%)"
    )
    assert message_body({"text": None, "template": None, "button_id": "yes"}) == "Tapped the button “yes”"


def test_addresses_per_channel() -> None:
    contact = {"phone": "+351912000001", "email": None}
    assert [address_on(contact, channel) for channel in ("whatsapp", "sms", "viber", "email")] == [
        "+351912000001",
        "+351912000001",
        "+351912000001",
        None,
    ]


def test_edited_attributes_keep_their_type_and_name_bad_rows() -> None:
    assert (
        attribute_text(3) == "3" and attribute_text(["a", "b"]) == '["a", "b"]' and attribute_text("x") == "x"
    )
    assert attribute_value("4", 3) == 4
    assert attribute_value("four", 3) == "four"  # no longer a number: kept as typed
    assert attribute_value("4", "3") == "4"  # text stays text
    assert attribute_value("true") == "true"  # a new attribute is text
    values, problems = edited_attributes(
        [("visits", "4"), ("", ""), ("2nd", "x"), ("plan", "gold"), ("plan", "silver")],
        {"visits": 3},
    )
    assert values == {"visits": 4, "plan": "gold"}
    assert set(problems) == {2, 4} and "already above" in problems[4]
