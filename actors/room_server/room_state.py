"""What a room-server shard keeps in memory per room: a cache of the database.

`RoomState` is everything needed to build and authorise the room's next
event without a query: the current state (with the state events loaded),
the forward extremities, the next depth and room sequence number, and the
current state group. It is loaded from PostgreSQL on first use and updated
only after a commit, so dropping it at any time loses nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from protocol.events import MEMBER, Event, StateKey
from protocol.room_versions import RoomVersion, room_version


@dataclass
class RoomState:
    room_id: str
    version: RoomVersion
    creator: str
    # (type, state_key) -> event ID, and the state events themselves.
    state: dict[StateKey, str]
    events: dict[str, Event]
    # Forward extremities: event ID -> its PDU (v1/v2 references need the PDU's hash).
    extremities: dict[str, dict[str, Any]]
    max_depth: int
    last_seq: int
    state_group: int | None
    # Membership of every user with a member event: user ID -> membership.
    members: dict[str, str] = field(default_factory=dict)

    def state_event(self, event_type: str, state_key: str = "") -> Event | None:
        event_id = self.state.get((event_type, state_key))
        return self.events.get(event_id) if event_id else None

    def membership(self, user_id: str) -> str | None:
        return self.members.get(user_id)

    def joined_members(self) -> list[str]:
        return [u for u, m in self.members.items() if m == "join"]

    def copy(self) -> RoomState:
        """A scratch copy to build several events on before any of them commits."""
        return RoomState(
            room_id=self.room_id, version=self.version, creator=self.creator,
            state=dict(self.state), events=dict(self.events),
            extremities=dict(self.extremities), max_depth=self.max_depth,
            last_seq=self.last_seq, state_group=self.state_group, members=dict(self.members),
        )

    def apply(self, event: Event, state_group: int | None) -> None:
        """Advance past `event`, a new forward extremity citing all the current ones."""
        for prev in event.prev_event_ids:
            self.extremities.pop(prev, None)
        self.extremities[event.event_id] = event.pdu
        self.max_depth = max(self.max_depth, event.depth)
        self.last_seq += 1
        self.state_group = state_group
        if event.is_state:
            old = self.state.get(event.key)
            if old is not None and old != event.event_id:
                self.events.pop(old, None)
            self.state[event.key] = event.event_id
            self.events[event.event_id] = event
            if event.type == MEMBER and event.state_key is not None:
                self.members[event.state_key] = event.membership or "leave"


async def load_room(conn: asyncpg.Connection, room_id: str) -> RoomState | None:
    """Read a room's cache entry from the database; None if this server has no such room."""
    row = await conn.fetchrow(
        "SELECT room_version, creator, state_group FROM rooms WHERE room_id = $1", room_id
    )
    if row is None:
        return None
    version = room_version(row["room_version"])
    state_rows = await conn.fetch(
        "SELECT cs.type, cs.state_key, e.event_id, e.pdu FROM current_state cs"
        " JOIN events e ON e.event_id = cs.event_id WHERE cs.room_id = $1",
        room_id,
    )
    state: dict[StateKey, str] = {}
    events: dict[str, Event] = {}
    members: dict[str, str] = {}
    for r in state_rows:
        ev = Event(r["pdu"], version, r["event_id"])
        state[(r["type"], r["state_key"])] = ev.event_id
        events[ev.event_id] = ev
        if r["type"] == MEMBER:
            members[r["state_key"]] = ev.membership or "leave"
    ext_rows = await conn.fetch(
        "SELECT e.event_id, e.pdu, e.depth FROM forward_extremities f"
        " JOIN events e ON e.event_id = f.event_id WHERE f.room_id = $1",
        room_id,
    )
    tail = await conn.fetchrow(
        "SELECT room_seq, state_after FROM events WHERE room_id = $1"
        " ORDER BY room_seq DESC LIMIT 1",
        room_id,
    )
    return RoomState(
        room_id=room_id, version=version, creator=row["creator"], state=state, events=events,
        extremities={r["event_id"]: r["pdu"] for r in ext_rows},
        max_depth=max((r["depth"] for r in ext_rows), default=0),
        last_seq=tail["room_seq"] if tail else 0,
        state_group=row["state_group"] if row["state_group"] is not None
        else (tail["state_after"] if tail else None),
        members=members,
    )


class RoomCache:
    """A bounded LRU of RoomState by room ID."""

    def __init__(self, capacity: int = 5000) -> None:
        self._rooms: OrderedDict[str, RoomState] = OrderedDict()
        self._capacity = capacity

    def get(self, room_id: str) -> RoomState | None:
        room = self._rooms.get(room_id)
        if room is not None:
            self._rooms.move_to_end(room_id)
        return room

    def put(self, room: RoomState) -> None:
        self._rooms[room.room_id] = room
        self._rooms.move_to_end(room.room_id)
        while len(self._rooms) > self._capacity:
            self._rooms.popitem(last=False)

    def drop(self, room_id: str) -> None:
        self._rooms.pop(room_id, None)
