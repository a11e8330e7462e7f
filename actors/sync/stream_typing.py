"""The typing stream in /sync: `m.typing` in each joined room's `ephemeral`.

Typing lives in the memory of the typing shards (by room ID), so the source
asks them: `current` is the highest clock of the shards owning the user's
rooms (and at least the client's position), `fill` asks each for the rooms
changed up to it, which also moves each shard's clock up to it
(actors/typing/service.py explains why this never misses a change). A shard that does not answer
leaves its rooms out of this response, and the position stays where the
client was, so nothing is lost but latency.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from actors.sync.streams import StreamOutput, StreamRequest, StreamSource

TYPING = "m.typing"
COMPONENT = "typing"
log = logging.getLogger("dendray.sync")


class TypingSource(StreamSource):
    name = "typing"

    def _rooms_by_shard(self, req: StreamRequest) -> dict[int, list[str]]:
        f = req.filter.room.ephemeral
        if not f.matches_type(TYPING):
            return {}
        router = self.ctx.router
        by_shard: dict[int, list[str]] = {}
        for room_id in req.joined_rooms:
            if f.matches_room(room_id):
                by_shard.setdefault(router.shard_for(COMPONENT, room_id), []).append(room_id)
        return by_shard

    async def current(self, conn: Any, req: StreamRequest) -> int:
        shards = self._rooms_by_shard(req)
        fallback = req.since_pos(self.name) or 0
        if not shards:
            return fallback
        router = self.ctx.router
        try:
            clocks = await asyncio.gather(*(
                router.call_shard(COMPONENT, shard, "clock") for shard in shards
            ))
        except Exception as e:  # noqa: BLE001 - typing is best effort, the sync goes on
            log.warning("typing shards unavailable: %s", e)
            return fallback
        return max(fallback, *clocks)

    async def fill(self, conn: Any, req: StreamRequest, now: int, out: StreamOutput) -> int:
        shards = self._rooms_by_shard(req)
        since = req.since_pos(self.name)
        if not shards:
            return now
        router = self.ctx.router
        new_rooms = list(req.new_rooms)
        try:
            answers = await asyncio.gather(*(
                router.call_shard(COMPONENT, shard, "changes", rooms, since, now, new_rooms)
                for shard, rooms in shards.items()
            ))
        except Exception as e:  # noqa: BLE001 - typing is best effort, the sync goes on
            log.warning("typing shards unavailable: %s", e)
            return since or 0
        for answer in answers:
            for room_id, users in answer.items():
                out.add_room_events(
                    room_id, "ephemeral", [{"type": TYPING, "content": {"user_ids": users}}]
                )
        return now
