"""The typing component: who is typing in which room (memory only, sharded by room ID).

A user types in a room until their timeout passes or they say they stopped.
Every deadline of the shard sits in one timer heap (`actors.timer_heap`): a
timeout ends by itself without any client call and without a loop per user.
Nothing is persisted: a restarted shard starts with nobody typing.

**Positions.** Every change of a room's typing list takes a position from
this shard's clock, `max(last + 1, now in µs)`, and the room remembers the
position of its last change. A sync reads the clocks of the shards owning
the user's rooms (`clock`) and takes the highest reading (and at least its
`since`) as its typing position P; then each shard, asked for the rooms
changed in (since, P] (`changes`), first moves its clock up to P. So on
every shard, a change after that call gets a position above P and shows in
the next sync, and a change before it is at or below P and shows now or was
already sent: no token misses a change. Nothing here compares the clocks of
two machines, so this holds across nodes whatever their skew; the clock
only has to move forward per shard. It does, on one machine, even across a
restart (a restarted shard resumes at the wall clock, above what it handed
out). A shard restarted on a node whose clock is behind the positions it had
given out could, until the next sync moves it up, give its first changes
positions at or below tokens already handed out; those typing notices would
be missed (the next change is seen).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from actors.context import Context, now_ms
from actors.federation_sender.api import queue_edu, remote_servers_in_room
from actors.membership_reads import is_joined, joined_members
from actors.sync.api import notify_stream
from actors.timer_heap import TimerHeap
from protocol.errors import bad_json, forbidden

STREAM = "typing"
log = logging.getLogger("dendray.typing")
# Timeouts longer than this are cut: a client that crashed stops "typing" soon.
MAX_TIMEOUT_MS = 120_000
# An EDU carries no timeout: a remote user types until told otherwise or this passes.
REMOTE_TIMEOUT_MS = 30_000


def wall_clock_us() -> int:
    return time.time_ns() // 1000


class TypingService:
    def __init__(
        self,
        ctx: Context,
        shard: int,
        *,
        clock_ms: Callable[[], int] = now_ms,
        clock_us: Callable[[], int] = wall_clock_us,
    ) -> None:
        self.ctx = ctx
        self.shard = shard
        self._clock_us = clock_us
        self._clock_ms = clock_ms
        self._last = 0
        # room -> user -> deadline (ms)
        self._typing: dict[str, dict[str, int]] = {}
        # room -> position of its last change
        self._changed: dict[str, int] = {}
        self._timers: TimerHeap[tuple[str, str]] = TimerHeap(self._expire, clock_ms)
        self._wakeups: set[asyncio.Task[None]] = set()

    async def recover(self) -> None:
        """Nothing to load: typing is not persisted."""

    def _next_pos(self) -> int:
        self._last = max(self._last + 1, self._clock_us())
        return self._last

    async def clock(self) -> int:
        """The current position: every later change gets a higher one."""
        self._last = max(self._last, self._clock_us())
        return self._last

    def _move_up_to(self, pos: int) -> None:
        self._last = max(self._last, pos)

    # --- the client API -------------------------------------------------------

    async def set_typing(
        self, requester: str, room_id: str, user_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        if requester != user_id:
            raise forbidden("Cannot set the typing state of another user")
        typing = body.get("typing")
        if not isinstance(typing, bool):
            raise bad_json("'typing' must be a boolean")
        timeout = body.get("timeout")
        if typing:
            if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
                raise bad_json("'timeout' must be a non-negative integer when typing")
        async with self.ctx.pool.acquire() as conn:
            if not await is_joined(conn, room_id, user_id):
                raise forbidden("You are not joined to this room")
            servers = await remote_servers_in_room(conn, room_id, self.ctx.server_name)
        if typing:
            self.start(room_id, user_id, self._clock_ms() + min(timeout, MAX_TIMEOUT_MS))
        else:
            self.stop(room_id, user_id)
        queue_edu(self.ctx.router, servers, "m.typing",
                  {"room_id": room_id, "user_id": user_id, "typing": typing})
        return {}

    async def remote_typing(self, room_id: str, user_id: str, typing: bool) -> None:
        """An `m.typing` EDU (checked by the federation sender: the user is joined)."""
        if typing:
            self.start(room_id, user_id, self._clock_ms() + REMOTE_TIMEOUT_MS)
        else:
            self.stop(room_id, user_id)

    # --- state changes ----------------------------------------------------------

    def start(self, room_id: str, user_id: str, until_ms: int) -> None:
        users = self._typing.setdefault(room_id, {})
        new = user_id not in users
        users[user_id] = until_ms
        self._timers.schedule((room_id, user_id), until_ms)
        if new:
            self._changed_room(room_id)

    def stop(self, room_id: str, user_id: str) -> None:
        users = self._typing.get(room_id)
        if users is None or user_id not in users:
            return
        del users[user_id]
        if not users:
            del self._typing[room_id]
        self._timers.cancel((room_id, user_id))
        self._changed_room(room_id)

    async def _expire(self, keys: list[tuple[str, str]], now: int) -> None:
        for room_id, user_id in keys:
            self.stop(room_id, user_id)

    def expire_due(self) -> None:
        """End every timeout that has passed (what the timer does; tests call it directly)."""
        for room_id, user_id in self._timers.due(self._clock_ms()):
            self.stop(room_id, user_id)

    def _changed_room(self, room_id: str) -> None:
        pos = self._next_pos()
        self._changed[room_id] = pos
        self._announce(room_id, pos)

    def _announce(self, room_id: str, pos: int) -> None:
        """Wake the members' long-polls once we know who they are (not awaited: a wake-up)."""

        async def wake() -> None:
            try:
                async with self.ctx.pool.acquire() as conn:
                    members = await joined_members(conn, room_id)
            except Exception:
                # Only latency is lost: the members' syncs see the change on their next pass.
                log.exception("cannot list the members of %s to wake them", room_id)
                return
            notify_stream(self.ctx.router, STREAM, pos, members)

        task = asyncio.get_running_loop().create_task(wake())
        self._wakeups.add(task)
        task.add_done_callback(self._wakeups.discard)

    # --- read by the sync component -----------------------------------------------

    def typing_users(self, room_id: str) -> list[str]:
        return sorted(self._typing.get(room_id, {}))

    async def changes(
        self, room_ids: list[str], since: int | None, upto: int, new_rooms: list[str]
    ) -> dict[str, list[str]]:
        """The typing list of each room changed in (since, upto], and of each new room.

        Changes from now on get positions above `upto` (see the module docstring).
        """
        self._move_up_to(upto)
        out: dict[str, list[str]] = {}
        fresh = set(new_rooms)
        for room_id in room_ids:
            if room_id in fresh or since is None:
                users = self.typing_users(room_id)
                if users:
                    out[room_id] = users
                continue
            changed = self._changed.get(room_id)
            if changed is not None and since < changed <= upto:
                out[room_id] = self.typing_users(room_id)
        return out
