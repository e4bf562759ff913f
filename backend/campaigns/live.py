"""The live monitor's feed: ``/api/v1/ws/campaigns/{id}``, a WebSocket of stats snapshots.

Workers publish a hint on ``flowgate:campaign:<id>`` (Redis pub/sub, received through Litestar's
channels plugin) when a campaign's counters move. The socket answers with the counters themselves, read
from the database at most once a second while hints come, and every :data:`REFRESH_S` seconds anyway:
pub/sub keeps no history, so a lost hint (a restart, a reconnect) costs at most one refresh, and what a
monitor shows is always the database's truth. Each event is ``{"type": "stats", "data": <stats>}``,
sent only when something changed.

Authentication: the ``Authorization: Bearer`` header (server-side clients, such as the ui process), or
for browsers, which cannot set headers on a WebSocket, ``?ticket=`` from ``POST
/api/v1/campaigns/{id}/live-tickets`` (:mod:`backend.workspaces.tickets`): single use, valid for a minute,
bound to the campaign. An API key never goes in the URL (URLs end up in access logs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.channels import ChannelsPlugin
from litestar.exceptions import NotAuthorizedException, WebSocketDisconnect
from litestar.params import FromPath

from backend.campaigns import service, stats
from backend.core.errors import NotFound
from backend.runs.flows import versions
from backend.workspaces.auth import Principal, allow
from backend.workspaces.roles import Role

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 1.0
"""At most one event a second per socket, however fast the hints come."""
REFRESH_S = 3.0
NOT_FOUND_CLOSE = 4404
"""The close code for a campaign that is not there, or not in the caller's workspace."""


def ticket_resource(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


# --- the feed ---------------------------------------------------------------------------------------


async def current_stats(workspace_id: int, campaign_id: int) -> dict[str, Any]:
    """The stats snapshot of one campaign (``GET …/stats`` and every event)."""
    row = await service.get_row(workspace_id, campaign_id)
    return await stats.snapshot(row, await graph_edges(row))


async def graph_edges(row: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(source, port, target) of the version the campaign runs (or would pin), for the edge counts."""
    version_id = row["flow_version"]
    if version_id is None:
        version = await service.latest_manual_version(row["flow"])
        version_id = version["id"] if version else None
    if version_id is None:
        return []
    version = (await versions.get_many({version_id})).get(version_id)
    if version is None:
        return []
    return [(source, port, target) for (source, port), target in version.compiled.targets.items()]


@websocket("/ws/campaigns/{campaign_id:int}", guards=[allow(read=Role.viewer)])
async def campaign_feed(socket: WebSocket, campaign_id: FromPath[int]) -> None:
    principal: Principal = socket.scope["user"]
    auth = socket.scope.get("auth")
    ticket_for = auth.get("ticket_for") if isinstance(auth, dict) else None
    if ticket_for is not None and ticket_for != ticket_resource(campaign_id):
        raise NotAuthorizedException("this ticket was issued for another campaign")
    try:
        await service.get_row(principal.workspace_id, campaign_id)
    except NotFound as exc:
        # Accepted, then closed with 4404 (the WebSocket way of saying 404): refused at the handshake, a
        # client could not tell "no such campaign here" from "bad credentials" (both 403).
        await socket.accept()
        await socket.close(code=NOT_FOUND_CLOSE, reason=exc.detail[:120])
        return
    channels = socket.app.plugins.get(ChannelsPlugin)
    await socket.accept()
    subscriber = await channels.subscribe(f"{stats.CHANNEL_PREFIX}{campaign_id}")
    closed = asyncio.Event()

    async def watch_close() -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                await socket.receive_data(mode="text")
        closed.set()

    hinted = asyncio.Event()

    async def on_hint(_: bytes) -> None:
        hinted.set()

    watcher = asyncio.create_task(watch_close())
    try:
        async with subscriber.run_in_background(on_hint, join=False):
            await _stream(socket, principal.workspace_id, campaign_id, hinted, closed)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await channels.unsubscribe(subscriber)


async def _stream(
    socket: WebSocket, workspace_id: int, campaign_id: int, hinted: asyncio.Event, closed: asyncio.Event
) -> None:
    last_sent: bytes | None = None
    loop = asyncio.get_running_loop()
    while not closed.is_set():
        started = loop.time()
        hinted.clear()
        try:
            data = await current_stats(workspace_id, campaign_id)
        except NotFound:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await socket.send_json({"type": "deleted", "campaign_id": campaign_id})
                await socket.close(code=1000, reason="the campaign was deleted")
            return
        fingerprint = msgspec.json.encode({k: v for k, v in data.items() if k != "updated_at"})
        if fingerprint != last_sent:
            last_sent = fingerprint
            try:
                await socket.send_data(
                    msgspec.json.encode({"type": "stats", "data": data}).decode(), mode="text"
                )
            except (WebSocketDisconnect, RuntimeError):
                return
        # Wait for a hint or the periodic refresh, but never send twice within a second.
        await _first_of(hinted, closed, within=REFRESH_S)
        spent = loop.time() - started
        if spent < MIN_INTERVAL_S and not closed.is_set():
            await asyncio.sleep(MIN_INTERVAL_S - spent)


async def _first_of(*events: asyncio.Event, within: float) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
