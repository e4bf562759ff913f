"""A small flow for the editor tests, created through the API like a marketer's draft."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Tenant

# start -> welcome (two buttons; "Yes" leads to "ask") ; "ask" is a wait whose ports are still open.
SAMPLE_GRAPH: dict[str, Any] = {
    "format_version": 1,
    "nodes": [
        {"kind": "start", "id": "start", "label": "Start", "position": {"x": 0, "y": 80}},
        {
            "kind": "send_message",
            "id": "welcome",
            "label": "Welcome",
            "text": "Hi {{contact.first_name}} <b>not bold</b>, want our news?",
            "buttons": [{"id": "yes", "title": "Yes please"}, {"id": "no", "title": "No thanks"}],
            "position": {"x": 280, "y": 40},
        },
        {"kind": "wait_for_reply", "id": "ask", "label": "Ask why", "position": {"x": 620, "y": 0}},
        {"kind": "end", "id": "done", "label": "Done", "position": {"x": 620, "y": 240}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "source_port": "next", "target": "welcome"},
        {"id": "e2", "source": "welcome", "source_port": "button:yes", "target": "ask"},
    ],
}


async def create_flow(client: httpx.AsyncClient, tenant: Tenant, name: str = "Welcome series") -> dict:
    response = await client.post(
        "/api/v1/flows", json={"name": name, "graph": SAMPLE_GRAPH}, headers=tenant.headers()
    )
    assert response.status_code == 201, response.text
    return response.json()


# start -> hello -> done: nothing to fix, so it publishes as it is.
VALID_GRAPH: dict[str, Any] = {
    "format_version": 1,
    "nodes": [
        {"kind": "start", "id": "start", "label": "Start", "position": {"x": 0, "y": 0}},
        {
            "kind": "send_message",
            "id": "hello",
            "text": "Hi {{contact.name}}!",
            "position": {"x": 300, "y": 0},
        },
        {"kind": "end", "id": "done", "position": {"x": 600, "y": 0}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "hello"},
        {"id": "e2", "source": "hello", "target": "done"},
    ],
}


async def create_valid_flow(client: httpx.AsyncClient, tenant: Tenant, name: str = "Ready to go") -> dict:
    response = await client.post(
        "/api/v1/flows", json={"name": name, "graph": VALID_GRAPH}, headers=tenant.headers()
    )
    assert response.status_code == 201, response.text
    return response.json()
