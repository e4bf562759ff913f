"""What a worker needs of a run's flow version and state: compiled graphs (cached) and the state codec.

Published versions never change, so a compiled graph is kept per version id for the life of the process
(bounded): a batch of 500 runs of one campaign compiles its flow once, not 500 times.
"""

from __future__ import annotations

from collections import OrderedDict
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


class VersionCache:
    """Compiled flow versions by id, least recently used first out."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._compiled: OrderedDict[int, CompiledFlow] = OrderedDict()

    async def get_many(self, version_ids: set[int]) -> dict[int, CompiledFlow]:
        missing = [version_id for version_id in version_ids if version_id not in self._compiled]
        if missing:
            rows = await FlowVersion.select(FlowVersion.id, FlowVersion.graph).where(
                FlowVersion.id.is_in(missing)
            )
            for row in rows:
                self._put(row["id"], CompiledFlow.from_graph(decode_graph(_graph(row["graph"]))))
        found: dict[int, CompiledFlow] = {}
        for version_id in version_ids:
            compiled = self._compiled.get(version_id)
            if compiled is not None:
                self._compiled.move_to_end(version_id)
                found[version_id] = compiled
        return found

    def _put(self, version_id: int, compiled: CompiledFlow) -> None:
        self._compiled[version_id] = compiled
        self._compiled.move_to_end(version_id)
        while len(self._compiled) > self.size:
            self._compiled.popitem(last=False)


def _graph(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


versions = VersionCache()
"""The process's cache (versions are immutable, so sharing it across jobs is safe)."""
