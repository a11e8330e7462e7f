"""An incremental sync: what happened in the user's rooms between `since` and "now".

Only rooms whose last live event at "now" is past `since` changed (a
writer's positions commit in order, so a room's events at a token are a
prefix of its order). For those, the user's membership at both tokens
decides the section:

- joined at both: new timeline events, state changes in any gap;
- joined now, not before: the room as in an initial sync (full state);
- invited or knocking now, by a new membership event: stripped state;
- out of the room now, joined before: the timeline up to the leave;
- out now, never joined in between: just the membership event.

`full_state` sends full state for every joined room, changed or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from actors.sync import event_store
from actors.sync.event_store import RoomPosition, position_of
from actors.sync.sync_initial import LEFT
from actors.sync.sync_membership import NO_MEMBERSHIP, empty_rooms, memberships_at
from actors.sync.sync_room import RoomSyncBuilder, RoomWindow
from actors.sync.sync_token import SyncToken
from actors.sync.timeline import ROOM_START


async def incremental_rooms(
    conn: Any,
    builder: RoomSyncBuilder,
    room_ids: Iterable[str],
    positions: dict[str, RoomPosition],
    since: SyncToken,
    writer_count: int,
) -> dict[str, dict[str, Any]]:
    p = builder.params
    user = p.viewer.user_id
    changed = {
        r: positions[r] for r in room_ids
        if r in positions and not since.covers(positions[r].writer, positions[r].stream_pos)
    }
    unchanged = {r: positions[r] for r in room_ids if r in positions and r not in changed}
    before = await event_store.room_positions(conn, changed, since, writer_count)
    at_now = await memberships_at(conn, builder.access, user, changed)
    at_since = await memberships_at(conn, builder.access, user, before)
    rooms = empty_rooms()

    if p.full_state:
        still = await memberships_at(conn, builder.access, user, unchanged)
        for room_id, m in still.items():
            if m.membership == "join":
                pos = unchanged[room_id]
                window = RoomWindow(room_id, pos.room_seq, pos, None)
                rooms["join"][room_id] = await builder.room(window, joined=True)

    moved = {
        r for r in changed
        if at_now[r].event_id is not None and at_now[r].event_id != at_since.get(r, NO_MEMBERSHIP).event_id
    }
    member_rows = await event_store.fetch_events(conn, (at_now[r].event_id for r in moved))
    left = [r for r in moved if at_now[r].membership in LEFT]
    history = await event_store.member_history(conn, left, user)

    for room_id in sorted(changed):
        now_m = at_now[room_id]
        was = at_since.get(room_id, NO_MEMBERSHIP)
        old_pos = before.get(room_id)
        after_seq = old_pos.room_seq if old_pos is not None else ROOM_START
        since_group = old_pos.state_after if old_pos is not None else None
        pos = positions[room_id]
        if now_m.membership == "join":
            if was.membership == "join":
                window = RoomWindow(room_id, after_seq, pos, None if p.full_state else since_group)
            else:
                window = RoomWindow(room_id, ROOM_START, pos, None)
            entry = await builder.room(window, joined=True)
            if entry is not None:
                rooms["join"][room_id] = entry
        elif room_id not in moved or now_m.event_id not in member_rows:
            continue
        elif now_m.membership == "invite":
            state = await builder.stripped_room_state(member_rows[now_m.event_id], "invite_room_state")
            rooms["invite"][room_id] = {"invite_state": {"events": state}}
        elif now_m.membership == "knock":
            state = await builder.stripped_room_state(member_rows[now_m.event_id], "knock_room_state")
            rooms["knock"][room_id] = {"knock_state": {"events": state}}
        elif now_m.membership in LEFT:
            row = member_rows[now_m.event_id]
            joined_since = any(
                m == "join" and after_seq < seq < row.room_seq
                for seq, _, m in history.get(room_id, [])
            )
            if was.membership == "join":
                window = RoomWindow(room_id, after_seq, position_of(row), since_group)
            elif joined_since:
                window = RoomWindow(room_id, ROOM_START, position_of(row), None)
            else:
                rooms["leave"][room_id] = await builder.lone_membership(row)
                continue
            entry = await builder.room(window, joined=False)
            if entry is not None:
                rooms["leave"][room_id] = entry
    return rooms
