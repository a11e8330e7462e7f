"""The receipts stream in /sync: `m.receipt` in each joined room's `ephemeral`.

Reads the receipts component's `receipts` table (the latest receipt per room,
type, user and thread, with the position of its last change). An incremental
sync sends the receipts that changed since the client's position; a room the
response describes from scratch gets all of them. A private receipt
(`m.read.private`) goes to its owner only.
"""

from __future__ import annotations

from typing import Any

from actors.sync.streams import StreamOutput, StreamRequest, StreamSource
from storage.stream_positions import current_position

RECEIPT = "m.receipt"
PRIVATE = "m.read.private"


class ReceiptsSource(StreamSource):
    name = "receipts"

    async def current(self, conn: Any, req: StreamRequest) -> int:
        return await current_position(conn, self.name)

    async def fill(self, conn: Any, req: StreamRequest, now: int, out: StreamOutput) -> int:
        f = req.filter.room.ephemeral
        rooms = [r for r in req.joined_rooms if f.matches_room(r)]
        if not rooms or not f.matches_type(RECEIPT):
            return now
        since = req.since_pos(self.name)
        rows = await conn.fetch(
            "SELECT room_id, receipt_type, user_id, thread_id, event_id, ts FROM receipts"
            " WHERE room_id = ANY($1::text[]) AND stream_pos <= $2"
            " AND (stream_pos > $3 OR room_id = ANY($4::text[]))"
            " AND (receipt_type <> $5 OR user_id = $6)",
            rooms, now, -1 if since is None else since, list(req.new_rooms),
            PRIVATE, req.viewer.user_id,
        )
        by_room: dict[str, dict[str, Any]] = {}
        for r in rows:
            receipt: dict[str, Any] = {"ts": r["ts"]}
            if r["thread_id"]:
                receipt["thread_id"] = r["thread_id"]
            content = by_room.setdefault(r["room_id"], {})
            content.setdefault(r["event_id"], {}).setdefault(r["receipt_type"], {})[
                r["user_id"]] = receipt
        for room_id, content in by_room.items():
            out.add_room_events(room_id, "ephemeral", [{"type": RECEIPT, "content": content}])
        return now
