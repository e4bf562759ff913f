"""The public opt-out form's example number is one the form accepts (issue 12: it suggested
+44 7700 900123, a reserved drama number its validator refuses as unassigned)."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from backend.consent.public import example_mobile
from backend.consent.tokens import optout_form_key


@pytest.fixture
async def browser(app):
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 51000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as fresh:
        yield fresh


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return match[1]


async def test_the_number_the_form_suggests_is_accepted(browser, tenant):
    form = await browser.get("/optout", params={"workspace": optout_form_key(tenant.id)})
    assert form.status_code == 200
    suggested = re.search(r"for example (\+[\d ]+\d)", html.unescape(form.text))
    assert suggested, "the form no longer suggests a number"
    assert suggested[1] == example_mobile()
    assert "7700 900" not in form.text

    response = await browser.post(
        "/optout",
        data={
            "workspace": _hidden(form.text, "workspace"),
            "csrf_token": _hidden(form.text, "csrf_token"),
            "phone": suggested[1],
        },
    )
    assert response.status_code == 200, response.text
    assert 'class="error"' not in response.text


async def test_the_error_for_a_bad_number_suggests_an_accepted_one_too(browser, tenant):
    form = await browser.get("/optout", params={"workspace": optout_form_key(tenant.id)})
    response = await browser.post(
        "/optout",
        data={
            "workspace": _hidden(form.text, "workspace"),
            "csrf_token": _hidden(form.text, "csrf_token"),
            "phone": "+44 7700 900123",
        },
    )
    assert response.status_code == 400
    error = re.search(r'<p class="error" id="phone-error">(.*?)</p>', response.text, re.S)
    assert error and example_mobile() in html.unescape(error[1])


@pytest.mark.parametrize("region", ["", "GB", "PT", "US", "DE", "BR", "IN", "no such region"])
def test_examples_are_valid_mobile_numbers_for_any_region(region):
    from backend.audience.addresses import normalise_phone

    assert normalise_phone(example_mobile(region)).startswith("+")
