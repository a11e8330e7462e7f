"""The to-device stream in /sync: the syncing device's inbox, in `to_device`.

Reads the accounts component's `to_device_inbox` (one position per message).
A response carries at most `MAX_PER_SYNC` messages; when more wait, its
position stops at the last one sent and the client is answered at once, so
the next sync continues there. A message stays in the inbox until the client
syncs with a `since` at or past its position (it then has the response that
carried it): the sync asks the accounts shard to delete those, fire and
forget, since a lost request only leaves rows the next sync deletes.
"""

from __future__ import annotations

from typing import Any

from actors.sync.streams import StreamOutput, StreamRequest, StreamSource
from storage.stream_positions import current_position

MAX_PER_SYNC = 100
# Acknowledgements remembered per shard, to not repeat them on every long-poll pass.
_MAX_REMEMBERED_ACKS = 100_000


class ToDeviceSource(StreamSource):
    name = "to_device"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._acked: dict[tuple[str, str], int] = {}

    async def current(self, conn: Any, req: StreamRequest) -> int:
        return await current_position(conn, self.name)

    async def fill(self, conn: Any, req: StreamRequest, now: int, out: StreamOutput) -> int:
        device = req.viewer.device_id
        if device is None:
            return now
        user = req.viewer.user_id
        since = req.since_pos(self.name) or 0
        if since > 0:
            self._acknowledge(user, device, since)
        rows = await conn.fetch(
            "SELECT stream_pos, sender, type, content FROM to_device_inbox"
            " WHERE user_id = $1 AND device_id = $2 AND stream_pos > $3 AND stream_pos <= $4"
            " ORDER BY stream_pos LIMIT $5",
            user, device, since, now, MAX_PER_SYNC + 1,
        )
        sent = rows[:MAX_PER_SYNC]
        out.add_events("to_device", [
            {"sender": r["sender"], "type": r["type"], "content": r["content"]} for r in sent
        ])
        if len(rows) > MAX_PER_SYNC:
            return sent[-1]["stream_pos"]
        return now

    def _acknowledge(self, user: str, device: str, upto: int) -> None:
        key = (user, device)
        if self._acked.get(key, 0) >= upto:
            return
        if len(self._acked) >= _MAX_REMEMBERED_ACKS:
            self._acked.clear()
        self._acked[key] = upto
        router = self.ctx.router
        router.notify("accounts", router.shard_for("accounts", user), "ack_to_device",
                      user, device, upto)
