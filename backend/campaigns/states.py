"""The campaign state machine (seed 001), as one table every action is checked against.

``scheduled`` ("to be executed") → ``running`` ("in progress") ⇄ ``paused`` → ``ended``. The scheduler
moves ``scheduled`` to ``running`` at the start time and anything to ``ended`` at the end time; people
act through the API:

- suspend: only ``running`` (later messages of its flows stop);
- resume: only ``paused``, with a new start time (the campaign is ``scheduled`` again until then);
- modify: only ``scheduled`` and ``paused``;
- delete: anything but ``running``;
- end: anything not ended yet: it sends nothing more, and its statistics and report stay (deleting
  loses them).

Every refusal is a 409 whose sentence says why and what to do instead.
"""

from __future__ import annotations

from typing import Literal

from backend.core.errors import Conflict

Status = Literal["scheduled", "running", "paused", "ended"]
Action = Literal["suspend", "resume", "modify", "delete", "end"]

STATUSES: tuple[Status, ...] = ("scheduled", "running", "paused", "ended")
ALLOWED: dict[Action, frozenset[str]] = {
    "suspend": frozenset({"running"}),
    "resume": frozenset({"paused"}),
    "modify": frozenset({"scheduled", "paused"}),
    "delete": frozenset({"scheduled", "paused", "ended"}),
    "end": frozenset({"scheduled", "running", "paused"}),
}

_WHY: dict[tuple[Action, str], str] = {
    ("suspend", "scheduled"): "it has not started yet; modify or delete it instead",
    ("suspend", "paused"): "it is already paused",
    ("suspend", "ended"): "it has ended",
    ("resume", "scheduled"): "it is not paused (it waits for its start time)",
    ("resume", "running"): "it is running",
    ("resume", "ended"): "it has ended; create a new campaign to send again",
    ("modify", "running"): "it is running; suspend it first",
    ("modify", "ended"): "it has ended; create a new campaign to send again",
    ("delete", "running"): "it is running; suspend it first",
    ("end", "ended"): "it has already ended",
}

_VERB = {
    "suspend": "suspended",
    "resume": "resumed",
    "modify": "modified",
    "delete": "deleted",
    "end": "ended",
}
_ONLY = {
    "suspend": "only running campaigns can be suspended",
    "resume": "only paused campaigns can be resumed",
    "modify": "only scheduled and paused campaigns can be modified",
    "delete": "running campaigns cannot be deleted",
    "end": "an ended campaign cannot end again",
}


def allowed(action: Action, status: str) -> bool:
    return status in ALLOWED[action]


def check(action: Action, status: str, campaign_id: int) -> None:
    """Raise 409 unless ``action`` is allowed in ``status``."""
    if allowed(action, status):
        return
    why = _WHY.get((action, status), f"it is {status}")
    raise Conflict(f"campaign {campaign_id} cannot be {_VERB[action]}: {why} ({_ONLY[action]})")
