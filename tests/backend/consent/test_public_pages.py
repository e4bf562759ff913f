"""The public opt-out form and unsubscribe links, as a person's browser and a mailbox provider use them:
no auth, CSRF-safe, GET never unsubscribes, one-click works without cookies, every value escaped,
everything recorded workspace-wide with evidence."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from backend.consent.tokens import optout_form_key

PHONE = "+351912000001"
EMAIL = "ana@example.com"


@pytest.fixture
async def browser(app, client):
    """A fresh browser (its own cookie jar) on the running app, from a public client address."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 51000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver.local", headers={"User-Agent": "TestBrowser/1.0"}
    ) as fresh:
        yield fresh


async def _entries(workspace_id: int) -> list[dict]:
    from backend.consent.tables import OptOutEntry

    return await OptOutEntry.select().where(OptOutEntry.workspace == workspace_id).order_by(OptOutEntry.id)


async def _events(workspace_id: int) -> list[dict]:
    from backend.consent.tables import ConsentEvent

    return (
        await ConsentEvent.select()
        .where(ConsentEvent.workspace == workspace_id)
        .order_by(ConsentEvent.id)
        .output(load_json=True)
    )


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return match[1]


async def _open_form(browser: httpx.AsyncClient, workspace_id: int) -> dict[str, str]:
    response = await browser.get("/optout", params={"workspace": optout_form_key(workspace_id)})
    assert response.status_code == 200, response.text
    return {
        "workspace": _hidden(response.text, "workspace"),
        "csrf_token": _hidden(response.text, "csrf_token"),
    }


# --- the form ---------------------------------------------------------------------------------------


async def test_the_form_names_the_workspace_and_sets_a_strict_cookie(browser, tenant):
    response = await browser.get("/optout", params={"workspace": optout_form_key(tenant.id)})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Acme" in response.text
    assert '<label for="phone">' in response.text and '<label for="email">' in response.text
    assert 'name="viewport"' in response.text
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/optout" in cookie
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "<script" not in response.text and "http://" not in response.text.replace("http://testserver", "")


@pytest.mark.parametrize(
    "query", ["?workspace=999999", "?workspace=abc", "", "?workspace=-1", "bare-id", "forged"]
)
async def test_an_unknown_workspace_gets_a_friendly_404_page(browser, tenant, query):
    if query == "bare-id":  # a bare id must not reveal the workspace's name (no walking the ids)
        query = f"?workspace={tenant.id}"
    elif query == "forged":
        query = f"?workspace={tenant.id}-AAAAAAAAAAAA"
    response = await browser.get(f"/optout{query}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "could not find this opt-out form" in response.text


async def test_a_valid_phone_opts_out_workspace_wide_on_every_phone_channel(browser, client, tenant):
    fields = await _open_form(browser, tenant.id)
    response = await browser.post("/optout", data={**fields, "phone": "+351 912 000 001", "email": ""})
    assert response.status_code == 200, response.text
    assert "You are unsubscribed" in response.text
    assert PHONE in response.text

    entries = await _entries(tenant.id)
    assert [(e["channel"], e["address"]) for e in entries] == [
        ("whatsapp", PHONE),
        ("sms", PHONE),
        ("viber", PHONE),
    ]
    for entry in entries:
        assert entry["sender"] is None  # workspace-wide, always (seed 004)
        assert entry["category"] is None
        assert entry["valid_until"] is None
        assert entry["source"] == "web_form"
        assert entry["self_service"] is True
        assert entry["revoked_at"] is None

    events = await _events(tenant.id)
    assert len(events) == 3
    evidence = events[0]["evidence"]
    assert evidence["ip"] == "203.0.113.7"
    assert evidence["user_agent"] == "TestBrowser/1.0"
    assert evidence["form"] == {"phone": "+351 912 000 001", "email": ""}
    assert events[0]["actor"] == "web form"
    assert events[0]["kind"] == "opt_out"

    from backend.consent.gate import may_send

    for channel in ("sms", "whatsapp", "viber"):
        assert not (await may_send(tenant.id, channel=channel, address=PHONE, kind="marketing")).allowed


async def test_an_email_and_a_phone_together(browser, tenant):
    fields = await _open_form(browser, tenant.id)
    response = await browser.post("/optout", data={**fields, "phone": PHONE, "email": " Ana@Example.COM "})
    assert response.status_code == 200
    assert {(e["channel"], e["address"]) for e in await _entries(tenant.id)} == {
        ("whatsapp", PHONE),
        ("sms", PHONE),
        ("viber", PHONE),
        ("email", EMAIL),
    }


async def test_a_number_without_country_code_uses_the_workspace_region(browser, client, tenant):
    await client.patch("/api/v1/settings", json={"default_phone_region": "PT"}, headers=tenant.headers())
    fields = await _open_form(browser, tenant.id)
    response = await browser.post("/optout", data={**fields, "phone": "912 000 001"})
    assert response.status_code == 200
    assert {e["address"] for e in await _entries(tenant.id)} == {PHONE}


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        ({"phone": "12"}, "phone", "Enter a valid mobile number, starting with the country code"),
        ({"phone": "+351 000"}, "phone", "Enter a valid mobile number"),
        ({"email": "not-an-email"}, "email", "@"),
        ({"phone": "", "email": ""}, "phone", "Enter a mobile number or an email address"),
        ({"phone": PHONE, "email": "ana@"}, "email", ""),
        ({"phone": "1" * 65}, "phone", "at most 64"),
    ],
)
async def test_bad_input_shows_the_form_again_with_the_error_and_writes_nothing(
    browser, tenant, data, field, fragment
):
    fields = await _open_form(browser, tenant.id)
    response = await browser.post("/optout", data={**fields, **data})
    assert response.status_code == 400
    error = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', response.text, re.S)
    assert error, response.text
    assert fragment in error[1].replace("&#x27;", "'")
    assert f'id="{field}"' in response.text and 'aria-invalid="true"' in response.text
    assert "There is a problem" in response.text
    # The form can be corrected and sent again straight away.
    assert _hidden(response.text, "csrf_token")
    assert await _entries(tenant.id) == []
    assert await _events(tenant.id) == []


