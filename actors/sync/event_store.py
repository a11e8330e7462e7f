"""Reading events and positions from the room server's tables (read-only).

Every reader of the sync component goes through these queries. Rejected
events and outliers are never part of a timeline or of "the room at a
position"; they can still be fetched by ID (a redaction or a replaced state
event may point at one) and the callers decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from actors.sync.sync_token import PaginationToken, RoomToken, SyncToken

MEMBER = "m.room.member"

_COLUMNS = (
    "event_id, room_id, writer, stream_pos, room_seq, type, state_key, sender, "
    "origin_server_ts, pdu, state_before, state_after, redacted_by, replaces_state, "
    "txn_id, sender_device, rejected_reason IS NOT NULL AS rejected, outlier"
)
# What makes an event part of the room's timeline and state.
_LIVE = "NOT outlier AND rejected_reason IS NULL"
# An event at or before a sync token: $n is the token's writer array.
_COVERED = "stream_pos <= coalesce(({arr}::bigint[])[writer + 1], 0)"


def storable(*values: str) -> bool:
    """Whether PostgreSQL text can hold these strings (it cannot hold U+0000).

    A string from a request that could never have been stored names nothing:
    callers answer "not found" instead of sending it to the database.
    """
    return not any("\x00" in v for v in values)


@dataclass(frozen=True)
class EventRow:
    event_id: str
    room_id: str
    writer: int
    stream_pos: int
    room_seq: int
    type: str
    state_key: str | None
    sender: str
    origin_server_ts: int
    pdu: dict[str, Any]
    state_before: int | None
    state_after: int | None
    redacted_by: str | None
    replaces_state: str | None
    txn_id: str | None
    sender_device: str | None
    rejected: bool
    outlier: bool

    @property
    def content(self) -> Any:
        return self.pdu.get("content")

    @property
    def is_state(self) -> bool:
        return self.state_key is not None


def _row(record: Mapping[str, Any]) -> EventRow:
    return EventRow(**dict(record))


@dataclass(frozen=True)
class RoomPosition:
    """The last live event of a room at some token: the room's state is its state_after."""

    event_id: str
    room_seq: int
    writer: int
    stream_pos: int
    state_after: int | None


async def writer_positions(conn: Any) -> SyncToken:
    """The committed position of every writer: the "now" of the room-event stream."""
    rows = await conn.fetch("SELECT writer, pos FROM writer_positions WHERE writer >= 0")
    if not rows:
        return SyncToken()
    positions = [0] * (max(r["writer"] for r in rows) + 1)
    for r in rows:
        positions[r["writer"]] = r["pos"]
    return SyncToken(tuple(positions))


async def fetch_events(conn: Any, event_ids: Iterable[str]) -> dict[str, EventRow]:
    ids = list(set(event_ids))
    if not ids:
        return {}
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM events WHERE event_id = ANY($1::text[])", ids)
    return {r["event_id"]: _row(r) for r in rows}


async def scan_room(
    conn: Any, room_id: str, after_seq: int, upto_seq: int, *, backwards: bool, limit: int
) -> list[EventRow]:
    """Live events with `after_seq < room_seq <= upto_seq`, newest first when `backwards`."""
    order = "DESC" if backwards else "ASC"
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM events WHERE room_id = $1 AND room_seq > $2 AND room_seq <= $3"
        f" AND {_LIVE} ORDER BY room_seq {order} LIMIT $4",
        room_id, after_seq, upto_seq, limit,
    )
    return [_row(r) for r in rows]


async def room_positions(
    conn: Any, room_ids: Iterable[str], token: SyncToken, writer_count: int
) -> dict[str, RoomPosition]:
    """For each room, its last live event at or before `token` (rooms with none are absent)."""
    rooms = list(set(room_ids))
    if not rooms:
        return {}
    rows = await conn.fetch(
        "SELECT r.room_id, e.event_id, e.room_seq, e.writer, e.stream_pos, e.state_after"
        " FROM unnest($1::text[]) AS r(room_id) CROSS JOIN LATERAL ("
        "   SELECT event_id, room_seq, writer, stream_pos, state_after FROM events"
        f"  WHERE room_id = r.room_id AND {_LIVE} AND {_COVERED.format(arr='$2')}"
        "   ORDER BY room_seq DESC LIMIT 1) e",
        rooms, token.writer_array(writer_count),
    )
    return {
        r["room_id"]: RoomPosition(
            r["event_id"], r["room_seq"], r["writer"], r["stream_pos"], r["state_after"]
        )
        for r in rows
    }


async def room_seq_at(
    conn: Any, room_id: str, token: PaginationToken, writer_count: int
) -> int:
    """A pagination token as a position in the room: events with room_seq <= it are before it.

    For a sync token that is just before the room's first event the token does
    not cover, so a token built for one writer's position (a `prev_batch`)
    stays exact even for a room whose events came from several writers.
    """
    if isinstance(token, RoomToken):
        return token.room_seq
    # A writer persists a room's events in room order, so its first event past
    # the token (an index seek on (room_id, writer, stream_pos)) is its
    # earliest uncovered one.
    count = max(writer_count, len(token.writers))
    first_new = await conn.fetchval(
        "SELECT min(e.room_seq) FROM unnest($2::int[], $3::bigint[]) AS w(writer, pos)"
        " CROSS JOIN LATERAL (SELECT room_seq FROM events"
        "   WHERE room_id = $1 AND writer = w.writer AND stream_pos > w.pos"
        f"  AND {_LIVE} ORDER BY stream_pos LIMIT 1) e",
        room_id, list(range(count)), token.writer_array(count),
    )
    if first_new is not None:
        return first_new - 1
    return await max_room_seq(conn, room_id)


