"""Outbound webhooks: which endpoints get an event, and handing deliveries to the worker.

Outbox pattern: :func:`emit` runs inside the caller's transaction and only writes delivery rows, so an
event and its deliveries commit together; :func:`dispatch` runs after the commit and enqueues them.
A sweeper re-enqueues due deliveries, so a lost Redis job delays a delivery but never loses it.
"""

from __future__ import annotations

from typing import Any


async def emit(workspace_id: int, event_type: str, data: dict[str, Any]) -> list[int]:
    """Create one pending delivery per enabled endpoint subscribed to ``event_type``; returns their ids."""
    raise NotImplementedError  # filled in by the webhooks work


async def dispatch(queue: Any, delivery_ids: list[int]) -> None:
    """Enqueue delivery jobs for rows :func:`emit` created (call after the transaction commits)."""
    raise NotImplementedError
