"""One asyncio lock per key (a room, a user), kept only while someone holds or waits for it.

    locks = KeyedLock()
    async with locks.hold(room_id):
        ...  # one at a time per room, in arrival order

A lock is dropped when its last holder or waiter leaves, never earlier: a
released lock reports itself unlocked while the next waiter is still waking
up, and a fresh lock made for a newcomer at that moment would let the
newcomer run alongside that waiter.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Holders and waiters together.
    users: int = 0


class KeyedLock:
    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        entry = self._entries.setdefault(key, _Entry())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]
