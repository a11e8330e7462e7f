"""Following the room servers' event streams and queueing PDUs for this shard's destinations.

Each room-server shard is a writer whose positions commit in order, so
"every event of writer w up to position p" is a well-defined prefix. Per
writer, the shard keeps the position up to which every event has been
queued (`federation_stream_positions`), and moves it forward in the same
database transaction that queues the events: after a crash nothing is lost
and nothing is queued twice.

Sent are the events our users created and the events other servers gave us
through send_join/send_leave/send_knock (marked in `federation_forward`);
never events that arrived over /send, never outliers or rejected events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.federation_sender import queue
from actors.federation_sender.destinations import JoinedServers, pdu_destinations
from protocol.identifiers import InvalidIdentifier, server_name_of

BATCH = 500

_READ = (
    "SELECT e.event_id, e.room_id, e.stream_pos, e.type, e.state_key, e.sender, e.state_after,"
    " f.origin FROM events e LEFT JOIN federation_forward f ON f.event_id = e.event_id"
    " WHERE e.writer = $1 AND e.stream_pos > $2 AND e.stream_pos <= $3"
    " AND NOT e.outlier AND e.rejected_reason IS NULL ORDER BY e.stream_pos LIMIT $4"
)


async def start_positions(conn: Any, shard: int) -> dict[int, int]:
    """The saved positions; a shard that never ran starts at the writers' current positions.

    Saved at once, so the start point of a new shard is fixed even if it
    crashes before queueing anything.
    """
    await conn.execute(
        "INSERT INTO federation_stream_positions (shard, writer, pos)"
        " SELECT $1, writer, pos FROM writer_positions ON CONFLICT DO NOTHING",
        shard,
    )
    rows = await conn.fetch(
        "SELECT writer, pos FROM federation_stream_positions WHERE shard = $1", shard
    )
    return {r["writer"]: r["pos"] for r in rows}


def _is_ours(user_id: str, server_name: str) -> bool:
    try:
        return server_name_of(user_id) == server_name
    except InvalidIdentifier:
        return False


class Fanout:
    def __init__(self, pool: Any, *, shard: int, server_name: str,
                 owns: Callable[[str], bool]) -> None:
        self.pool = pool
        self.shard = shard
        self.server_name = server_name
        self.owns = owns
        self.positions: dict[int, int] = {}
        self.joined = JoinedServers()

    async def start(self) -> None:
        async with self.pool.acquire() as conn:
            self.positions = await start_positions(conn, self.shard)

    async def catch_up(self) -> set[str]:
        """Queue every committed event not yet queued; returns the destinations given work."""
        async with self.pool.acquire() as conn:
            targets = {r["writer"]: r["pos"] for r in await conn.fetch(
                "SELECT writer, pos FROM writer_positions")}
        touched: set[str] = set()
        for writer, target in sorted(targets.items()):
            while self.positions.get(writer, 0) < target:
                touched |= await self._step(writer, self.positions.get(writer, 0), target)
        return touched

    async def _step(self, writer: int, after: int, target: int) -> set[str]:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_READ, writer, after, target, BATCH)
            queued: list[tuple[str, str, str]] = []
            for row in rows:
                origin = row["origin"]
                if origin is None and not _is_ours(row["sender"], self.server_name):
                    continue
                joined = await self.joined.of_group(conn, row["state_after"])
                for dest in pdu_destinations(
                    set(joined), event_type=row["type"], state_key=row["state_key"],
                    our_server=self.server_name, origin=origin,
                ):
                    if self.owns(dest):
                        queued.append((dest, row["event_id"], row["room_id"]))
            await queue.enqueue_pdus(conn, queued)
            # The last batch may end before `target` only when it was full.
            pos = rows[-1]["stream_pos"] if len(rows) == BATCH else target
            await conn.execute(
                "INSERT INTO federation_stream_positions (shard, writer, pos) VALUES ($1, $2, $3)"
                " ON CONFLICT (shard, writer) DO UPDATE SET pos = EXCLUDED.pos",
                self.shard, writer, pos,
            )
        self.positions[writer] = pos
        return {dest for dest, _, _ in queued}
