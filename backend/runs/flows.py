"""What a worker needs of a run's flow version and state: compiled graphs (cached) and the state codec.

Published versions never change, so a compiled graph is kept per version id for the life of the process
(bounded): a batch of 500 runs of one campaign compiles its flow once, not 500 times.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from backend.flows.tables import FlowVersion
from flows.graph import CompiledFlow
from flows.run import Event, RunState
from flows.schema import decode_graph

CACHE_SIZE = 256

_state_encoder = msgspec.json.Encoder()
_state_decoder = msgspec.json.Decoder(RunState)
_event_decoder = msgspec.json.Decoder(Event)


def encode_state(state: RunState) -> str:
    return _state_encoder.encode(state).decode()


def decode_state(raw: str | bytes | None) -> RunState | None:
    return None if raw is None else _state_decoder.decode(raw)


def encode_event(event: Event) -> str:
    return _state_encoder.encode(event).decode()


def decode_event(raw: str | bytes) -> Event:
    return _event_decoder.decode(raw)


@dataclass(frozen=True, slots=True)
class Version:
    """A published version as runs need it: its compiled graph and whose it is."""

    id: int
    flow_id: int
    workspace_id: int
    published_at: datetime
    compiled: CompiledFlow


class VersionCache:
    """Compiled flow versions by id, least recently used first out.

    Every look-up reads the versions' identities (flow, workspace, publication time: one small query)
    and compiles again when they differ from what is cached: an id can come back for another version
    (SQLite reuses the highest id after a deletion), and a cache must never run one flow's graph for
    another (or another workspace's) run.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._versions: OrderedDict[int, Version] = OrderedDict()

    async def get_many(self, version_ids: set[int]) -> dict[int, Version]:
        if not version_ids:
            return {}
        stamps = await FlowVersion.select(
            FlowVersion.id, FlowVersion.flow, FlowVersion.workspace, FlowVersion.published_at
        ).where(FlowVersion.id.is_in(list(version_ids)))
        stale = [
            row["id"]
            for row in stamps
            if (cached := self._versions.get(row["id"])) is None
            or (cached.flow_id, cached.workspace_id, cached.published_at)
            != (row["flow"], row["workspace"], row["published_at"])
        ]
        if stale:
            rows = await FlowVersion.select(
                FlowVersion.id,
                FlowVersion.flow,
                FlowVersion.workspace,
                FlowVersion.published_at,
                FlowVersion.graph,
            ).where(FlowVersion.id.is_in(stale))
            for row in rows:
                self._put(
                    Version(
                        id=row["id"],
                        flow_id=row["flow"],
                        workspace_id=row["workspace"],
                        published_at=row["published_at"],
                        compiled=CompiledFlow.from_graph(decode_graph(_graph(row["graph"]))),
                    )
                )
        found: dict[int, Version] = {}
        for row in stamps:
            version = self._versions.get(row["id"])
            if version is not None:
                self._versions.move_to_end(row["id"])
                found[row["id"]] = version
        return found

    def clear(self) -> None:
        self._versions.clear()

    def _put(self, version: Version) -> None:
        self._versions[version.id] = version
        self._versions.move_to_end(version.id)
        while len(self._versions) > self.size:
            self._versions.popitem(last=False)


def _graph(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


versions = VersionCache()
"""The process's cache (versions are immutable, so sharing it across jobs is safe)."""
