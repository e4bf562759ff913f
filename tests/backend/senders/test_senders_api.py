"""Senders over the API as an admin sets them up: defaults, addresses per channel, keywords, limits."""

from __future__ import annotations

import pytest

from tests.backend.senders.helpers import body, create_sender, field_of


async def test_create_fills_in_the_documented_defaults(client, tenant):
    sender = await create_sender(client, tenant, "whatsapp_cloud")
    assert sender["channel"] == "whatsapp"
    assert sender["provider"] == "whatsapp_cloud"
    assert sender["address"] == "+351912345678"
    assert sender["opt_out_keywords"] == ["STOP", "UNSUBSCRIBE"]
    assert sender["opt_in_keywords"] == ["START"]
    assert sender["help_keywords"] == ["HELP", "INFO"]
    assert sender["opt_out_scope"] == "sender"
    assert sender["rate_limit_per_second"] == 80
    assert sender["confirmation_message"] == ""
    assert sender["config"]["api_base_url"] == "https://graph.facebook.com/v21.0"


async def test_read_list_and_filter(client, tenant):
    whatsapp = await create_sender(client, tenant, "whatsapp_cloud")
    sms = await create_sender(client, tenant, "sms_http")
    fetched = (await client.get(f"/api/v1/senders/{sms['id']}", headers=tenant.headers("viewer"))).json()
    assert fetched == sms
    listed = (await client.get("/api/v1/senders", headers=tenant.headers("marketer"))).json()
    assert [item["id"] for item in listed["items"]] == [whatsapp["id"], sms["id"]]
    only_sms = (await client.get("/api/v1/senders?channel=sms", headers=tenant.headers())).json()
    assert [item["id"] for item in only_sms["items"]] == [sms["id"]]
    by_name = (await client.get("/api/v1/senders?name=whats", headers=tenant.headers())).json()
    assert [item["id"] for item in by_name["items"]] == [whatsapp["id"]]
    first_page = (await client.get("/api/v1/senders?limit=1", headers=tenant.headers())).json()
    second_page = (
        await client.get(
            f"/api/v1/senders?limit=1&cursor={first_page['next_cursor']}", headers=tenant.headers()
        )
    ).json()
    assert [item["id"] for item in second_page["items"]] == [sms["id"]]
    assert second_page["next_cursor"] is None


@pytest.mark.parametrize(
    ("channel", "provider"),
    [
        ("whatsapp", "sms_http"),
        ("sms", "whatsapp_cloud"),
        ("viber", "smtp"),
        ("email", "viber"),
        ("email", "whatsapp_cloud"),
    ],
)
async def test_a_provider_of_another_channel_is_400_naming_provider(client, tenant, channel, provider):
    response = await client.post(
        "/api/v1/senders",
        json={"name": "Wrong", "channel": channel, "provider": provider, "address": "x"},
        headers=tenant.headers(),
    )
    assert response.status_code == 400
    assert field_of(response) == "provider"
    assert (await client.get("/api/v1/senders", headers=tenant.headers())).json()["items"] == []


@pytest.mark.parametrize("channel", ["whatsapp", "sms", "viber", "email"])
async def test_the_sandbox_serves_every_channel(client, tenant, channel):
    address = {"email": "demo@acme.example", "viber": "demo-bot"}.get(channel, "+351912345671")
    sender = await create_sender(client, tenant, "sandbox", channel=channel, address=address)
    assert (sender["channel"], sender["provider"]) == (channel, "sandbox")


@pytest.mark.parametrize(
    ("field", "value"),
    [("channel", "fax"), ("provider", "carrier_pigeon"), ("opt_out_scope", "everyone"), ("name", "")],
)
async def test_bad_enum_values_and_blank_names_are_400_naming_the_field(client, tenant, field, value):
    response = await client.post(
        "/api/v1/senders", json=body("sandbox", **{field: value}), headers=tenant.headers()
    )
    assert response.status_code == 400
    assert field_of(response) == field


@pytest.mark.parametrize(
    ("provider", "channel", "address"),
    [
        ("sandbox", "whatsapp", "12345"),
        ("sandbox", "sms", "not a number"),
        ("sandbox", "sms", "912345678"),  # no +country code and no default region
        ("sandbox", "email", "not-an-email"),
        ("sandbox", "email", "a@b@c.example"),
        ("sandbox", "viber", "   "),
        ("sandbox", "viber", "x" * 51),
    ],
)
async def test_bad_addresses_per_channel_are_400_naming_address(client, tenant, provider, channel, address):
    response = await client.post(
        "/api/v1/senders",
        json={"name": "Bad", "channel": channel, "provider": provider, "address": address},
        headers=tenant.headers(),
    )
    assert response.status_code == 400, response.text
    assert field_of(response) == "address"


