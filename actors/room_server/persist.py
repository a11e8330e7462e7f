"""Persisting a batch of one room's new events in a single transaction.

The writer's stream positions are taken last (`UPDATE writer_positions …
RETURNING`), so the row lock that orders this writer's commits is held only
for the final inserts: a writer's committed positions always form a prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from actors.room_server.event_builder import EventSpec
from actors.room_server.state_groups import store_state_group
from protocol.events import CREATE, MEMBER, REDACTION, Event, StateKey


@dataclass
class NewEvent:
    """An authorised event waiting to be persisted, with what the batch knows about it."""

    event: Event
    spec: EventSpec
    # The full state after this event (only for state events; used for snapshots).
    state_after: dict[StateKey, str] | None
    replaces_state: str | None
    # Set for a redaction the server will apply to its target.
    applies_redaction: bool = False


@dataclass
class PersistedEvent:
    event_id: str
    writer: int
    stream_pos: int
    room_seq: int
    state_group: int | None


async def persist_batch(
    conn: asyncpg.Connection,
    *,
    writer: int,
    room_id: str,
    room_version: str,
    creator: str,
    first_seq: int,
    state_group: int | None,
    batch: list[NewEvent],
    now_ms: int,
) -> list[PersistedEvent]:
    """Write `batch` (in order) and return the positions given to each event."""
    groups: list[tuple[int | None, int | None]] = []
    current = state_group
    for item in batch:
        before = current
        if item.event.is_state and item.state_after is not None:
            current = await store_state_group(
                conn, room_id, current, {item.event.key: item.event.event_id}, item.state_after
            )
        groups.append((before, current))
    if any(item.event.type == CREATE for item in batch):
        await conn.execute(
            "INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES ($1, $2, $3, $4)",
            room_id, room_version, creator, now_ms,
        )
    await _write_side_tables(conn, room_id, batch, now_ms)
    if current != state_group:
        # The group of the room's current state (remote events may make it differ from
        # the newest event's state_after, so the room remembers it).
        await conn.execute("UPDATE rooms SET state_group = $2 WHERE room_id = $1", room_id, current)
    last = await conn.fetchval(
        "UPDATE writer_positions SET pos = pos + $2 WHERE writer = $1 RETURNING pos",
        writer, len(batch),
    )
    first_pos = last - len(batch) + 1
    rows = []
    for i, item in enumerate(batch):
        ev, spec = item.event, item.spec
        before, after = groups[i]
        rows.append((
            ev.event_id, room_id, writer, first_pos + i, first_seq + i, ev.type, ev.state_key,
            ev.sender, ev.depth, ev.origin_server_ts, ev.pdu, before, after,
            item.replaces_state, spec.txn[1] if spec.txn else None,
            spec.txn[0] if spec.txn else None,
        ))
    await conn.executemany(
        "INSERT INTO events (event_id, room_id, writer, stream_pos, room_seq, type, state_key,"
        " sender, depth, origin_server_ts, pdu, state_before, state_after, replaces_state,"
        " txn_id, sender_device)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        rows,
    )
    return [
        PersistedEvent(item.event.event_id, writer, first_pos + i, first_seq + i, groups[i][1])
        for i, item in enumerate(batch)
    ]


async def _write_side_tables(
    conn: asyncpg.Connection, room_id: str, batch: list[NewEvent], now_ms: int
) -> None:
    state_rows: dict[StateKey, tuple[Any, ...]] = {}
    for item in batch:
        ev = item.event
        if ev.is_state:
            membership = ev.membership if ev.type == MEMBER else None
            state_rows[ev.key] = (room_id, ev.type, ev.state_key, ev.event_id, membership)
    if state_rows:
        await conn.executemany(
            "INSERT INTO current_state (room_id, type, state_key, event_id, membership)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_id, type, state_key)"
            " DO UPDATE SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership",
            list(state_rows.values()),
        )
    prevs = {p for item in batch for p in item.event.prev_event_ids}
    if prevs:
        await conn.execute(
            "DELETE FROM forward_extremities WHERE room_id = $1 AND event_id = ANY($2::text[])",
            room_id, list(prevs),
        )
    await conn.execute(
        "INSERT INTO forward_extremities (room_id, event_id) VALUES ($1, $2)",
        room_id, batch[-1].event.event_id,
    )
    back = [
        (ev.state_key, room_id) for item in batch
        if (ev := item.event).type == MEMBER and ev.membership in ("join", "invite", "knock")
    ]
    if back:
        # A user back in a room remembers it again: forgetting lasts until the next membership.
        await conn.executemany(
            "DELETE FROM forgotten_rooms WHERE user_id = $1 AND room_id = $2", back
        )
    txns = [
        (item.spec.sender, item.spec.txn[0], item.spec.txn[1], room_id, item.event.event_id, now_ms)
        for item in batch if item.spec.txn
    ]
    if txns:
        await conn.executemany(
            "INSERT INTO event_txns (user_id, device_id, txn_id, room_id, event_id, created_ts)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            txns,
        )
    relations = [r for item in batch if (r := relation_of(item.event))]
    if relations:
        await conn.executemany(
            "INSERT INTO event_relations (event_id, relates_to, rel_type) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            relations,
        )
    for item in batch:
        if item.event.type == REDACTION and item.applies_redaction:
            await conn.execute(
                "UPDATE events SET redacted_by = $1 WHERE event_id = $2 AND room_id = $3"
                " AND redacted_by IS NULL",
                item.event.event_id, item.event.redacts, room_id,
            )


def relation_of(ev: Event) -> tuple[str, str, str] | None:
    rel = ev.content.get("m.relates_to")
    if not isinstance(rel, dict):
        return None
    target, rel_type = rel.get("event_id"), rel.get("rel_type")
    if isinstance(target, str) and isinstance(rel_type, str):
        return (ev.event_id, target, rel_type)
    return None
