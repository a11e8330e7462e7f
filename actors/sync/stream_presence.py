"""The presence stream in /sync: `m.presence` events of the user and their room-mates.

Reads the presence component's `presence` table. An incremental sync sends
the records changed since the client's position, of the user and of users
sharing a joined room with them; an initial sync sends everyone of those who
is not offline, and a newly joined room brings its members' presence. Each
record is evaluated at the time of the sync (actors/presence/rules.py).
With `presence.enabled: false` the section stays empty.
"""

from __future__ import annotations

from typing import Any

from actors.context import now_ms
from actors.membership_reads import MEMBER
from actors.presence.rules import OFFLINE, PRESENCE, PresenceRecord, effective_state, presence_event
from actors.sync.streams import StreamOutput, StreamRequest, StreamSource
from storage.stream_positions import current_position

_COLUMNS = "p.user_id, p.state, p.status_msg, p.last_active_ts, p.sync_until_ts"
# Whether p.user_id shares a joined room with $1.
_SHARES_A_ROOM = (
    "EXISTS (SELECT 1 FROM current_state a JOIN current_state b ON b.room_id = a.room_id"
    f" WHERE a.type = '{MEMBER}' AND a.state_key = p.user_id AND a.membership = 'join'"
    f" AND b.type = '{MEMBER}' AND b.state_key = $1 AND b.membership = 'join')"
)


class PresenceSource(StreamSource):
    name = "presence"

    async def current(self, conn: Any, req: StreamRequest) -> int:
        return await current_position(conn, self.name)

    async def fill(self, conn: Any, req: StreamRequest, now: int, out: StreamOutput) -> int:
        cfg = self.ctx.config.presence
        if not cfg.enabled:
            return now
        user = req.viewer.user_id
        since = req.since_pos(self.name)
        if since is None:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM presence p WHERE p.stream_pos <= $2"
                f" AND p.state <> '{OFFLINE}' AND (p.user_id = $1 OR {_SHARES_A_ROOM})",
                user, now,
            )
            changed = {r["user_id"]: r for r in rows}
        else:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM presence p WHERE p.stream_pos > $3 AND p.stream_pos <= $2"
                f" AND (p.user_id = $1 OR {_SHARES_A_ROOM})",
                user, now, since,
            )
            changed = {r["user_id"]: r for r in rows}
            if req.new_rooms:
                # Newly met room-mates: their presence, even if it has not changed.
                met = await conn.fetch(
                    f"SELECT DISTINCT {_COLUMNS} FROM presence p JOIN current_state c"
                    f" ON c.state_key = p.user_id AND c.type = '{MEMBER}' AND c.membership = 'join'"
                    f" WHERE c.room_id = ANY($1::text[]) AND p.stream_pos <= $2"
                    f" AND p.state <> '{OFFLINE}'",
                    list(req.new_rooms), now,
                )
                for r in met:
                    changed.setdefault(r["user_id"], r)
        at = now_ms()
        events = []
        for user_id in sorted(changed):
            rec = PresenceRecord.from_row(changed[user_id])
            if not req.filter.presence.matches_type_and_sender(PRESENCE, user_id):
                continue
            # An initial sync shows who is around: skip those offline by now.
            if since is None and user_id != user and effective_state(rec, at, cfg) == OFFLINE:
                continue
            events.append(presence_event(rec, at, cfg))
        out.add_events("presence", events)
        return now