async def test_addresses_are_stored_normalised(client, tenant):
    await client.patch("/api/v1/settings", json={"default_phone_region": "PT"}, headers=tenant.headers())
    sms = await create_sender(client, tenant, "sandbox", address="912 345 678")
    assert sms["address"] == "+351912345678"
    international = await create_sender(
        client, tenant, "sandbox", channel="whatsapp", address="0044 7911 123456"
    )
    assert international["address"] == "+447911123456"
    email = await create_sender(client, tenant, "smtp", address="  News@ACME.example ")
    assert email["address"] == "news@acme.example"
    viber = await create_sender(client, tenant, "viber", address="  Acme Shop  ")
    assert viber["address"] == "Acme Shop"


async def test_one_sender_per_channel_and_address(client, tenant):
    await client.patch("/api/v1/settings", json={"default_phone_region": "PT"}, headers=tenant.headers())
    first = await create_sender(client, tenant, "sandbox", address="+351912345678")
    again = await client.post(
        "/api/v1/senders", json=body("sandbox", address="912345678"), headers=tenant.headers()
    )
    assert again.status_code == 409
    assert field_of(again) == "address"
    # The same number on another channel is another sender.
    await create_sender(client, tenant, "sandbox", channel="whatsapp", address="+351912345678")
    other = await create_sender(client, tenant, "sandbox", address="+351912345679")
    moved = await client.patch(
        f"/api/v1/senders/{other['id']}", json={"address": "+351 912 345 678"}, headers=tenant.headers()
    )
    assert moved.status_code == 409
    assert field_of(moved) == "address"
    assert (await client.get(f"/api/v1/senders/{first['id']}", headers=tenant.headers())).json() == first


async def test_the_same_address_in_two_workspaces_is_fine(client, make_tenant):
    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    a = await create_sender(client, acme, "sandbox")
    b = await create_sender(client, globex, "sandbox")
    assert a["address"] == b["address"]


async def test_custom_keywords_are_trimmed_and_kept_as_given(client, tenant):
    sender = await create_sender(
        client,
        tenant,
        "sandbox",
        opt_out_keywords=[" Stop ", "END", "opt out"],
        opt_in_keywords=["Start", "UNSTOP"],
        help_keywords=[],
    )
    assert sender["opt_out_keywords"] == ["Stop", "END", "opt out"]
    assert sender["opt_in_keywords"] == ["Start", "UNSTOP"]
    assert sender["help_keywords"] == []


