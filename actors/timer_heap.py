"""One timer per actor for many deadlines: a heap of (when, key) and a single task.

Typing timeouts and presence transitions each need a deadline per user (or
per user and room). Instead of a task or a polling loop per key, an actor
keeps them all in one heap and one asyncio task sleeps until the earliest;
an idle actor with thousands of keys and no deadline due does no work.

`schedule(key, when_ms)` replaces the key's deadline (stale heap entries are
skipped when they surface); `cancel(key)` drops it. When deadlines are due,
the task calls `on_due(keys, now_ms)` with them. Time comes from an injected
clock, so services can be tested without waiting: `due(now_ms)` pops what is
due at any given time.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
log = logging.getLogger("dendray.timers")


class TimerHeap(Generic[K]):
    def __init__(
        self,
        on_due: Callable[[list[K], int], Awaitable[None]],
        clock: Callable[[], int],
    ) -> None:
        self._on_due = on_due
        self._clock = clock
        self._heap: list[tuple[int, int, K]] = []
        self._deadlines: dict[K, int] = {}
        self._seq = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._deadlines)

    def deadline(self, key: K) -> int | None:
        return self._deadlines.get(key)

    def schedule(self, key: K, when_ms: int) -> None:
        earliest = self._heap[0][0] if self._heap else None
        self._deadlines[key] = when_ms
        self._seq += 1
        heapq.heappush(self._heap, (when_ms, self._seq, key))
        if earliest is None or when_ms < earliest:
            self._wake.set()
        self._ensure_task()
        # Stale entries pile up when keys are rescheduled often: rebuild now and then.
        if len(self._heap) > 2 * len(self._deadlines) + 1024:
            self._heap = [(w, i, k) for w, i, k in self._heap if self._deadlines.get(k) == w]
            heapq.heapify(self._heap)

    def cancel(self, key: K) -> None:
        self._deadlines.pop(key, None)

    def due(self, now_ms: int) -> list[K]:
        """Pop the keys whose deadline is at or before `now_ms`."""
        out: list[K] = []
        while self._heap and self._heap[0][0] <= now_ms:
            when, _, key = heapq.heappop(self._heap)
            if self._deadlines.get(key) == when:
                del self._deadlines[key]
                out.append(key)
        return out

    def _next_live(self) -> int | None:
        while self._heap and self._deadlines.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            nxt = self._next_live()
            if nxt is None:
                # Nothing scheduled: sleep until a schedule() wakes us.
                await self._wake.wait()
                continue
            delay = (nxt - self._clock()) / 1000
            if delay > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except TimeoutError:
                    pass
                continue
            now = self._clock()
            keys = self.due(now)
            if keys:
                try:
                    await self._on_due(keys, now)
                except Exception:
                    # A failed transition must not stop every later one.
                    log.exception("timer callback failed for %d keys", len(keys))

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
