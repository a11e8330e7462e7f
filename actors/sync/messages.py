"""`GET /rooms/{roomId}/messages`: paging through a room's history in room order.

Tokens are positions in the room's order (`room_seq`): `from` and `to` may be
sync tokens (`next_batch`, `prev_batch`) or tokens this endpoint returned;
`end` continues the walk where it stopped. Events the user may not see are
skipped. `end` is left out once the range holds nothing more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from actors.sync import event_store
from actors.sync.event_access import EventAccess, EventFormat, Viewer
from actors.sync.filters import RoomEventFilter, json_query_param, parse_room_event_filter
from actors.sync.lazy_state import sender_members
from actors.sync.room_access import RoomStanding, require_history_access
from actors.sync.sync_token import RoomToken, parse_pagination_token
from actors.sync.timeline import ROOM_START, Walk, filter_matcher, walk_room
from protocol.errors import invalid_param

Backfill = Callable[[str, int], Awaitable[int]]

DEFAULT_LIMIT = 10
MAX_LIMIT = 500
# Rows examined per requested event before answering with what was found.
_ROWS_PER_EVENT = 10
_MIN_ROWS = 200


@dataclass(frozen=True)
class MessagesQuery:
    room_id: str
    direction: str
    from_token: str | None = None
    to_token: str | None = None
    limit: int | None = None
    filter_json: str | None = None


def parse_event_filter_param(raw: str | None) -> RoomEventFilter:
    """A `filter` query parameter holding a RoomEventFilter as JSON."""
    if raw is None or raw == "":
        return RoomEventFilter()
    return parse_room_event_filter(json_query_param(raw))


def checked_limit(limit: int | None, default: int, maximum: int) -> int:
    if limit is None:
        return default
    if limit < 0:
        raise invalid_param("limit must not be negative")
    return min(limit, maximum)


async def messages(
    conn: Any, access: EventAccess, viewer: Viewer, q: MessagesQuery, writer_count: int,
    backfill: Backfill | None = None,
) -> dict[str, Any]:
    """A page of the room; `backfill(room_id, n)` fetches older history from other
    servers when a backwards walk reaches the start of what we hold."""
    if q.direction not in ("b", "f"):
        raise invalid_param("dir must be 'b' or 'f'")
    backwards = q.direction == "b"
    limit = checked_limit(q.limit, DEFAULT_LIMIT, MAX_LIMIT)
    event_filter = parse_event_filter_param(q.filter_json)
    from_token = parse_pagination_token(q.from_token, "from") if q.from_token else None
    to_token = parse_pagination_token(q.to_token, "to") if q.to_token else None
    standing = await require_history_access(conn, access, viewer.user_id, q.room_id)

    if from_token is not None:
        start = await event_store.room_seq_at(conn, q.room_id, from_token, writer_count)
    elif backwards:
        start = await _newest_readable(conn, viewer.user_id, standing)
    else:
        start = ROOM_START
    bound = None
    if to_token is not None:
        bound = await event_store.room_seq_at(conn, q.room_id, to_token, writer_count)
    if backwards:
        after_seq, upto_seq = (ROOM_START if bound is None else bound), start
    else:
        after_seq = start
        upto_seq = bound if bound is not None else await event_store.max_room_seq(conn, q.room_id)

    async def walk_range() -> Walk:
        return await walk_room(
            conn, access, viewer.user_id, q.room_id,
            after_seq=after_seq, upto_seq=upto_seq, backwards=backwards, want=limit,
            matches=filter_matcher(event_filter),
            max_rows=max(_MIN_ROWS, limit * _ROWS_PER_EVENT),
        )

    walk = await walk_range()
    if (backwards and bound is None and walk.exhausted and len(walk.kept) < limit
            and backfill is not None and await backfill(q.room_id, limit - len(walk.kept))):
        # Backfilled events take room_seq values below everything we held.
        walk = await walk_range()
    rows = [r for r, _ in walk.kept]
    fmt = EventFormat()
    out: dict[str, Any] = {
        "start": q.from_token or RoomToken(start).encode(),
        "chunk": await access.serve(conn, viewer, rows, fmt, {r.event_id: f for r, f in walk.kept}),
    }
    if not walk.exhausted and walk.last_row is not None:
        last = walk.last_row.room_seq
        out["end"] = RoomToken(last - 1 if backwards else last).encode()
    if event_filter.lazy_load_members:
        out["state"] = await access.serve(conn, viewer, await sender_members(conn, access, rows), fmt)
    return out


async def _newest_readable(conn: Any, user_id: str, standing: RoomStanding) -> int:
    """Where backwards paging without `from` starts: now, or the user's own leave.

    Events after a user left are hidden from them (unless world-readable),
    so starting at the membership event that ended theirs saves walking over them.
    """
    room_id = standing.room_id
    if standing.membership in ("leave", "ban") and not standing.world_readable:
        history = (await event_store.member_history(conn, [room_id], user_id))[room_id]
        if history:
            return history[-1][0]
    return await event_store.max_room_seq(conn, room_id)
