"""The Litestar application factory: every route, the auth middleware, error shape and lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from litestar import Litestar, Router
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis

from backend.audience import controllers as audience
from backend.campaigns import controllers as campaigns
from backend.campaigns import tasks as campaign_tasks
from backend.config import Settings, get_settings
from backend.consent import controllers as consent
from backend.consent.categories import CategoryController
from backend.consent.public import PUBLIC_ROUTES
from backend.core.allow import answer_options
from backend.core.database import database_connection
from backend.core.edge import chain_hooks, guard_request
from backend.core.errors import EXCEPTION_HANDLERS
from backend.core.queue import connect_queue
from backend.core.text import refuse_nul_parameters
from backend.flows.controllers import FlowController
from backend.health.controllers import health
from backend.imports import controllers as imports
from backend.inbound import controllers as inbound
from backend.messages import controllers as messages
from backend.openapi import complete_openapi
from backend.previews.controllers import PreviewController
from backend.providers.registry import Providers
from backend.runs import controllers as runs
from backend.senders import controllers as senders
from backend.webhooks import controllers as webhooks
from backend.workspaces.audit_log import AuditController
from backend.workspaces.auth import BearerAuthMiddleware, provide_principal
from backend.workspaces.controllers import (
    ApiKeyController,
    AuthController,
    SettingsController,
    UserController,
)

log = logging.getLogger(__name__)

API_CONTROLLERS = [
    AuthController,
    ApiKeyController,
    UserController,
    SettingsController,
    AuditController,
    FlowController,
    PreviewController,
    *audience.CONTROLLERS,
    *imports.CONTROLLERS,
    *senders.CONTROLLERS,
    CategoryController,
    *consent.CONTROLLERS,
    *webhooks.CONTROLLERS,
    *inbound.CONTROLLERS,
    *messages.CONTROLLERS,
    *runs.CONTROLLERS,
    *campaigns.CONTROLLERS,
]


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    if not settings.redis_url:
        raise RuntimeError(
            "FLOWGATE_REDIS_URL is unset: start the api with `flowgate api`, which runs an embedded Redis"
        )
    redis_url = settings.redis_url

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with database_connection(pool_size=settings.db_pool_size):
            app.state.queue = await connect_queue(redis_url)
            app.state.http = httpx.AsyncClient(headers={"User-Agent": "Flowgate"})
            # Provider webhooks verify with the sender's provider object (its own shared client).
            app.state.providers = Providers(public_url=settings.base_public_url)
            async with contextlib.AsyncExitStack() as wiring:
                # Campaign counters move with the message statuses this process writes too.
                campaign_tasks.install(app.state.queue, wiring)
                try:
                    yield
                finally:
                    await app.state.providers.aclose()
                    await app.state.http.aclose()
                    await app.state.queue.aclose()

    api = Router(
        path="/api/v1",
        route_handlers=API_CONTROLLERS,
        middleware=[DefineMiddleware(BearerAuthMiddleware)],
        dependencies={"principal": Provide(provide_principal)},
        security=[{"bearer": []}],
    )
    # Live campaign hints from the workers arrive over Redis pub/sub (backend/campaigns/live.py).
    channels = ChannelsPlugin(
        backend=RedisChannelsPubSubBackend(redis=Redis.from_url(redis_url)),
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=100,
        subscriber_backlog_strategy="dropleft",
    )
    return Litestar(
        route_handlers=[health, api, *PUBLIC_ROUTES, *inbound.PUBLIC_ROUTES],
        lifespan=[lifespan],
        # The OpenAPI document's error responses and strict request bodies (backend/openapi.py).
        on_startup=[complete_openapi],
        plugins=[channels],
        exception_handlers=EXCEPTION_HANDLERS,
        # The edge rules, one hook for every route: NUL in a query or path parameter (core/text.py); ids beyond
        # int64, JSON bodies' content type, depth and encoding (core/edge.py); then OPTIONS with the path's real
        # Allow header (core/allow.py). A layer with its own hook drops them.
        before_request=chain_hooks(refuse_nul_parameters, guard_request, answer_options),
        stores={"rate_limit": RedisStore.with_client(url=redis_url, namespace="flowgate:rate-limit")},
        openapi_config=OpenAPIConfig(
            title="Flowgate",
            version="1.0.0",
            description="Marketing chat flows, campaigns and one consent gate for every message.",
            path="/schema",
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="An API key (fgk_…) or a login session (fgs_…)",
                    )
                }
            ),
        ),
        # Every Flowgate process shares one log format (backend/logs.py); Litestar's would replace it.
        logging_config=None,
        debug=False,
    )
