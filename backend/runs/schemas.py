"""API shapes of flow runs: starting an API-triggered flow, and a run as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from backend.core.schemas import Input, Output

RunStatus = Literal["active", "waiting", "completed", "failed", "expired", "interrupted"]
Trigger = Literal["campaign", "keyword", "api"]

AttributeName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
AttributeValue = Annotated[str, msgspec.Meta(max_length=4096)] | int | float | bool | None


class RunStart(Input, kw_only=True):
    """``POST /api/v1/flows/{id}/runs``: who (``contact_id``, or ``to`` to find or create the contact),
    through which sender, and attributes the run sees as ``{{contact.<name>}}`` (not saved on the
    contact: PATCH the contact for that)."""

    sender_id: int
    contact_id: int | None = None
    to: Annotated[str, msgspec.Meta(min_length=1, max_length=254)] | None = None
    attributes: Annotated[dict[AttributeName, AttributeValue], msgspec.Meta(max_length=100)] = {}


class Waiting(Output):
    kind: Literal["reply", "buttons", "timer", "http"]
    node_id: str
    until: datetime | None = None


class RunOut(Output):
    id: int
    flow_id: int
    flow_version: int
    campaign_id: int | None
    contact_id: int
    sender_id: int | None
    trigger: Trigger
    entry: int
    status: RunStatus
    current_node: str | None
    waiting: Waiting | None
    variables: dict[str, Any]
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    ended_reason: str
    """Why it ended: the flow's own reason, ``campaign_ended``, ``flow_deleted``, or ``step_error`` when
    stepping it failed on every attempt (see ``last_error``)."""
    failures: int
    """Attempts to step the run that failed; at 5 it ends ``failed`` with ``step_error``."""
    last_error: str
    """The latest failed attempt's error (``<type>: <message>``), empty when none failed."""