async def max_room_seq(conn: Any, room_id: str) -> int:
    value = await conn.fetchval(
        f"SELECT max(room_seq) FROM events WHERE room_id = $1 AND {_LIVE}", room_id
    )
    return value or 0


async def membership_values(conn: Any, event_ids: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
    """(content.membership, content.history_visibility) of each event.

    Both keys survive redaction, so the stored PDU's content answers even for
    a redacted event.
    """
    ids = list(set(event_ids))
    if not ids:
        return {}
    rows = await conn.fetch(
        "SELECT event_id, pdu->'content'->>'membership' AS m,"
        " pdu->'content'->>'history_visibility' AS hv"
        " FROM events WHERE event_id = ANY($1::text[])",
        ids,
    )
    return {r["event_id"]: (r["m"], r["hv"]) for r in rows}


async def member_history(conn: Any, room_ids: Iterable[str], user_id: str) -> dict[str, list[tuple[int, str, str | None]]]:
    """The user's live membership events per room, oldest first: (room_seq, event_id, membership)."""
    rooms = list(set(room_ids))
    out: dict[str, list[tuple[int, str, str | None]]] = {r: [] for r in rooms}
    if not rooms:
        return out
    rows = await conn.fetch(
        "SELECT room_id, room_seq, event_id, pdu->'content'->>'membership' AS m FROM events"
        f" WHERE room_id = ANY($1::text[]) AND type = '{MEMBER}' AND state_key = $2 AND {_LIVE}"
        " ORDER BY room_id, room_seq",
        rooms, user_id,
    )
    for r in rows:
        out[r["room_id"]].append((r["room_seq"], r["event_id"], r["m"]))
    return out


@dataclass(frozen=True)
class CurrentMembership:
    room_id: str
    membership: str
    event_id: str


async def current_memberships(conn: Any, user_id: str) -> list[CurrentMembership]:
    """The user's membership in every room's current state (the user's rooms)."""
    rows = await conn.fetch(
        "SELECT room_id, membership, event_id FROM current_state"
        f" WHERE type = '{MEMBER}' AND state_key = $1",
        user_id,
    )
    return [CurrentMembership(r["room_id"], r["membership"] or "leave", r["event_id"]) for r in rows]


async def current_state_entry(conn: Any, room_id: str, event_type: str, state_key: str) -> str | None:
    return await conn.fetchval(
        "SELECT event_id FROM current_state WHERE room_id = $1 AND type = $2 AND state_key = $3",
        room_id, event_type, state_key,
    )


async def current_state_map(conn: Any, room_id: str) -> dict[tuple[str, str], str]:
    rows = await conn.fetch(
        "SELECT type, state_key, event_id FROM current_state WHERE room_id = $1", room_id
    )
    return {(r["type"], r["state_key"]): r["event_id"] for r in rows}


async def room_version_ids(conn: Any, room_ids: Iterable[str]) -> dict[str, str]:
    rooms = list(set(room_ids))
    if not rooms:
        return {}
    rows = await conn.fetch(
        "SELECT room_id, room_version FROM rooms WHERE room_id = ANY($1::text[])", rooms
    )
    return {r["room_id"]: r["room_version"] for r in rows}


async def forgotten_rooms(conn: Any, user_id: str) -> set[str]:
    rows = await conn.fetch("SELECT room_id FROM forgotten_rooms WHERE user_id = $1", user_id)
    return {r["room_id"] for r in rows}


async def has_forgotten(conn: Any, user_id: str, room_id: str) -> bool:
    return await conn.fetchval(
        "SELECT 1 FROM forgotten_rooms WHERE user_id = $1 AND room_id = $2", user_id, room_id
    ) is not None


async def room_seqs(conn: Any, event_ids: Iterable[str]) -> dict[str, int]:
    """The room order of each event (e.g. to order a room's members by when they joined)."""
    ids = list(set(event_ids))
    if not ids:
        return {}
    rows = await conn.fetch(
        "SELECT event_id, room_seq FROM events WHERE event_id = ANY($1::text[])", ids
    )
    return {r["event_id"]: r["room_seq"] for r in rows}


async def position_at_seq(conn: Any, room_id: str, room_seq: int) -> RoomPosition | None:
    """The room's last live event with room_seq <= `room_seq`: the room at that position."""
    row = await conn.fetchrow(
        "SELECT event_id, room_seq, writer, stream_pos, state_after FROM events"
        f" WHERE room_id = $1 AND room_seq <= $2 AND {_LIVE} ORDER BY room_seq DESC LIMIT 1",
        room_id, room_seq,
    )
    if row is None:
        return None
    return RoomPosition(
        row["event_id"], row["room_seq"], row["writer"], row["stream_pos"], row["state_after"]
    )


def position_of(row: EventRow) -> RoomPosition:
    return RoomPosition(row.event_id, row.room_seq, row.writer, row.stream_pos, row.state_after)
