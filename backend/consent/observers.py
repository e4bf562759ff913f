"""Who hears of a consent event as it is written: the live counters of the campaign it answers.

The ledger calls :func:`notify` with every event it appends, inside the transaction that writes it (so a
count kept from it is committed, or rolled back, with the opt-out itself). The event is the JSON its
webhooks carry; ``evidence`` holds what the caller knew (a campaign reply's ``campaign_id`` and
``message_ref``, a flow step's ``campaign_id`` and ``node_id``). Consent knows nothing of campaigns
beyond those ids.
"""

from __future__ import annotations

from typing import Any, Protocol


class ConsentObserver(Protocol):
    async def consent_recorded(self, workspace_id: int, event: dict[str, Any]) -> None: ...


_observers: list[ConsentObserver] = []


def add(observer: ConsentObserver) -> None:
    if all(existing is not observer for existing in _observers):
        _observers.append(observer)


def remove(observer: ConsentObserver) -> None:
    _observers[:] = [existing for existing in _observers if existing is not observer]


async def notify(workspace_id: int, event: dict[str, Any]) -> None:
    for observer in list(_observers):
        await observer.consent_recorded(workspace_id, event)