@pytest.mark.parametrize(
    ("lists", "field"),
    [
        ({"opt_out_keywords": ["STOP", "stop"]}, "opt_out_keywords"),
        ({"opt_out_keywords": ["STOP", "  Stop  "]}, "opt_out_keywords"),
        ({"opt_in_keywords": ["START", ""]}, "opt_in_keywords"),
        ({"help_keywords": ["   "]}, "help_keywords"),
        ({"opt_out_keywords": ["x" * 51]}, "opt_out_keywords"),
        ({"opt_out_keywords": ["!!!"]}, "opt_out_keywords"),
        ({"opt_in_keywords": ["START", "stop"]}, "opt_in_keywords"),  # STOP is a default opt-out word
        ({"help_keywords": ["Help", "unsubscribe"]}, "help_keywords"),
        ({"opt_out_keywords": ["STOP", "HELP"]}, "opt_out_keywords"),  # HELP is a default help word
        ({"opt_out_keywords": ["STOP", "Info"], "help_keywords": ["INFO"]}, "help_keywords"),
    ],
)
async def test_keyword_conflicts_are_400_naming_the_list(client, tenant, lists, field):
    response = await client.post("/api/v1/senders", json=body("sandbox", **lists), headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert field_of(response) == field


async def test_a_keyword_of_fifty_characters_is_fine(client, tenant):
    sender = await create_sender(client, tenant, "sandbox", opt_out_keywords=["  " + "y" * 50 + "  "])
    assert sender["opt_out_keywords"] == ["y" * 50]


async def test_patching_one_keyword_list_is_checked_against_the_others(client, tenant):
    sender = await create_sender(client, tenant, "sandbox", opt_out_keywords=["STOP", "END"])
    clash = await client.patch(
        f"/api/v1/senders/{sender['id']}",
        json={"opt_in_keywords": ["START", "end"]},
        headers=tenant.headers(),
    )
    assert clash.status_code == 400
    assert field_of(clash) == "opt_in_keywords"
    assert "END" in clash.json()["detail"] or "end" in clash.json()["detail"]
    fine = await client.patch(
        f"/api/v1/senders/{sender['id']}",
        json={"opt_in_keywords": ["START", "YES"]},
        headers=tenant.headers(),
    )
    assert fine.status_code == 200
    assert fine.json()["opt_in_keywords"] == ["START", "YES"]
    assert fine.json()["opt_out_keywords"] == ["STOP", "END"]


@pytest.mark.parametrize(
    ("channel", "provider", "expected"), [("whatsapp", "sandbox", 80), ("sms", "sandbox", 10)]
)
async def test_rate_limit_defaults_per_channel(client, tenant, channel, provider, expected):
    sender = await create_sender(client, tenant, provider, channel=channel)
    assert sender["rate_limit_per_second"] == expected


@pytest.mark.parametrize("value", [0, 1001, -5])
async def test_rate_limit_out_of_range_is_400(client, tenant, value):
    response = await client.post(
        "/api/v1/senders", json=body("sandbox", rate_limit_per_second=value), headers=tenant.headers()
    )
    assert response.status_code == 400
    assert field_of(response) == "rate_limit_per_second"


async def test_patch_changes_only_what_was_sent(client, tenant):
    sender = await create_sender(client, tenant, "sandbox", confirmation_message="You are unsubscribed.")
    response = await client.patch(
        f"/api/v1/senders/{sender['id']}",
        json={
            "name": "Renamed",
            "opt_out_scope": "workspace",
            "help_reply": "Reply STOP to stop.",
            "opt_in_confirmation_message": "Welcome back.",
            "rate_limit_per_second": 1000,
        },
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "Renamed"
    assert updated["opt_out_scope"] == "workspace"
    assert updated["help_reply"] == "Reply STOP to stop."
    assert updated["opt_in_confirmation_message"] == "Welcome back."
    assert updated["rate_limit_per_second"] == 1000
    assert updated["confirmation_message"] == "You are unsubscribed."
    assert updated["address"] == sender["address"]
    assert updated["updated_at"] > sender["updated_at"]
    fetched = (await client.get(f"/api/v1/senders/{sender['id']}", headers=tenant.headers())).json()
    assert fetched == updated


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"opt_out_scope": "global"}, "opt_out_scope"),
        ({"rate_limit_per_second": 0}, "rate_limit_per_second"),
        ({"address": "nope"}, "address"),
        ({"provider": "smtp"}, "provider"),
        ({"channel": "email"}, "channel"),
        ({"name": "   "}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_patches_are_400_naming_the_field_and_change_nothing(client, tenant, patch, field):
    sender = await create_sender(client, tenant, "sandbox")
    response = await client.patch(f"/api/v1/senders/{sender['id']}", json=patch, headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert field_of(response) == field
    assert (await client.get(f"/api/v1/senders/{sender['id']}", headers=tenant.headers())).json() == sender


async def test_sending_the_same_channel_in_a_patch_is_fine(client, tenant):
    sender = await create_sender(client, tenant, "sandbox")
    response = await client.patch(
        f"/api/v1/senders/{sender['id']}", json={"channel": "sms", "name": "Same"}, headers=tenant.headers()
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Same"


async def test_delete_removes_the_sender(client, tenant):
    sender = await create_sender(client, tenant, "sandbox")
    response = await client.delete(f"/api/v1/senders/{sender['id']}", headers=tenant.headers())
    assert response.status_code == 204
    assert (await client.get(f"/api/v1/senders/{sender['id']}", headers=tenant.headers())).status_code == 404
    assert (
        await client.delete(f"/api/v1/senders/{sender['id']}", headers=tenant.headers())
    ).status_code == 404
    # The address is free again.
    await create_sender(client, tenant, "sandbox")


async def test_changes_are_in_the_audit_log(client, tenant):
    sender = await create_sender(client, tenant, "sandbox")
    await client.patch(f"/api/v1/senders/{sender['id']}", json={"name": "Renamed"}, headers=tenant.headers())
    await client.delete(f"/api/v1/senders/{sender['id']}", headers=tenant.headers())
    events = (await client.get("/api/v1/audit-log", headers=tenant.headers())).json()["items"]
    by_action = {event["action"]: event for event in events if event["target_type"] == "sender"}
    assert set(by_action) == {"sender.created", "sender.updated", "sender.deleted"}
    assert by_action["sender.updated"]["data"]["changes"]["name"] == {"from": "Demo", "to": "Renamed"}
    assert by_action["sender.deleted"]["target_id"] == str(sender["id"])
    assert by_action["sender.deleted"]["data"]["opt_outs_widened"] == 0