async def test_what_was_typed_comes_back_escaped(browser, tenant):
    fields = await _open_form(browser, tenant.id)
    response = await browser.post("/optout", data={**fields, "phone": '"><script>alert(1)</script>'})
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.text
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


@pytest.mark.parametrize("problem", ["no token", "wrong token", "no cookie", "other workspace", "expired"])
async def test_a_post_without_a_valid_csrf_token_is_refused(browser, app, make_tenant, problem):
    from backend.consent import public

    acme, globex = await make_tenant("Acme"), await make_tenant("Globex")
    fields = await _open_form(browser, acme.id)
    data = {**fields, "phone": PHONE}
    if problem == "no token":
        del data["csrf_token"]
    elif problem == "wrong token":
        data["csrf_token"] = f"{int(time.time())}.AAAAAAAAAAAAAAAAAAAAAA"
    elif problem == "no cookie":
        browser.cookies.clear()
    elif problem == "other workspace":
        data["csrf_token"] = (await _open_form(browser, globex.id))["csrf_token"]
    elif problem == "expired":
        nonce = browser.cookies.get(public.CSRF_COOKIE)
        data["csrf_token"] = public.csrf_token(nonce, acme.id, now=time.time() - public.CSRF_MAX_AGE_S - 60)
    response = await browser.post("/optout", data=data)
    assert response.status_code == 403
    assert "Load it again" in response.text
    assert await _entries(acme.id) == []


async def test_the_answer_does_not_reveal_whether_the_address_is_a_contact(browser, tenant):
    from backend.audience.tables import Contact

    fields = await _open_form(browser, tenant.id)
    stranger = await browser.post("/optout", data={**fields, "email": "nobody@example.com"})
    await Contact.insert(Contact(workspace=tenant.id, email=EMAIL, name="Ana"))
    known = await browser.post("/optout", data={**fields, "email": EMAIL})
    assert stranger.status_code == known.status_code == 200
    assert stranger.text.replace("nobody@example.com", EMAIL) == known.text


async def test_the_workspace_name_is_escaped(browser, make_tenant):
    from backend.consent.tokens import make_unsubscribe_token

    evil = await make_tenant("<script>alert('x')</script> & Co")
    form = await browser.get("/optout", params={"workspace": optout_form_key(evil.id)})
    link = await browser.get(f"/u/{make_unsubscribe_token(evil.id, 'email', EMAIL)}")
    for response in (form, link):
        assert response.status_code == 200
        assert "<script>" not in response.text
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in response.text


