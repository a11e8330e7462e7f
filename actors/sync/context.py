"""`GET /rooms/{roomId}/context/{eventId}` and `GET /rooms/{roomId}/event/{eventId}`.

An event the user may not see is "not found" (404 M_NOT_FOUND), as is an
event of another room or a rejected one, so the answer reveals nothing.
The context's `filter` applies to the surrounding events and the state,
never to the requested event itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.sync import event_store
from actors.sync.event_access import EventAccess, EventFormat, Viewer
from actors.sync.event_store import EventRow
from actors.sync.history_visibility import EventFacts
from actors.sync.lazy_state import sender_members
from actors.sync.messages import checked_limit, parse_event_filter_param
from actors.sync.room_access import standing
from actors.sync.sync_token import RoomToken
from actors.sync.timeline import ROOM_START, filter_matcher, walk_room
from protocol.errors import not_found

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
_ROWS_PER_EVENT = 10
_MIN_ROWS = 200


@dataclass(frozen=True)
class ContextQuery:
    room_id: str
    event_id: str
    limit: int | None = None
    filter_json: str | None = None


async def visible_event(
    conn: Any, access: EventAccess, user_id: str, room_id: str, event_id: str
) -> tuple[EventRow, EventFacts]:
    if not event_store.storable(event_id):
        raise not_found("Event not found")
    row = (await event_store.fetch_events(conn, [event_id])).get(event_id)
    if row is None or row.room_id != room_id or row.rejected or row.outlier:
        raise not_found("Event not found")
    s = await standing(conn, access, user_id, room_id)
    if s is not None and s.forgotten and not s.world_readable:
        # Forgetting the room gave up the history its past membership showed.
        raise not_found("Event not found")
    seen = await access.visible(conn, user_id, [row])
    if not seen:
        raise not_found("Event not found")
    return seen[0]


async def event(
    conn: Any, access: EventAccess, viewer: Viewer, room_id: str, event_id: str
) -> dict[str, Any]:
    row, facts = await visible_event(conn, access, viewer.user_id, room_id, event_id)
    return (await access.serve(conn, viewer, [row], EventFormat(), {event_id: facts}))[0]


async def context(conn: Any, access: EventAccess, viewer: Viewer, q: ContextQuery) -> dict[str, Any]:
    limit = checked_limit(q.limit, DEFAULT_LIMIT, MAX_LIMIT)
    event_filter = parse_event_filter_param(q.filter_json)
    row, facts = await visible_event(conn, access, viewer.user_id, q.room_id, q.event_id)
    matches = filter_matcher(event_filter)
    n_before = limit // 2
    n_after = limit - n_before
    before = await walk_room(
        conn, access, viewer.user_id, q.room_id,
        after_seq=ROOM_START, upto_seq=row.room_seq - 1, backwards=True, want=n_before,
        matches=matches, max_rows=max(_MIN_ROWS, n_before * _ROWS_PER_EVENT),
    )
    last_seq = await event_store.max_room_seq(conn, q.room_id)
    after = await walk_room(
        conn, access, viewer.user_id, q.room_id,
        after_seq=row.room_seq, upto_seq=last_seq, backwards=False, want=n_after,
        matches=matches, max_rows=max(_MIN_ROWS, n_after * _ROWS_PER_EVENT),
    )
    fmt = EventFormat()
    before_rows = [r for r, _ in before.kept]
    after_rows = [r for r, _ in after.kept]
    all_facts = {r.event_id: f for r, f in before.kept + after.kept}
    all_facts[row.event_id] = facts

    # The state of the room at the last event returned.
    last = after_rows[-1] if after_rows else row
    state = await access.states.full_state(conn, last.state_after)
    state_rows = [
        r for r in (await event_store.fetch_events(conn, state.values())).values()
        if event_filter.matches(r.room_id, r.type, r.sender, r.content)
        and not (event_filter.lazy_load_members and r.type == "m.room.member")
    ]
    if event_filter.lazy_load_members:
        state_rows += await sender_members(conn, access, [*before_rows, row, *after_rows])
    state_rows.sort(key=lambda r: (r.type, r.state_key or ""))

    start_seq = before.last_row.room_seq - 1 if before.last_row is not None else row.room_seq - 1
    end_seq = after.last_row.room_seq if after.last_row is not None else row.room_seq
    return {
        "event": (await access.serve(conn, viewer, [row], fmt, all_facts))[0],
        "events_before": await access.serve(conn, viewer, before_rows, fmt, all_facts),
        "events_after": await access.serve(conn, viewer, after_rows, fmt, all_facts),
        "state": await access.serve(conn, viewer, state_rows, fmt),
        "start": RoomToken(start_seq).encode(),
        "end": RoomToken(end_seq).encode(),
    }
