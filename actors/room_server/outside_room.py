"""Persisting what happens to a room this server is not (yet) in.

Without the room's state, an invite, a rejected invite or a knock is stored
as the room's latest event on top of whatever state we last knew (nothing,
for a room we never saw), so /sync finds the user's membership in the state
after it. A remote join replaces all of that with the checked state the
resident server returned: its events become outliers (stored, never in a
timeline) and the join the room's one forward extremity, with that state as
its state before.
"""

from __future__ import annotations

import asyncpg

from actors.room_server.event_builder import EventSpec
from actors.room_server.persist import NewEvent, PersistedEvent, persist_batch
from actors.room_server.remote_join import JoinedRoom
from actors.room_server.room_state import RoomState
from actors.room_server.state_groups import store_state_group
from protocol.events import MEMBER, Event


def _spec(event: Event) -> EventSpec:
    return EventSpec(event.type, event.sender, event.content, event.state_key)


async def _ensure_room(
    conn: asyncpg.Connection, room_id: str, version: str, creator: str, now_ms: int
) -> None:
    await conn.execute(
        "INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (room_id) DO NOTHING",
        room_id, version, creator, now_ms,
    )


async def persist_membership(
    conn: asyncpg.Connection, *, writer: int, room: RoomState | None, room_id: str,
    event: Event, creator: str, now_ms: int,
) -> PersistedEvent:
    """One membership event on top of the state we last knew of the room."""
    await _ensure_room(conn, room_id, event.room_version.identifier, creator, now_ms)
    state = dict(room.state) if room else {}
    replaces = state.get(event.key)
    state[event.key] = event.event_id
    persisted = await persist_batch(
        conn, writer=writer, room_id=room_id, room_version=event.room_version.identifier,
        creator=creator, first_seq=(room.last_seq if room else 0) + 1,
        state_group=room.state_group if room else None,
        batch=[NewEvent(event, _spec(event), state, replaces)], now_ms=now_ms,
    )
    return persisted[0]


async def persist_join(
    conn: asyncpg.Connection, *, writer: int, room: RoomState | None, room_id: str,
    joined: JoinedRoom, creator: str, now_ms: int,
) -> PersistedEvent:
    """The room as the resident server gave it, and our join as its latest event."""
    version = joined.version.identifier
    await _ensure_room(conn, room_id, version, creator, now_ms)
    known = {r["event_id"] for r in await conn.fetch(
        "SELECT event_id FROM events WHERE event_id = ANY($1::text[])", list(joined.events))}
    outliers = [e for e in joined.events.values() if e.event_id not in known]
    base_seq = room.last_seq if room else await conn.fetchval(
        "SELECT coalesce(max(room_seq), 0) FROM events WHERE room_id = $1", room_id)
    if outliers:
        last = await conn.fetchval(
            "UPDATE writer_positions SET pos = pos + $2 WHERE writer = $1 RETURNING pos",
            writer, len(outliers),
        )
        first = last - len(outliers) + 1
        await conn.executemany(
            "INSERT INTO events (event_id, room_id, writer, stream_pos, room_seq, type,"
            " state_key, sender, depth, origin_server_ts, pdu, outlier)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, true)",
            [(e.event_id, room_id, writer, first + i, base_seq + 1 + i, e.type, e.state_key,
              e.sender, e.depth, e.origin_server_ts, e.pdu) for i, e in enumerate(outliers)],
        )
    before = await store_state_group(conn, room_id, None, {}, joined.state)
    # What we knew of the room before (an invite, an old membership) gives way to its real state.
    await conn.execute("DELETE FROM current_state WHERE room_id = $1", room_id)
    await conn.execute("DELETE FROM forward_extremities WHERE room_id = $1", room_id)
    await conn.executemany(
        "INSERT INTO current_state (room_id, type, state_key, event_id, membership)"
        " VALUES ($1, $2, $3, $4, $5)",
        [(room_id, t, sk, eid,
          joined.events[eid].membership if t == MEMBER else None)
         for (t, sk), eid in joined.state.items()],
    )
    join = joined.join
    after = {**joined.state, join.key: join.event_id}
    persisted = await persist_batch(
        conn, writer=writer, room_id=room_id, room_version=version, creator=creator,
        first_seq=base_seq + len(outliers) + 1, state_group=before,
        batch=[NewEvent(join, _spec(join), after, joined.state.get(join.key))], now_ms=now_ms,
    )
    return persisted[0]