async def test_an_opt_out_from_the_form_is_sent_to_webhooks(browser, tenant, redis):
    from backend.webhooks.tables import WebhookDelivery, WebhookEndpoint

    await WebhookEndpoint.insert(
        WebhookEndpoint(workspace=tenant.id, url="https://93.184.215.14/hook", secret="whsec_c2VjcmV0")
    )
    fields = await _open_form(browser, tenant.id)
    await browser.post("/optout", data={**fields, "phone": PHONE})
    deliveries = await WebhookDelivery.select(WebhookDelivery.id).order_by(WebhookDelivery.id)
    assert len(deliveries) == 3
    queued = {job.decode() for job in await redis.zrange("arq:queue", 0, -1)}
    assert {f"webhook:{row['id']}:0" for row in deliveries} <= queued


async def test_form_posts_are_rate_limited_per_client(browser, app, client, tenant):
    for _ in range(20):
        assert (
            await browser.post("/optout", data={"workspace": optout_form_key(tenant.id)})
        ).status_code == 403
    limited = await browser.post("/optout", data={"workspace": optout_form_key(tenant.id)})
    assert limited.status_code == 429
    assert limited.headers["content-type"].startswith("text/html")
    assert "Too many attempts" in limited.text
    assert int(limited.headers["retry-after"]) > 0
    # Another client address has its own budget.
    other = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("198.51.100.9", 52000)),
        base_url="http://testserver.local",
    )
    async with other:
        assert (
            await other.post("/optout", data={"workspace": optout_form_key(tenant.id)})
        ).status_code == 403


# --- unsubscribe links ------------------------------------------------------------------------------


async def test_a_get_only_asks_and_never_unsubscribes(browser, tenant):
    from backend.consent.tokens import make_unsubscribe_token

    token = make_unsubscribe_token(tenant.id, "sms", PHONE)
    for _ in range(3):  # a link scanner, a preview, the person
        response = await browser.get(f"/u/{token}")
        assert response.status_code == 200
    assert "Unsubscribe from Acme marketing?" in response.text
    assert '<form method="post">' in response.text
    assert "+351••••••001" in response.text
    assert PHONE not in response.text
    assert await _entries(tenant.id) == []
    assert await _events(tenant.id) == []


async def test_the_button_unsubscribes_permanently_and_workspace_wide(browser, tenant):
    from backend.consent.tokens import make_unsubscribe_token

    token = make_unsubscribe_token(tenant.id, "email", EMAIL)
    response = await browser.post(f"/u/{token}", data={"confirm": "yes"})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    assert "a•••@example.com" in response.text

    [entry] = await _entries(tenant.id)
    assert (entry["channel"], entry["address"], entry["sender"], entry["valid_until"]) == (
        "email",
        EMAIL,
        None,
        None,
    )
    assert entry["source"] == "unsubscribe_link"
    assert entry["self_service"] is True
    [event] = await _events(tenant.id)
    assert event["evidence"]["token"] == token
    assert event["evidence"]["ip"] == "203.0.113.7"
    assert event["evidence"]["user_agent"] == "TestBrowser/1.0"
    assert event["evidence"]["one_click"] is False


async def test_rfc8058_one_click_works_without_cookies_or_csrf(app, client, tenant):
    from backend.consent.tokens import make_unsubscribe_token

    token = make_unsubscribe_token(tenant.id, "email", EMAIL)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.25", 53000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as mailbox:
        response = await mailbox.post(
            f"/u/{token}",
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 200
    [entry] = await _entries(tenant.id)
    assert (entry["channel"], entry["address"], entry["source"]) == ("email", EMAIL, "unsubscribe_link")
    [event] = await _events(tenant.id)
    assert event["evidence"]["one_click"] is True


async def test_unsubscribing_again_is_harmless(browser, tenant):
    from backend.consent.tokens import make_unsubscribe_token

    token = make_unsubscribe_token(tenant.id, "sms", PHONE)
    for _ in range(3):
        assert (await browser.post(f"/u/{token}")).status_code == 200
    active = [e for e in await _entries(tenant.id) if e["revoked_at"] is None]
    assert [(e["channel"], e["address"], e["valid_until"]) for e in active] == [("sms", PHONE, None)]


async def test_a_tampered_or_foreign_token_is_a_404_and_changes_nothing(browser, tenant):
    from backend.consent.tokens import make_unsubscribe_token

    token = make_unsubscribe_token(tenant.id, "sms", PHONE)
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    gone = make_unsubscribe_token(999_999, "sms", PHONE)  # a workspace that does not exist (any more)
    for bad in (tampered, token[:-1], gone, "nonsense"):
        for method in ("GET", "POST"):
            response = await browser.request(method, f"/u/{bad}")
            assert response.status_code == 404, (bad, method)
            assert response.headers["content-type"].startswith("text/html")
            assert "This link is not valid" in response.text
    assert await _entries(tenant.id) == []
