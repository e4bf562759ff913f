"""Background jobs of the workspace domain."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from arq import cron

from backend.workspaces import service

log = logging.getLogger(__name__)


async def record_credential_use(ctx: dict[str, Any], credential_id: int, at: str) -> None:
    """Stamp a key's last use (enqueued by the auth middleware at most once a minute per key)."""
    await service.record_credential_use(credential_id, datetime.fromisoformat(at))


async def purge_expired_sessions(ctx: dict[str, Any]) -> int:
    deleted = await service.purge_expired_sessions(datetime.now(UTC))
    if deleted:
        log.info("purged %d expired login sessions", deleted)
    return deleted


FUNCTIONS = [record_credential_use, purge_expired_sessions]
CRON_JOBS = [cron(purge_expired_sessions, minute={7}, unique=True)]
