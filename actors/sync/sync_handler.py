"""`GET /sync`: resolve the filter and tokens, compute, and long-poll while empty.

Each pass reads "now" from `writer_positions` (every position up to it is
committed), computes the response between `since` and now from the
database, and returns it with `next_batch` = now. If there is nothing and
time is left, it waits for a notification past now (see `notifier`). The
request may be cancelled while waiting (the client went away): nothing is
held but the waiter, which is always removed.

After the rooms, each stream source (`streams.py`: account data, receipts,
typing, presence, to-device, ...) adds its part and its position; the
long-poll wakes for any of them. `set_presence` is handed to the presence
component by the sync service.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from actors.sync import event_store, filter_store
from actors.sync.event_access import EventAccess, Viewer
from actors.sync.filters import SyncFilter, json_query_param, parse_sync_filter
from actors.sync.lazy_members import LazyMemberTracker
from actors.sync.notifier import Notifier
from actors.sync.streams import StreamOutput, StreamRequest, StreamSource
from actors.sync.sync_incremental import incremental_rooms
from actors.sync.sync_initial import initial_rooms
from actors.sync.sync_room import RoomSyncBuilder, SyncParams
from actors.sync.sync_token import SyncToken, parse_sync_token
from protocol.errors import invalid_param


@dataclass(frozen=True)
class SyncRequest:
    viewer: Viewer
    filter: SyncFilter
    since: SyncToken | None
    full_state: bool
    timeout_ms: int
    use_state_after: bool

    def since_stream(self, stream: str) -> int:
        return 0 if self.since is None else self.since.stream_pos(stream)


class SyncHandler:
    def __init__(
        self,
        pool: asyncpg.Pool,
        access: EventAccess,
        notifier: Notifier,
        *,
        writer_count: int,
        max_timeout_ms: int,
        sources: Sequence[StreamSource] = (),
    ) -> None:
        self.pool = pool
        self.sources = tuple(sources)
        self.access = access
        self.notifier = notifier
        self.lazy = LazyMemberTracker()
        self.writer_count = writer_count
        self.max_timeout_ms = max_timeout_ms

    async def resolve_filter(self, user_id: str, raw: str | None) -> SyncFilter:
        """The `filter` query parameter: an uploaded filter's ID or inline JSON."""
        if raw is None or raw == "":
            return SyncFilter()
        if raw.lstrip().startswith("{"):
            return parse_sync_filter(json_query_param(raw))
        definition = await filter_store.get_filter(self.pool, user_id, raw)
        if definition is None:
            raise invalid_param(f"Unknown filter {raw!r}")
        return parse_sync_filter(definition)

    async def request(
        self,
        user_id: str,
        device_id: str | None,
        *,
        filter_param: str | None,
        since: str | None,
        full_state: bool,
        timeout_ms: int,
        use_state_after: bool,
    ) -> SyncRequest:
        if timeout_ms < 0:
            raise invalid_param("timeout must not be negative")
        return SyncRequest(
            viewer=Viewer(user_id, device_id),
            filter=await self.resolve_filter(user_id, filter_param),
            since=parse_sync_token(since, "since") if since else None,
            full_state=full_state,
            # full_state answers at once (spec: the timeout is ignored).
            timeout_ms=0 if full_state else min(timeout_ms, self.max_timeout_ms),
            use_state_after=use_state_after,
        )

    async def sync(self, req: SyncRequest) -> dict[str, Any]:
        deadline = time.monotonic() + req.timeout_ms / 1000
        waiter = self.notifier.register(req.viewer.user_id)
        try:
            while True:
                response, now, sent, stream_news = await self._pass(req)
                remaining = deadline - time.monotonic()
                if _has_news(response, stream_news) or remaining <= 0:
                    break
                await waiter.wait_past(now, remaining)
        finally:
            self.notifier.unregister(waiter)
        if req.viewer.device_id is not None:
            self.lazy.record(req.viewer.user_id, req.viewer.device_id, now, sent)
        return response

    async def _pass(
        self, req: SyncRequest
    ) -> tuple[dict[str, Any], SyncToken, dict[str, Any], bool]:
        user = req.viewer.user_id
        async with self.pool.acquire() as conn:
            now = await event_store.writer_positions(conn)
            self.notifier.advance(now)
            if req.since is not None:
                # Never move a client backwards, whatever its token says.
                now = now.max_with(req.since)
            writer_count = max(self.writer_count, len(now.writers))
            known = {}
            if req.viewer.device_id is not None:
                known = self.lazy.known(user, req.viewer.device_id, req.since)
            params = SyncParams(
                viewer=req.viewer, filter=req.filter, since=req.since, now=now,
                full_state=req.full_state, use_state_after=req.use_state_after,
                known_members=known,
            )
            builder = RoomSyncBuilder(conn, self.access, params)
            memberships = await event_store.current_memberships(conn, user)
            room_ids = [m.room_id for m in memberships if req.filter.room.includes_room(m.room_id)]
            positions = await event_store.room_positions(conn, room_ids, now, writer_count)
            if req.since is None:
                forgotten = await event_store.forgotten_rooms(conn, user)
                rooms = await initial_rooms(conn, builder, room_ids, positions, forgotten)
            else:
                rooms = await incremental_rooms(
                    conn, builder, room_ids, positions, req.since, writer_count
                )
            joined = tuple(m.room_id for m in memberships
                           if m.membership == "join" and req.filter.room.includes_room(m.room_id))
            stream_req = StreamRequest(
                viewer=req.viewer, filter=req.filter, since=req.since,
                full_state=req.full_state, joined_rooms=joined,
                new_rooms=frozenset(builder.new_rooms),
            )
            out = StreamOutput()
            streams = dict(now.streams)
            for source in self.sources:
                pos = await source.fill(conn, stream_req, await source.current(conn, stream_req), out)
                # Never move a client backwards, whatever its token says.
                streams[source.name] = max(pos, req.since_stream(source.name))
        now = SyncToken(now.writers, streams)
        response: dict[str, Any] = {
            "next_batch": now.encode(),
            "rooms": rooms,
            "account_data": {"events": []},
            "presence": {"events": []},
        }
        out.apply(response, prev_batch=SyncToken(now.writers).encode())
        return response, now, builder.sent_members, out.news


def _has_news(response: dict[str, Any], stream_news: bool) -> bool:
    return stream_news or any(response["rooms"].values())
