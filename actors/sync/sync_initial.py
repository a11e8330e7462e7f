"""An initial sync (no `since`): every room the user is in, as of "now".

Joined rooms get their newest timeline events and the full state before
them; invites and knocks their stripped state; left rooms (only when the
filter asks with `include_leave`) their timeline up to the leave.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from actors.sync import event_store
from actors.sync.event_store import EventRow, RoomPosition, position_of
from actors.sync.sync_membership import Membership, empty_rooms, memberships_at
from actors.sync.sync_room import RoomSyncBuilder, RoomWindow
from actors.sync.timeline import ROOM_START

LEFT = ("leave", "ban")


async def initial_rooms(
    conn: Any,
    builder: RoomSyncBuilder,
    room_ids: Iterable[str],
    positions: dict[str, RoomPosition],
    forgotten: set[str],
) -> dict[str, dict[str, Any]]:
    user = builder.params.viewer.user_id
    include_leave = builder.params.filter.room.include_leave
    at_now = await memberships_at(conn, builder.access, user, {
        r: positions[r] for r in room_ids if r in positions
    })
    rooms = empty_rooms()
    member_rows = await event_store.fetch_events(conn, (
        m.event_id for r, m in at_now.items()
        if m.event_id and (m.membership in ("invite", "knock") or (
            m.membership in LEFT and include_leave and r not in forgotten
        ))
    ))
    left = [r for r, m in at_now.items() if m.event_id in member_rows and m.membership in LEFT]
    history = await event_store.member_history(conn, left, user)
    for room_id in sorted(at_now):
        m = at_now[room_id]
        if m.membership == "join":
            window = RoomWindow(room_id, ROOM_START, positions[room_id], None)
            rooms["join"][room_id] = await builder.room(window, joined=True)
        elif m.event_id in member_rows:
            row = member_rows[m.event_id]
            await _add_not_joined(builder, rooms, room_id, m, row, history.get(room_id, []))
    return rooms


async def _add_not_joined(
    builder: RoomSyncBuilder,
    rooms: dict[str, dict[str, Any]],
    room_id: str,
    m: Membership,
    row: EventRow,
    history: list[tuple[int, str, str | None]],
) -> None:
    if m.membership == "invite":
        state = await builder.stripped_room_state(row, "invite_room_state")
        rooms["invite"][room_id] = {"invite_state": {"events": state}}
    elif m.membership == "knock":
        state = await builder.stripped_room_state(row, "knock_room_state")
        rooms["knock"][room_id] = {"knock_state": {"events": state}}
    elif any(mem == "join" and seq < row.room_seq for seq, _, mem in history):
        window = RoomWindow(room_id, ROOM_START, position_of(row), None)
        rooms["leave"][room_id] = await builder.room(window, joined=False)
    else:
        rooms["leave"][room_id] = await builder.lone_membership(row)
