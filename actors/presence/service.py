"""The presence component: each user's presence, its idle and offline timers (sharded by user ID).

The `presence` table holds every user's last written presence; this shard
keeps the records of its users who are not offline in memory, with one
deadline each in a single timer heap (`actors.timer_heap`). The record's
meaning at any time is a pure function (`rules.py`), evaluated on every
read; the timers only write the due transitions (online → unavailable after
`idle_after_ms` without activity, → offline `offline_after_ms` after the last
sync and activity) so that syncs deliver them. An idle shard with thousands
of users does nothing until a deadline comes.

Writes take a `presence` stream position in their transaction, then wake the
sync shards of the user and everyone sharing a room with them. A restart
reloads the users who are not offline and their deadlines; a transition due
while the shard was down is written at once.

Activity is: setting `online` (PUT), or a sync bringing an offline user
online. A `/sync` keeps its user from going offline (`user_syncing`, sent by
the sync shard with the time the request may last); `set_presence=offline`
does not mark the user online, `unavailable` marks them unavailable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from actors.context import Context, now_ms
from actors.federation_sender.api import queue_edu, remote_servers_sharing_rooms
from actors.membership_reads import users_sharing_a_room
from actors.presence.rules import (
    OFFLINE,
    ONLINE,
    STATES,
    UNAVAILABLE,
    PresenceRecord,
    effective,
    next_deadline,
    presence_content,
)
from actors.sync.api import notify_stream
from actors.timer_heap import TimerHeap
from protocol.errors import bad_json, forbidden, not_found
from protocol.identifiers import server_name_of
from sharding.hashing import shard_of
from storage.stream_positions import take_positions

STREAM = "presence"
# A transition whose write failed is tried again this much later.
RETRY_MS = 5_000
# How long a remote user's last presence update holds them online (see remote_presence).
REMOTE_HOLD_MS = 30 * 60_000
log = logging.getLogger("dendray.presence")

_UPSERT = (
    "INSERT INTO presence (user_id, state, status_msg, last_active_ts, sync_until_ts, stream_pos)"
    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id) DO UPDATE SET"
    " state = EXCLUDED.state, status_msg = EXCLUDED.status_msg,"
    " last_active_ts = EXCLUDED.last_active_ts, sync_until_ts = EXCLUDED.sync_until_ts,"
    " stream_pos = EXCLUDED.stream_pos"
)


class PresenceService:
    def __init__(self, ctx: Context, shard: int, *, clock: Callable[[], int] = now_ms) -> None:
        self.ctx = ctx
        self.shard = shard
        self.cfg = ctx.config.presence
        self._clock = clock
        # Users of this shard who are not offline, as stored (plus sync_until in memory).
        self._records: dict[str, PresenceRecord] = {}
        # sync_until_ts as last written, to write it only now and then.
        self._stored_until: dict[str, int] = {}
        self._timers: TimerHeap[str] = TimerHeap(self._on_due, clock)
        self._lock = asyncio.Lock()
        self._wakeups: set[asyncio.Task[None]] = set()

    async def recover(self) -> None:
        """Reload this shard's users who are not offline and schedule their deadlines."""
        if not self.cfg.enabled:
            return
        count = self.ctx.config.shard_count("presence")
        rows = await self.ctx.pool.fetch(
            "SELECT user_id, state, status_msg, last_active_ts, sync_until_ts FROM presence"
            f" WHERE state <> '{OFFLINE}'"
        )
        for row in rows:
            if shard_of(row["user_id"], count) == self.shard:
                rec = PresenceRecord.from_row(row)
                self._records[rec.user_id] = rec
                self._stored_until[rec.user_id] = rec.sync_until_ts
                self._schedule(rec)

    # --- the client API -------------------------------------------------------

    async def set_presence(
        self, requester: str, user_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        if requester != user_id:
            raise forbidden("Cannot set the presence of another user")
        state = body.get("presence")
        if state not in STATES:
            raise bad_json(f"'presence' must be one of {', '.join(STATES)}")
        status_msg = body.get("status_msg")
        if status_msg is not None and not isinstance(status_msg, str):
            raise bad_json("'status_msg' must be a string")
        if status_msg is not None and "\x00" in status_msg:
            raise bad_json("'status_msg' cannot contain U+0000")
        if not self.cfg.enabled:
            return {}
        async with self._lock:
            now = self._clock()
            old = await self._record(user_id)
            last_active = now if state == ONLINE or old is None else old.last_active_ts
            until = old.sync_until_ts if old is not None else 0
            await self._write([PresenceRecord(user_id, state, status_msg, last_active, until)])
        return {}

    async def get_presence(self, requester: str, user_id: str) -> dict[str, Any]:
        if not self.cfg.enabled:
            return {"presence": OFFLINE}
        if requester != user_id:
            async with self.ctx.pool.acquire() as conn:
                mates = await users_sharing_a_room(conn, requester)
            if user_id not in mates:
                raise forbidden("You are not allowed to see this user's presence")
        rec = await self._record(user_id)
        if rec is None:
            raise not_found("No presence is known for this user")
        return presence_content(rec, self._clock(), self.cfg)

    # --- called by the federation sender ------------------------------------------

    async def remote_presence(
        self, user_id: str, state: str, status_msg: str | None, last_active_ago: int
    ) -> None:
        """An `m.presence` update from the user's own server (checked by the sender).

        Their server is the authority; the record is held as if the user were
        syncing for a while, so our timers do not take them offline meanwhile
        (servers repeat the presence of users who stay online).
        """
        if not self.cfg.enabled:
            return
        async with self._lock:
            now = self._clock()
            until = now + REMOTE_HOLD_MS if state != OFFLINE else 0
            await self._write([PresenceRecord(
                user_id, state, status_msg, now - last_active_ago, until)])

    # --- called by sync shards ----------------------------------------------------

    async def user_syncing(self, user_id: str, set_presence: str, until_ms: int) -> None:
        """A /sync of the user runs until `until_ms` at the latest."""
        if not self.cfg.enabled or set_presence == OFFLINE:
            return
        async with self._lock:
            now = self._clock()
            old = await self._record(user_id)
            if old is None:
                old = PresenceRecord(user_id, OFFLINE, None, now)
            until = max(until_ms, old.sync_until_ts)
            current = effective(old, now, self.cfg)
            if current.state == OFFLINE:
                # Coming back: a sync asking for "online" is activity.
                state = ONLINE if set_presence == ONLINE else UNAVAILABLE
                last_active = now if state == ONLINE else old.last_active_ts
                await self._write([PresenceRecord(
                    user_id, state, old.status_msg, last_active, until)])
            elif set_presence == UNAVAILABLE and current.state == ONLINE:
                await self._write([replace(current, state=UNAVAILABLE, sync_until_ts=until)])
            elif current.state != old.state:
                # A due transition the timer has not written yet: write it now.
                await self._write([replace(current, sync_until_ts=until)])
            else:
                await self._extend(replace(old, sync_until_ts=until))

    # --- records, writes and timers ------------------------------------------------

    async def _record(self, user_id: str) -> PresenceRecord | None:
        rec = self._records.get(user_id)
        if rec is not None:
            return rec
        row = await self.ctx.pool.fetchrow(
            "SELECT user_id, state, status_msg, last_active_ts, sync_until_ts FROM presence"
            " WHERE user_id = $1", user_id,
        )
        return PresenceRecord.from_row(row) if row is not None else None

    async def _extend(self, rec: PresenceRecord) -> None:
        """A later end of sync: no visible change, so no stream position; persisted now and then."""
        self._records[rec.user_id] = rec
        self._schedule(rec)
        stored = self._stored_until.get(rec.user_id, 0)
        # Written when it moved by half the offline delay: a restart then
        # loses less than that, and a busy syncing user costs one small
        # UPDATE per offline_after_ms / 2.
        if rec.sync_until_ts - stored >= self.cfg.offline_after_ms // 2:
            await self.ctx.pool.execute(
                "UPDATE presence SET sync_until_ts = $2 WHERE user_id = $1",
                rec.user_id, rec.sync_until_ts,
            )
            self._stored_until[rec.user_id] = rec.sync_until_ts

    async def _write(self, recs: list[PresenceRecord]) -> None:
        """Persist new records with fresh stream positions, then cache, schedule and announce."""
        async with self.ctx.pool.acquire() as conn, conn.transaction():
            last = await take_positions(conn, STREAM, len(recs))
            first = last - len(recs) + 1
            await conn.executemany(_UPSERT, [
                (r.user_id, r.state, r.status_msg, r.last_active_ts, r.sync_until_ts, first + i)
                for i, r in enumerate(recs)
            ])
        for rec in recs:
            self._stored_until[rec.user_id] = rec.sync_until_ts
            if rec.state == OFFLINE:
                self._records.pop(rec.user_id, None)
                self._stored_until.pop(rec.user_id, None)
                self._timers.cancel(rec.user_id)
            else:
                self._records[rec.user_id] = rec
                self._schedule(rec)
        self._announce([(rec.user_id, first + i) for i, rec in enumerate(recs)])

    def _schedule(self, rec: PresenceRecord) -> None:
        deadline = next_deadline(rec, self.cfg)
        if deadline is None:
            self._timers.cancel(rec.user_id)
        elif self._timers.deadline(rec.user_id) != deadline:
            self._timers.schedule(rec.user_id, deadline)

    async def _on_due(self, user_ids: list[str], now: int) -> None:
        async with self._lock:
            changes = []
            for user_id in user_ids:
                rec = self._records.get(user_id)
                if rec is None:
                    continue
                current = effective(rec, now, self.cfg)
                if current.state != rec.state:
                    changes.append(current)
                else:
                    self._schedule(rec)
            if not changes:
                return
            try:
                await self._write(changes)
            except Exception:
                log.exception("cannot write %d presence transitions; retrying", len(changes))
                for rec in changes:
                    self._timers.schedule(rec.user_id, now + RETRY_MS)

    async def expire_due(self) -> None:
        """Write every transition due now (what the timer does; tests call it directly)."""
        now = self._clock()
        await self._on_due(self._timers.due(now), now)

    def _announce(self, changes: list[tuple[str, int]]) -> None:
        """Wake the syncs of each user and their room-mates (a wake-up: not awaited)."""

        async def wake() -> None:
            try:
                async with self.ctx.pool.acquire() as conn:
                    for user_id, pos in changes:
                        mates = await users_sharing_a_room(conn, user_id)
                        notify_stream(self.ctx.router, STREAM, pos, [*mates, user_id])
                        await self._federate(conn, user_id)
            except Exception:
                # Only latency is lost: the syncs read the change on their next pass.
                log.exception("cannot wake the syncs for %d presence changes", len(changes))

        task = asyncio.get_running_loop().create_task(wake())
        self._wakeups.add(task)
        task.add_done_callback(self._wakeups.discard)

    async def _federate(self, conn: Any, user_id: str) -> None:
        """Tell the other servers sharing a room with a local user of their new presence."""
        if server_name_of(user_id) != self.ctx.server_name:
            return  # a remote user's presence is their own server's to send
        servers = await remote_servers_sharing_rooms(conn, user_id, self.ctx.server_name)
        rec = await self._record(user_id)
        if servers and rec is not None:
            content = presence_content(rec, self._clock(), self.cfg)
            queue_edu(self.ctx.router, servers, "m.presence",
                      {"push": [{"user_id": user_id, **content}]})

    def tracked_users(self) -> int:
        """Users of this shard who are not offline (held in memory with a deadline)."""
        return len(self._records)
