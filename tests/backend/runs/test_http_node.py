"""HTTP request nodes: the run waits while a worker job makes the call through the outbound guard,
keeps the chosen response fields and goes on along ``success``, or along ``failure`` when the call
fails, is refused or answers an error."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest_asyncio
from aiohttp import web

from backend.runs import service
from tests.backend.campaigns.helpers import phone, sandbox_sender, work
from tests.backend.runs.helpers import (
    create_contact,
    edge,
    events_of,
    flow_graph,
    message,
    node,
    outbound_of,
    patch_settings,
    ports,
    publish,
    queue_for,
    run_row,
    soon,
    started,
)


@dataclass
class Crm:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest_asyncio.fixture(loop_scope="session")
async def crm() -> AsyncIterator[Crm]:
    """A customer API on 127.0.0.1: ``/customers/{phone}`` answers JSON, ``/broken`` a 500, ``/moved`` a
    redirect to a customer, ``/slow`` after 1.5 seconds."""
    server = Crm(url="")

    async def customer(request: web.Request) -> web.Response:
        body = await request.text()
        server.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "raw_path": request.raw_path,
                "headers": dict(request.headers),
                "body": body,
            }
        )
        return web.json_response({"customer": {"tier": "gold", "points": 1200, "tags": ["vip", "eu"]}})

    async def broken(request: web.Request) -> web.Response:
        server.requests.append({"method": request.method, "path": request.path})
        return web.json_response({"error": "database down"}, status=500)

    async def moved(request: web.Request) -> web.Response:
        server.requests.append({"method": request.method, "path": request.path})
        raise web.HTTPFound("/customers/redirected")

    async def slow(request: web.Request) -> web.Response:
        server.requests.append({"method": request.method, "path": request.path})
        await asyncio.sleep(1.5)
        return web.json_response({"customer": {"tier": "late"}})

    app = web.Application()
    app.router.add_route("*", "/customers/{phone}", customer)
    app.router.add_route("*", "/broken", broken)
    app.router.add_route("*", "/moved", moved)
    app.router.add_route("*", "/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lookup_graph(url: str, **request: Any) -> dict:
    return flow_graph(
        [
            node("start", "start", trigger="api"),
            node(
                "http_request",
                "lookup",
                url=url,
                save=[
                    {"variable": "tier", "path": "customer.tier"},
                    {"variable": "points", "path": "customer.points"},
                    {"variable": "first_tag", "path": "customer.tags.0"},
                ],
                **{"timeout_seconds": 5, **request},
            ),
            message(
                "ok", "You are {{vars.tier}} ({{vars.points}} points, {{vars.first_tag}})", "transactional"
            ),
            message("oops", "Lookup failed", "transactional"),
            node("end", "end"),
        ],
        [
            edge("start", "lookup"),
            edge("lookup", "ok", "success"),
            edge("lookup", "oops", "failure"),
            edge("ok", "end"),
            edge("oops", "end"),
        ],
    )


async def start_lookup(client, tenant, url: str, **request: Any) -> dict:
    flow = await publish(client, tenant, lookup_graph(url, **request))
    sender = await sandbox_sender(client, tenant)
    contact = await create_contact(client, tenant, phone=phone(1), name='Ana "the boss" & co')
    return await started(client, tenant, flow["id"], sender["id"], contact_id=contact["id"])


async def test_a_successful_call_saves_fields_and_goes_on_along_success(client, tenant, redis_url, crm):
    await patch_settings(client, tenant, allow_private_urls=True)
    run = await start_lookup(client, tenant, crm.url + "/customers/{{contact.phone}}")
    assert run["status"] == "waiting"
    assert run["waiting"]["kind"] == "http" and run["waiting"]["node_id"] == "lookup"
    row = await run_row(run["id"])
    assert row["waiting_kind"] == "http" and row["pending_http"]
    assert crm.requests == []  # the API answered before any call: a worker job makes it

    await work(redis_url)

    (call,) = crm.requests
    assert call["method"] == "GET"
    assert call["path"] == f"/customers/{phone(1)}"
    assert call["raw_path"] == "/customers/%2B351910000001"  # the value is escaped in the URL
    row = await run_row(run["id"])
    assert row["status"] == "completed"
    assert ("lookup", "success") in ports(row)
    assert row["pending_http"] is None and row["waiting_kind"] is None
    assert row["decoded"].vars == {"tier": "gold", "points": 1200, "first_tag": "vip"}
    (sent,) = await outbound_of(run["contact_id"])
    assert sent["text"] == "You are gold (1200 points, vip)"
    (event,) = await events_of(run["id"])
    assert (event["kind"], event["status"]) == ("http_result", "applied")

    listed = await client.get(f"/api/v1/contacts/{run['contact_id']}/runs", headers=tenant.headers())
    assert listed.json()["items"][0]["variables"]["tier"] == "gold"


async def test_a_post_carries_its_headers_and_an_escaped_json_body(client, tenant, redis_url, crm):
    import json

    await patch_settings(client, tenant, allow_private_urls=True)
    run = await start_lookup(
        client,
        tenant,
        crm.url + "/customers/lookup",
        method="POST",
        headers={"Content-Type": "application/json", "X-Contact": "{{contact.name}}"},
        body='{"name": "{{contact.name}}", "phone": "{{contact.phone}}"}',
    )
    await work(redis_url)
    (call,) = crm.requests
    assert call["method"] == "POST"
    assert json.loads(call["body"]) == {"name": 'Ana "the boss" & co', "phone": phone(1)}
    assert call["headers"]["X-Contact"] == 'Ana "the boss" & co'
    assert (await run_row(run["id"]))["status"] == "completed"
    assert [m["text"] for m in await outbound_of(run["contact_id"])] == ["You are gold (1200 points, vip)"]


async def test_an_error_answer_goes_along_failure(client, tenant, redis_url, crm):
    await patch_settings(client, tenant, allow_private_urls=True)
    run = await start_lookup(client, tenant, crm.url + "/broken")
    await work(redis_url)
    assert [r["path"] for r in crm.requests] == ["/broken"]
    row = await run_row(run["id"])
    assert row["status"] == "completed" and ("lookup", "failure") in ports(row)
    assert "tier" not in row["decoded"].vars
    assert [m["text"] for m in await outbound_of(run["contact_id"])] == ["Lookup failed"]


async def test_a_redirect_is_not_followed_and_goes_along_failure(client, tenant, redis_url, crm):
    await patch_settings(client, tenant, allow_private_urls=True)
    run = await start_lookup(client, tenant, crm.url + "/moved")
    await work(redis_url)
    assert [r["path"] for r in crm.requests] == ["/moved"]  # the redirect's target is never called
    row = await run_row(run["id"])
    assert row["status"] == "completed" and ("lookup", "failure") in ports(row)


async def test_no_answer_within_the_timeout_goes_along_failure(client, tenant, redis_url, crm):
    await patch_settings(client, tenant, allow_private_urls=True)
    run = await start_lookup(client, tenant, crm.url + "/slow", timeout_seconds=0.5)
    await work(redis_url)
    assert [r["path"] for r in crm.requests] == ["/slow"]
    row = await run_row(run["id"])
    assert row["status"] == "completed" and ("lookup", "failure") in ports(row)
    assert "tier" not in row["decoded"].vars
    assert [m["text"] for m in await outbound_of(run["contact_id"])] == ["Lookup failed"]


async def test_a_refused_connection_goes_along_failure(client, tenant, redis_url):
    await patch_settings(client, tenant, allow_private_urls=True)
    run = await start_lookup(client, tenant, f"http://127.0.0.1:{closed_port()}/customers/1")
    await work(redis_url)
    row = await run_row(run["id"])
    assert row["status"] == "completed" and ("lookup", "failure") in ports(row)
    assert [m["text"] for m in await outbound_of(run["contact_id"])] == ["Lookup failed"]


async def test_a_private_address_is_refused_unless_the_workspace_allows_it(client, tenant, redis_url, crm):
    settings = (await client.get("/api/v1/settings", headers=tenant.headers())).json()
    assert settings["allow_private_urls"] is False
    run = await start_lookup(client, tenant, crm.url + "/customers/{{contact.phone}}")
    await work(redis_url)
    assert crm.requests == []  # never called
    row = await run_row(run["id"])
    assert row["status"] == "completed" and ("lookup", "failure") in ports(row)
    assert [m["text"] for m in await outbound_of(run["contact_id"])] == ["Lookup failed"]
    (event,) = await events_of(run["id"])
    assert "refused" in event["event"]


async def test_a_lost_http_job_is_issued_again_by_the_sweeper(client, tenant, redis, redis_url, crm):
    await patch_settings(client, tenant, allow_private_urls=True)
    run = await start_lookup(client, tenant, crm.url + "/customers/{{contact.phone}}")
    await redis.flushdb()  # the call_http job is gone
    await work(redis_url)
    assert crm.requests == [] and (await run_row(run["id"]))["waiting_kind"] == "http"

    async with queue_for(redis_url) as queue:
        assert (await service.sweep(queue, now=soon(seconds=5)))["http"] == 0  # it may still be running
        assert (await service.sweep(queue, now=soon(minutes=5), older_than=timedelta(0)))["http"] == 1
    await work(redis_url)
    assert len(crm.requests) == 1
    assert (await run_row(run["id"]))["status"] == "completed"
    assert [m["text"] for m in await outbound_of(run["contact_id"])] == ["You are gold (1200 points, vip)"]


async def test_an_http_job_that_runs_twice_moves_the_run_once(client, tenant, redis_url, crm):
    await patch_settings(client, tenant, allow_private_urls=True)
    run = await start_lookup(client, tenant, crm.url + "/customers/{{contact.phone}}")
    row = await run_row(run["id"])
    import json

    request = json.loads(row["pending_http"])
    async with queue_for(redis_url) as queue:
        await queue.enqueue_job("call_http", run["id"], request, _job_id="http-again")
    await work(redis_url)
    async with queue_for(redis_url) as queue:
        await queue.enqueue_job("call_http", run["id"], request, _job_id="http-late")
    await work(redis_url)

    assert 1 <= len(crm.requests) <= 2  # at least once; a late job finds the run moved on
    assert (await run_row(run["id"]))["status"] == "completed"
    assert [m["text"] for m in await outbound_of(run["contact_id"])] == ["You are gold (1200 points, vip)"]
    assert [e["kind"] for e in await events_of(run["id"])] == ["http_result"]


async def test_a_stored_request_that_does_not_decode_ends_along_failure_not_retried(
    client, tenant, redis, redis_url, crm
):
    """Issue 14, item 4: a call_http job that raised left the run waiting, and the sweeper issued the same
    poison request again every few minutes for ever. Its error is now the call's answer."""
    import json

    await patch_settings(client, tenant, allow_private_urls=True)
    run = await start_lookup(client, tenant, crm.url + "/customers/{{contact.phone}}")
    await redis.flushdb()  # only the poison job below runs
    request = json.loads((await run_row(run["id"]))["pending_http"])
    poison = {**request, "headers": {"X-Tier": {"not": "a string"}}}
    async with queue_for(redis_url) as queue:
        await queue.enqueue_job("call_http", run["id"], poison, _job_id="http-poison")
    await work(redis_url)

    assert crm.requests == []
    row = await run_row(run["id"])
    assert row["status"] == "completed" and ("lookup", "failure") in ports(row)
    assert [m["text"] for m in await outbound_of(run["contact_id"])] == ["Lookup failed"]
    (event,) = await events_of(run["id"])
    assert "not a valid HTTP request" in event["event"]
    async with queue_for(redis_url) as queue:
        assert (await service.sweep(queue, now=soon(minutes=5), older_than=timedelta(0)))["http"] == 0
