"""Autosave of the editor's draft against the real API: debounced, never over newer work, never lost."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import Tenant, free_port
from tests.ui.flow_samples import SAMPLE_GRAPH, create_flow
from ui.backend import BackendClient
from ui.components.draft_sync import DraftSync


@pytest.fixture
async def backend(live_api: str) -> AsyncIterator[BackendClient]:
    client = BackendClient()
    client.configure(live_api)
    yield client
    await client.close()


async def until(check, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the expected state was never reached")
        await asyncio.sleep(0.02)


def sync_for(backend: BackendClient, tenant: Tenant, flow: dict, graph: dict, **kwargs) -> DraftSync:
    states: list[str] = []
    sync = DraftSync(
        backend,
        tenant.keys["marketer"],
        flow["id"],
        flow["revision"],
        graph=lambda: graph,
        on_state=lambda state, detail: states.append(state),
        delay=0.2,
        **kwargs,
    )
    sync.states = states  # type: ignore[attr-defined]
    return sync


async def draft(client: httpx.AsyncClient, tenant: Tenant, flow_id: int) -> dict:
    return (await client.get(f"/api/v1/flows/{flow_id}", headers=tenant.headers())).json()


async def test_a_burst_of_changes_is_one_save_then_the_saved_draft_is_validated(
    backend: BackendClient, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    flow = await create_flow(client, tenant)
    graph = copy.deepcopy(SAMPLE_GRAPH)
    sync = sync_for(backend, tenant, flow, graph)
    for text in ("One", "Two", "Three"):
        graph["nodes"][1]["text"] = text
        sync.changed()
        await asyncio.sleep(0.05)
    assert sync.state == "pending"
    await until(lambda: sync.problems is not None and sync.state == "saved")

    stored = await draft(client, tenant, flow["id"])
    assert stored["revision"] == flow["revision"] + 1 == sync.revision
    assert stored["graph"]["nodes"][1]["text"] == "Three"
    # The sample leaves outputs open: the problems are the saved draft's, and it cannot publish.
    assert {problem["code"] for problem in sync.problems} >= {"unconnected_output"}
    assert sync.validated_revision == sync.revision and not sync.publishable


async def test_flush_saves_now_and_a_valid_draft_is_publishable(
    backend: BackendClient, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    flow = await create_flow(client, tenant)
    graph = copy.deepcopy(SAMPLE_GRAPH)
    graph["nodes"][1]["buttons"] = []
    graph["nodes"][1]["text"] = "Hi {{contact.name}}, want our news?"
    graph["nodes"][3]["ends"] = []
    graph["edges"] = [
        {"source": "start", "target": "welcome"},
        {"source": "welcome", "target": "ask"},
        {"source": "ask", "source_port": "reply", "target": "done"},
        {"source": "ask", "source_port": "timeout", "target": "done"},
    ]
    sync = sync_for(backend, tenant, flow, graph)
    sync.delay = 30  # only flush may save this soon
    sync.changed()
    sync.rename("Renamed with the graph")
    assert await sync.flush() is True
    assert sync.publishable and sync.problems == []
    stored = await draft(client, tenant, flow["id"])
    assert stored["name"] == "Renamed with the graph" and len(stored["graph"]["edges"]) == 4


async def test_a_draft_saved_elsewhere_stops_saving_instead_of_overwriting(
    backend: BackendClient, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    flow = await create_flow(client, tenant)
    elsewhere = await client.put(
        f"/api/v1/flows/{flow['id']}",
        json={"name": "Theirs", "revision": flow["revision"]},
        headers=tenant.headers(),
    )
    assert elsewhere.status_code == 200
    graph = copy.deepcopy(SAMPLE_GRAPH)
    graph["nodes"][1]["text"] = "Mine"
    sync = sync_for(backend, tenant, flow, graph)
    sync.changed()
    await until(lambda: sync.state == "conflict")
    sync.changed()  # later edits do not try again
    await asyncio.sleep(0.4)
    assert sync.state == "conflict" and not await sync.flush()
    stored = await draft(client, tenant, flow["id"])
    assert stored["name"] == "Theirs" and stored["graph"]["nodes"][1]["text"] != "Mine"


async def test_changes_wait_out_an_api_that_is_away_and_are_saved_when_it_is_back(
    live_api: str, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    flow = await create_flow(client, tenant)
    away = BackendClient()
    away.configure(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    graph = copy.deepcopy(SAMPLE_GRAPH)
    graph["nodes"][1]["text"] = "Kept while the API was away"
    sync = sync_for(away, tenant, flow, graph)
    try:
        sync.changed()
        await until(lambda: sync.state == "failed")
        assert not sync.is_clean
        await away.close()
        away.configure(live_api)  # the API is back: the retry finds it
        await until(lambda: sync.state == "saved", seconds=15)
    finally:
        await away.close()
    stored = await draft(client, tenant, flow["id"])
    assert stored["graph"]["nodes"][1]["text"] == "Kept while the API was away"
    assert "failed" in sync.states and sync.states[-1] == "saved"
