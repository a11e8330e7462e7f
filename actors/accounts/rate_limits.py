"""Token-bucket rate limits kept in the shard's memory.

A bucket holds up to `burst` requests and refills at `per_second`. Users are
limited on their own shard and client IPs on the shard of the IP string, so
each key has exactly one bucket in the cluster. Losing the buckets when an
actor restarts only forgives recent requests.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from protocol.errors import limit_exceeded

# How many idle buckets may pile up before full ones are swept away.
SWEEP_THRESHOLD = 10_000


class RateLimiter:
    def __init__(
        self, per_second: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_second
        self._burst = float(max(1, burst))
        self._clock = clock
        # key -> (tokens left, time of that count)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._sweep_at = SWEEP_THRESHOLD

    def check(self, key: str) -> None:
        """Take one request from `key`'s bucket, or raise 429 M_LIMIT_EXCEEDED."""
        now = self._clock()
        tokens = self._level(key, now)
        if tokens < 1.0:
            wait_ms = math.inf if self._rate <= 0 else (1.0 - tokens) / self._rate * 1000
            raise limit_exceeded(int(min(math.ceil(wait_ms), 2**31 - 1)))
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > self._sweep_at:
            self._sweep(now)

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self._burst, now))
        return min(self._burst, tokens + (now - at) * self._rate)

    def _sweep(self, now: float) -> None:
        # A full bucket is the same as no bucket.
        full = [key for key in self._buckets if self._level(key, now) >= self._burst]
        for key in full:
            del self._buckets[key]
        # Many busy keys: sweep again only once their number has doubled.
        self._sweep_at = max(SWEEP_THRESHOLD, 2 * len(self._buckets))
