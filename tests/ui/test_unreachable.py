"""When the API does not answer, every page says so plainly and offers a Retry."""

from __future__ import annotations

import pytest
from nicegui.testing.user import User

from tests.conftest import Tenant, free_port
from tests.ui.conftest import log_in_and_wait, see


@pytest.fixture
def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # bound and released: nothing listens there


# The UI process is configured with FLOWGATE_API_URL pointing at a closed port from the start.
@pytest.mark.parametrize("ui_api_url", [f"http://127.0.0.1:{free_port()}"])
async def test_login_page_explains_a_dead_api(user: User, ui_api_url: str) -> None:
    closed_url = ui_api_url
    await user.open("/login")
    await see(user, f"Flowgate's API at {closed_url} is not answering")
    await user.should_not_see(marker="login-card")
    user.find(marker="retry").click()
    await see(user, f"Flowgate's API at {closed_url} is not answering")


async def test_signed_in_pages_explain_a_dead_api(user: User, tenant: Tenant, closed_url: str) -> None:
    await log_in_and_wait(user, tenant.admin_email, tenant.admin_password)

    # The API goes away while the user is signed in.
    from ui.backend import api

    await api.close()
    api.configure(closed_url)

    await user.open("/settings")
    await see(user, f"Flowgate's API at {closed_url} is not answering")
    await see(user, marker="retry")
    await user.should_not_see(marker="workspace-name")
