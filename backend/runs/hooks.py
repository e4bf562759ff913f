"""How runs learn about campaigns without importing them: the campaigns domain installs a :class:`Bridge`.

Runs need three things from the campaign that enrolled them: whether they may move now (a paused or
ended campaign holds them), how its messages go out (its kind, category and opted-in-only toggle), and
somewhere to count what they did (the live counters). Runs of keyword and API flows have no campaign
and never ask. Without a bridge installed (a script, a unit test) campaign runs are held: nothing of a
campaign moves unless the campaigns domain says it may.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

Key = tuple[int, str, str]
"""(campaign id, node — ``""`` for the campaign's totals —, metric)."""


@dataclass(frozen=True, slots=True)
class RunPolicy:
    """What a campaign says about the runs it enrolled, read in the transaction that steps them."""

    campaign_id: int
    moving: bool
    """False while the campaign is paused, waiting for its resumed start, or ended: its runs wait."""
    kind: str = "marketing"
    """The campaign's kind; a marketing campaign makes every message of its flow marketing."""
    category_id: int | None = None
    opted_in_only: bool = True
    subject: str = ""
    """Email subject for the flow's messages: the campaign's name."""


@dataclass
class Counts:
    """Deltas of live counters, gathered while a batch runs and written with it."""

    values: dict[Key, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, campaign_id: int | None, node: str, metric: str, amount: int = 1) -> None:
        if campaign_id is not None and amount:
            self.values[(campaign_id, node, metric)] += amount

    def both(self, campaign_id: int | None, node: str | None, metric: str, amount: int = 1) -> None:
        """The campaign's total and, when known, the node's."""
        self.add(campaign_id, "", metric, amount)
        if node:
            self.add(campaign_id, node, metric, amount)

    def items(self) -> list[tuple[Key, int]]:
        """Non-zero deltas in key order (writers lock counter rows in one order: no deadlocks)."""
        return sorted((key, value) for key, value in self.values.items() if value)

    def campaigns(self) -> set[int]:
        return {key[0] for key, value in self.values.items() if value}


class Bridge(Protocol):
    async def policies(self, campaign_ids: Iterable[int]) -> dict[int, RunPolicy]:
        """The campaigns' policies, their rows share-locked for the caller's transaction (a suspend or
        end waits for it to commit, then holds what it queued). Unknown ids are missing."""
        ...

    async def record(self, counts: Counts) -> None:
        """Add the deltas to the live counters, inside the caller's transaction."""
        ...

    def changed(self, campaign_ids: Iterable[int]) -> None:
        """After a commit: these campaigns' counters moved (wakes the live monitors)."""
        ...


class _NoCampaigns:
    async def policies(self, campaign_ids: Iterable[int]) -> dict[int, RunPolicy]:
        return {}

    async def record(self, counts: Counts) -> None:
        return None

    def changed(self, campaign_ids: Iterable[int]) -> None:
        return None


_bridge: Bridge = _NoCampaigns()


def install(bridge: Bridge | None) -> None:
    """Install the process's bridge (None: the default, which holds every campaign run)."""
    global _bridge
    _bridge = bridge if bridge is not None else _NoCampaigns()


def bridge() -> Bridge:
    return _bridge
