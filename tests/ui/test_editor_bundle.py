"""An installation without the flow editor's bundle says how to build it instead of drawing a blank box
(issue 14, item 11). The wheel side (a wheel carries the bundle) is tests/test_wheel.py."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from nicegui.testing.user import User

from tests.conftest import Tenant
from tests.ui.conftest import log_in_and_wait, see
from tests.ui.flow_samples import create_flow


async def test_without_the_bundle_the_editor_page_says_how_to_build_it(
    user: User, tenant: Tenant, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import ui.components.flow_editor as flow_editor  # the copy this test's ui imported

    monkeypatch.setattr(flow_editor, "BUNDLE", tmp_path / "no-bundle-here")
    flow = await create_flow(client, tenant)
    await log_in_and_wait(
        user, tenant.admin_email, tenant.admin_password, path=f"/login?next=/flows/{flow['id']}"
    )

    await see(user, marker="flow-editor")
    await see(user, marker="editor-bundle-missing", content="python ui/editor/build.py")
    await see(user, marker="flow-name", content="Welcome series")  # the rest of the page still works


async def test_with_the_bundle_there_is_no_notice(
    user: User, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    import ui.components.flow_editor as flow_editor

    assert flow_editor.bundle_built(), "build the bundle first: python ui/editor/build.py"
    flow = await create_flow(client, tenant)
    await log_in_and_wait(
        user, tenant.admin_email, tenant.admin_password, path=f"/login?next=/flows/{flow['id']}"
    )
    await see(user, marker="flow-editor")
    await user.should_not_see(marker="editor-bundle-missing")
