"""A campaign's live stats for one open monitor page: the ui process subscribes to the api's WebSocket.

The browser never talks to the api: the ui process connects with the session's token in the
``Authorization`` header (server-side clients may; browsers would need a ticket) and hands every event to
the page, which pushes it to its tab over NiceGUI's own socket. No polling loop: the api sends a snapshot
on connect and then only what changed.

Through an api restart the feed reconnects with a growing pause and catches up from ``GET …/stats``
before the socket's first event, so the page never shows numbers older than the last answer. The feed
ends when its page goes away (the page cancels it) or when the campaign is gone or the session expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from ui.backend import ApiError, BackendUnreachable, CampaignStats, api

log = logging.getLogger(__name__)

FeedState = Literal["live", "reconnecting", "deleted", "signed_out"]
NOT_FOUND_CLOSE = 4404
"""The api closes the socket of a campaign that is not (or no longer) there with this code."""
StatsHandler = Callable[[CampaignStats], Awaitable[None] | None]
StateHandler = Callable[[FeedState], Awaitable[None] | None]

RETRY_FIRST_S = 1.0
RETRY_MOST_S = 15.0


class CampaignFeed:
    """Run :meth:`run` as a task for as long as the page is open; cancel it when the page closes."""

    def __init__(self, token: str, campaign_id: int, on_stats: StatsHandler, on_state: StateHandler) -> None:
        self.token = token
        self.campaign_id = campaign_id
        self.on_stats = on_stats
        self.on_state = on_state
        self.connections = 0
        """How many times the socket opened: more than one means it reconnected."""

    @property
    def url(self) -> str:
        return api.websocket_url(f"/api/v1/ws/campaigns/{self.campaign_id}")

    async def run(self) -> None:
        pause = RETRY_FIRST_S
        while True:
            try:
                if self.connections and not await self._catch_up():
                    return
                async with connect(
                    self.url,
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=5,
                    proxy=None,
                    user_agent_header="flowgate-ui",
                ) as socket:
                    self.connections += 1
                    pause = RETRY_FIRST_S
                    await _call(self.on_state, "live")
                    async for raw in socket:
                        if not await self._handle(raw):
                            return
            except ConnectionClosed as exc:
                if exc.rcvd is not None and exc.rcvd.code == NOT_FOUND_CLOSE:  # deleted, or never ours
                    await _call(self.on_state, "deleted")
                    return
                log.debug("campaign %s feed interrupted: %s", self.campaign_id, exc)
            except InvalidStatus:
                # The api refused the handshake: find out why over HTTP (deleted? signed out?).
                if not await self._catch_up():
                    return
            except (OSError, TimeoutError, InvalidURI, WebSocketException) as exc:
                log.debug("campaign %s feed interrupted: %s", self.campaign_id, exc)
            await _call(self.on_state, "reconnecting")
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_MOST_S)

    async def _handle(self, raw: str | bytes) -> bool:
        """Pass one event on; False when the feed has nothing more to say (the campaign was deleted)."""
        try:
            event = json.loads(raw)
        except ValueError:
            log.warning("campaign %s feed sent something that is not JSON", self.campaign_id)
            return True
        if event.get("type") == "stats":
            await _call(self.on_stats, event["data"])
        elif event.get("type") == "deleted":
            await _call(self.on_state, "deleted")
            return False
        return True

    async def _catch_up(self) -> bool:
        """Fetch the stats over HTTP; False when there is no point reconnecting."""
        try:
            stats = await api.campaign_stats(self.token, self.campaign_id)
        except BackendUnreachable:
            return True  # still restarting: try the socket again later
        except ApiError as exc:
            if exc.status == 404:
                await _call(self.on_state, "deleted")
                return False
            if exc.status == 401:
                await _call(self.on_state, "signed_out")
                return False
            return True
        await _call(self.on_stats, stats)
        return True


async def _call(handler: Callable[..., Awaitable[None] | None], *args: object) -> None:
    result = handler(*args)
    if asyncio.iscoroutine(result):
        await result


def start_feed(feed: CampaignFeed) -> asyncio.Task[None]:
    """Run the feed in the background; the returned task is what the page cancels."""
    task = asyncio.create_task(feed.run(), name=f"campaign-feed-{feed.campaign_id}")
    task.add_done_callback(_log_failure)
    return task


def _log_failure(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        exc = task.exception()
        if exc is not None:
            log.error("campaign feed stopped: %r", exc)
