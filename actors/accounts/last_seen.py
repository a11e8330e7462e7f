"""When and from where each device was last seen, written to the database sparingly.

The spec lets `last_seen_ts`/`last_seen_ip` be a few minutes out of date, so
a device's row is updated only when its IP changes or the stored time is
older than `WRITE_INTERVAL_MS`: one write per device per interval however
many requests it makes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import asyncpg

from actors.context import now_ms

WRITE_INTERVAL_MS = 60_000
DEFAULT_CAPACITY = 100_000


class LastSeen:
    def __init__(
        self, pool: asyncpg.Pool, clock: Callable[[], int] = now_ms,
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._capacity = capacity
        # (user, device) -> (ts, ip) last written
        self._written: OrderedDict[tuple[str, str], tuple[int, str]] = OrderedDict()

    async def touch(self, user_id: str, device_id: str, ip: str) -> None:
        now = self._clock()
        key = (user_id, device_id)
        last = self._written.get(key)
        if last is not None and last[1] == ip and now - last[0] < WRITE_INTERVAL_MS:
            return
        self._written[key] = (now, ip)
        self._written.move_to_end(key)
        while len(self._written) > self._capacity:
            self._written.popitem(last=False)
        await self._pool.execute(
            "UPDATE devices SET last_seen_ts = $3, last_seen_ip = $4"
            " WHERE user_id = $1 AND device_id = $2",
            user_id, device_id, now, ip,
        )
