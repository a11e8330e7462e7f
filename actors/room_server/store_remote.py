"""Persisting events that came from other servers, one event per transaction.

Every stored event takes a room sequence number and a stream position like a
local one (the columns are unique and required), but only accepted events are
live: outliers, soft-failed and rejected events are flagged so that no reader
puts them in a timeline or in the room's state. Accepted events also move the
forward extremities and the current state, which is the resolution of the
extremities' states and is kept as a state group in `rooms.state_group`.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from actors.room_server.persist import relation_of
from actors.room_server.state_groups import store_state_group
from protocol.events import MEMBER, Event, StateKey

StateMap = dict[StateKey, str]


@dataclass(frozen=True)
class Placement:
    """Where an event goes in the room's order (`writer` < 0: backfilled history)."""

    writer: int
    room_seq: int


@dataclass(frozen=True)
class Flags:
    outlier: bool = False
    soft_failed: bool = False
    rejected_reason: str | None = None


async def take_position(conn: asyncpg.Connection, writer: int) -> int:
    """The writer's next stream position; call it last in the transaction (see persist.py)."""
    pos = await conn.fetchval(
        "UPDATE writer_positions SET pos = pos + 1 WHERE writer = $1 RETURNING pos", writer
    )
    if pos is None:
        pos = await conn.fetchval(
            "INSERT INTO writer_positions (writer, pos) VALUES ($1, 1)"
            " ON CONFLICT (writer) DO UPDATE SET pos = writer_positions.pos + 1 RETURNING pos",
            writer,
        )
    return pos


async def store_state(
    conn: asyncpg.Connection, room_id: str, state: StateMap,
    base: tuple[int, StateMap] | None,
) -> int:
    """A state group for `state`: `base`'s group itself if equal, else a delta on it."""
    if base is not None:
        group, base_state = base
        if base_state == state:
            return group
        delta = {k: v for k, v in state.items() if base_state.get(k) != v}
        if set(base_state) <= set(state):
            return await store_state_group(conn, room_id, group, delta, state)
    return await store_state_group(conn, room_id, None, state, state)


async def insert_event(
    conn: asyncpg.Connection, event: Event, placement: Placement, stream_pos: int,
    flags: Flags, state_before: int | None, state_after: int | None,
    replaces_state: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO events (event_id, room_id, writer, stream_pos, room_seq, type, state_key,"
        " sender, depth, origin_server_ts, pdu, state_before, state_after, rejected_reason,"
        " outlier, soft_failed, replaces_state)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        event.event_id, event.room_id, placement.writer, stream_pos, placement.room_seq,
        event.type, event.state_key, event.sender, event.depth, event.origin_server_ts,
        event.pdu, state_before, state_after, flags.rejected_reason, flags.outlier,
        flags.soft_failed, replaces_state,
    )
    relation = relation_of(event)
    if relation is not None and flags.rejected_reason is None and not flags.outlier:
        await conn.execute(
            "INSERT INTO event_relations (event_id, relates_to, rel_type) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING", *relation,
        )


async def set_outlier_state(
    conn: asyncpg.Connection, event_id: str, state_before: int, state_after: int
) -> None:
    """Give an outlier the state we learned for it (it stays an outlier)."""
    await conn.execute(
        "UPDATE events SET state_before = $2, state_after = $3 WHERE event_id = $1",
        event_id, state_before, state_after,
    )


async def make_live(
    conn: asyncpg.Connection, event_id: str, placement: Placement, stream_pos: int,
    state_before: int, state_after: int, replaces_state: str | None,
) -> None:
    """An outlier becomes part of the room's history at `placement`."""
    await conn.execute(
        "UPDATE events SET outlier = false, writer = $2, stream_pos = $3, room_seq = $4,"
        " state_before = $5, state_after = $6, replaces_state = $7 WHERE event_id = $1",
        event_id, placement.writer, stream_pos, placement.room_seq, state_before, state_after,
        replaces_state,
    )


async def advance_room(
    conn: asyncpg.Connection, room_id: str, event: Event, old_state: StateMap,
    new_state: StateMap, new_group: int,
) -> None:
    """An accepted live event: forward extremities, current state and its group."""
    await conn.execute(
        "DELETE FROM forward_extremities WHERE room_id = $1 AND event_id = ANY($2::text[])",
        room_id, event.prev_event_ids,
    )
    await conn.execute(
        "INSERT INTO forward_extremities (room_id, event_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING", room_id, event.event_id,
    )
    changed = [k for k, v in new_state.items() if old_state.get(k) != v]
    if changed:
        memberships = await conn.fetch(
            "SELECT event_id, pdu->'content'->>'membership' AS m FROM events"
            " WHERE event_id = ANY($1::text[])", [new_state[k] for k in changed],
        )
        by_id = {r["event_id"]: r["m"] for r in memberships}
        await conn.executemany(
            "INSERT INTO current_state (room_id, type, state_key, event_id, membership)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_id, type, state_key)"
            " DO UPDATE SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership",
            [(room_id, t, sk, new_state[(t, sk)],
              (by_id.get(new_state[(t, sk)]) or "leave") if t == MEMBER else None)
             for t, sk in changed],
        )
    removed = [k for k in old_state if k not in new_state]
    if removed:
        await conn.executemany(
            "DELETE FROM current_state WHERE room_id = $1 AND type = $2 AND state_key = $3",
            [(room_id, t, sk) for t, sk in removed],
        )
    await conn.execute("UPDATE rooms SET state_group = $2 WHERE room_id = $1", room_id, new_group)
    if event.type == MEMBER and event.membership in ("join", "invite", "knock") and event.state_key:
        # As for local events: a user back in a room remembers it again.
        await conn.execute(
            "DELETE FROM forgotten_rooms WHERE user_id = $1 AND room_id = $2",
            event.state_key, room_id,
        )


async def apply_redaction(conn: asyncpg.Connection, room_id: str, redaction: Event) -> None:
    if redaction.redacts:
        await conn.execute(
            "UPDATE events SET redacted_by = $1 WHERE event_id = $2 AND room_id = $3"
            " AND redacted_by IS NULL", redaction.event_id, redaction.redacts, room_id,
        )
