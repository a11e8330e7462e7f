"""Waking long-polling `/sync` requests when something new exists for their user.

Room servers call `on_new_event(writer, pos, room_id, user_ids)` after each
commit, fire and forget; the owners of the other streams (typing, receipts,
presence, account data, to-device, device lists: `actors/sync/streams.py`)
call `on_stream(stream, pos, user_ids)` the same way, with the position the
change has in that stream. The notifier keeps the highest position it has
heard of per writer (this shard's view of "now", never ahead of what is
committed, since a writer notifies only after committing and commits in
order) and wakes the waiters of those users.

A waiter is registered *before* the sync reads the database, and records
every notification for its user from then on. After computing an empty
response at the snapshot `now`, the sync waits until a recorded
notification is past `now` for its writer: a notification that arrived
while the database was being read is not lost, and one for an event the
response already covered does not end the wait. Stream notifications follow
the same rule against the snapshot's position of their stream. A lost notification costs
latency (up to the timeout), never data: the response is always read from
the database.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable

from actors.sync.sync_token import SyncToken


class Waiter:
    """One request's interest in one user's new events."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self._positions: dict[int, int] = {}
        self._streams: dict[str, int] = {}
        self._event = asyncio.Event()

    def notify(self, writer: int, pos: int) -> None:
        if pos > self._positions.get(writer, -1):
            self._positions[writer] = pos
        self._event.set()

    def notify_stream(self, stream: str, pos: int) -> None:
        if pos > self._streams.get(stream, -1):
            self._streams[stream] = pos
        self._event.set()

    def is_past(self, token: SyncToken) -> bool:
        return any(pos > token.writer_pos(w) for w, pos in self._positions.items()) or any(
            pos > token.stream_pos(s) for s, pos in self._streams.items()
        )

    async def wait_past(self, token: SyncToken, timeout_s: float) -> bool:
        """Wait until a notification past `token` arrives; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while not self.is_past(token):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            # No await between the check and clear(): a notification cannot slip in.
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), remaining)
            except TimeoutError:
                return self.is_past(token)
        return True


class Notifier:
    def __init__(self) -> None:
        self._current: dict[int, int] = {}
        self._waiters: dict[str, set[Waiter]] = defaultdict(set)

    @property
    def current(self) -> SyncToken:
        """The highest position heard of per writer."""
        if not self._current:
            return SyncToken()
        n = max(self._current) + 1
        return SyncToken(tuple(self._current.get(w, 0) for w in range(n)))

    def advance(self, token: SyncToken) -> None:
        """Learn positions read from the database (at recovery, and by each sync)."""
        for w, pos in enumerate(token.writers):
            if pos > self._current.get(w, 0):
                self._current[w] = pos

    def on_new_event(self, writer: int, pos: int, room_id: str, user_ids: Iterable[str]) -> None:
        if pos > self._current.get(writer, 0):
            self._current[writer] = pos
        for user_id in set(user_ids):
            for waiter in self._waiters.get(user_id, ()):
                waiter.notify(writer, pos)

    def on_stream(self, stream: str, pos: int, user_ids: Iterable[str]) -> None:
        for user_id in set(user_ids):
            for waiter in self._waiters.get(user_id, ()):
                waiter.notify_stream(stream, pos)

    def register(self, user_id: str) -> Waiter:
        waiter = Waiter(user_id)
        self._waiters[user_id].add(waiter)
        return waiter

    def unregister(self, waiter: Waiter) -> None:
        waiters = self._waiters.get(waiter.user_id)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[waiter.user_id]

    def waiting_users(self) -> int:
        return len(self._waiters)
