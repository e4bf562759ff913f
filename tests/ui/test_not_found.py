"""Unknown addresses get a page inside the app with a way back, not NiceGUI's bare "404: Not Found"."""

from __future__ import annotations

import nicegui
from nicegui.testing.user import User

from tests.conftest import Tenant
from tests.ui.conftest import log_in_and_wait


async def test_signed_out_an_unknown_address_offers_to_sign_in(user: User) -> None:
    response = await user.http_client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "There is no page at /no/such/page" in response.text
    assert "Sign in" in response.text
    assert "404: Not Found" not in response.text


async def test_signed_in_it_keeps_the_header_and_navigation_and_a_way_back(
    user: User, tenant: Tenant
) -> None:
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password)
    response = await user.http_client.get("/campaigns/12/nowhere")
    assert response.status_code == 404
    for text in ("Page not found", "Go to Flows", "Back", tenant.admin_email, "Opt-outs"):
        assert text in response.text, text


async def test_nicegui_resources_still_answer_json(user: User) -> None:
    response = await user.http_client.get(f"/_nicegui/{nicegui.__version__}/components/no-such-component")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
