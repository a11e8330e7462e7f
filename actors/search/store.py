"""The search component's tables (migration 0007) and its reads of the room servers' events.

`search_indexes` says which index (by the ID in its folder's marker) the
watermark in `search_positions` belongs to; `attach` and `save` keep the two
consistent: a watermark is only ever saved for the index it describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from search_index.documents import INDEXED_TYPES, IndexableEvent

REDACTION = "m.room.redaction"
FEED_TYPES = [*INDEXED_TYPES, REDACTION]


async def attach(conn: Any, shard: int, index_id: str) -> dict[int, int]:
    """The watermark of this shard's index `index_id`; empty (and recorded) for a new index."""
    async with conn.transaction():
        known = await conn.fetchval(
            "SELECT index_id FROM search_indexes WHERE shard = $1 FOR UPDATE", shard
        )
        if known == index_id:
            rows = await conn.fetch(
                "SELECT writer, pos FROM search_positions WHERE shard = $1", shard
            )
            return {r["writer"]: r["pos"] for r in rows}
        await conn.execute(
            "INSERT INTO search_indexes (shard, index_id) VALUES ($1, $2)"
            " ON CONFLICT (shard) DO UPDATE SET index_id = EXCLUDED.index_id",
            shard, index_id,
        )
        await conn.execute("DELETE FROM search_positions WHERE shard = $1", shard)
        return {}


async def save(conn: Any, shard: int, index_id: str, positions: dict[int, int]) -> bool:
    """Record the watermark; False (nothing written) if the shard now has another index."""
    async with conn.transaction():
        current = await conn.fetchval(
            "SELECT index_id FROM search_indexes WHERE shard = $1 FOR SHARE", shard
        )
        if current != index_id:
            return False
        await conn.executemany(
            "INSERT INTO search_positions (shard, writer, pos) VALUES ($1, $2, $3)"
            " ON CONFLICT (shard, writer) DO UPDATE SET pos = EXCLUDED.pos",
            [(shard, w, p) for w, p in positions.items()],
        )
        return True


async def writer_positions(conn: Any) -> dict[int, int]:
    """Each room-server writer's committed position: all its events up to it are visible."""
    rows = await conn.fetch("SELECT writer, pos FROM writer_positions WHERE writer >= 0")
    return {r["writer"]: r["pos"] for r in rows}


@dataclass(frozen=True)
class FeedRow:
    """One event of a writer's stream that may concern the index."""

    stream_pos: int
    room_id: str
    # The event to index, or None when it must not be (redacted, rejected, outlier).
    event: IndexableEvent | None
    # For an applied redaction: the event to take out of the index.
    redacts: str | None


async def read_feed(
    conn: Any, writer: int, after: int, upto: int, limit: int
) -> list[FeedRow]:
    """Searchable events and redactions with `after < stream_pos <= upto`, in stream order."""
    rows = await conn.fetch(
        "SELECT e.event_id, e.room_id, e.type, e.sender, e.origin_server_ts, e.stream_pos,"
        " e.pdu->'content' AS content,"
        " (e.redacted_by IS NOT NULL OR e.rejected_reason IS NOT NULL OR e.outlier) AS hidden,"
        " t.event_id AS target"
        " FROM events e LEFT JOIN events t"
        "   ON e.type = 'm.room.redaction' AND t.room_id = e.room_id"
        "   AND t.event_id = coalesce(e.pdu->>'redacts', e.pdu->'content'->>'redacts')"
        "   AND t.redacted_by IS NOT NULL"
        " WHERE e.writer = $1 AND e.stream_pos > $2 AND e.stream_pos <= $3"
        " AND e.type = ANY($4::text[])"
        " ORDER BY e.stream_pos LIMIT $5",
        writer, after, upto, FEED_TYPES, limit,
    )
    out = []
    for r in rows:
        event = None
        if r["type"] != REDACTION and not r["hidden"] and isinstance(r["content"], dict):
            event = IndexableEvent(
                event_id=r["event_id"], room_id=r["room_id"], sender=r["sender"], type=r["type"],
                origin_server_ts=r["origin_server_ts"], writer=writer,
                stream_pos=r["stream_pos"], content=r["content"],
            )
        out.append(FeedRow(r["stream_pos"], r["room_id"], event, r["target"]))
    return out
