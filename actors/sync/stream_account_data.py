"""The account data stream in /sync: global `account_data` and each joined room's.

Reads the accounts component's `account_data` table (the latest content of
each type, with the position of its last change). An incremental sync sends
the types changed since the client's position, once each; an initial sync,
or a room the response describes from scratch, gets all of them. Room tags
(`m.tag`) and the read marker (`m.fully_read`) are room account data too.

The filters' `types`/`not_types` apply; their `limit` does not, since a
change left out would never be sent again.
"""

from __future__ import annotations

from typing import Any

from actors.sync.streams import StreamOutput, StreamRequest, StreamSource
from storage.stream_positions import current_position

GLOBAL = ""


class AccountDataSource(StreamSource):
    name = "account_data"

    async def current(self, conn: Any, req: StreamRequest) -> int:
        return await current_position(conn, self.name)

    async def fill(self, conn: Any, req: StreamRequest, now: int, out: StreamOutput) -> int:
        since = req.since_pos(self.name)
        rows = await conn.fetch(
            "SELECT room_id, type, content FROM account_data"
            " WHERE user_id = $1 AND stream_pos <= $2"
            " AND (stream_pos > $3 OR room_id = ANY($4::text[]))"
            " ORDER BY stream_pos",
            req.viewer.user_id, now, -1 if since is None else since, list(req.new_rooms),
        )
        joined = set(req.joined_rooms)
        room_filter = req.filter.room.account_data
        global_events: list[dict[str, Any]] = []
        for r in rows:
            event = {"type": r["type"], "content": r["content"]}
            if r["room_id"] == GLOBAL:
                if req.filter.account_data.matches_type(r["type"]):
                    global_events.append(event)
            elif (
                r["room_id"] in joined
                and room_filter.matches_room(r["room_id"])
                and room_filter.matches_type(r["type"])
            ):
                out.add_room_events(r["room_id"], "account_data", [event])
        out.add_events("account_data", global_events)
        return now
