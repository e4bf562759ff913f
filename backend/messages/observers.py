"""Who hears about a flow message's status changes: the domains that host runs and count campaigns.

The gateway knows campaigns and runs only by id. When a message that belongs to one (``campaign_id`` or
``run_id`` set) changes status — the send path's write-back, a provider's status webhook — every observer
is called with the changes *inside the transaction that made them*, so counters kept from them can never
disagree with the messages table, and given a ``raw`` function that runs SQL (Piccolo ``{}``
placeholders) on that transaction's connection.

Observers register at process start (:func:`add`); the gateway works without any.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

Raw = Callable[..., Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One message moving from ``before`` to ``after`` (statuses; timestamps say which stages it reached)."""

    message_id: int
    workspace_id: int
    campaign_id: int | None
    run_id: str | None
    message_ref: str | None
    before: str
    after: str
    failure_reason: str | None
    at: datetime
    reached: frozenset[str] = frozenset()
    """Stages this change reached for the first time: any of ``sent``, ``delivered``, ``read``, ``failed``
    (a ``read`` that overtook its ``delivered`` reaches both)."""


class StatusObserver(Protocol):
    async def statuses_changed(self, changes: list[StatusChange], raw: Raw) -> None: ...


_observers: list[StatusObserver] = []


def add(observer: StatusObserver) -> None:
    """Register an observer once (registering the same object again does nothing)."""
    if all(existing is not observer for existing in _observers):
        _observers.append(observer)


def remove(observer: StatusObserver) -> None:
    _observers[:] = [existing for existing in _observers if existing is not observer]


def active() -> bool:
    return bool(_observers)


async def notify(changes: list[StatusChange], raw: Raw) -> None:
    """Tell every observer; only changes of flow or campaign messages are passed on."""
    relevant = [change for change in changes if change.campaign_id is not None or change.run_id is not None]
    if not relevant:
        return
    for observer in list(_observers):
        await observer.statuses_changed(relevant, raw)
