"""Backfill: fetching a room's older history from the servers in it (`/backfill`).

Used when a local user pages back past the oldest event we hold in a room
whose history began on another server (our oldest live event is not the
create event). The events are checked like received PDUs, except that the
present does not judge the past (no soft failure), and they change neither
the current state nor the forward extremities.

Placement: backfilled events take room sequence numbers below our oldest
event (so `/messages` pages into them) and stream positions of a separate
writer, `-(shard + 1)`. Sync tokens only hold writers 0 and up, so no token
ever covers such a position: backfilled events never show up as new in an
incremental `/sync`, and `/messages` reaches them by room order alone.
"""

from __future__ import annotations

import logging

from actors.room_server.accept_event import InboundRoom
from actors.room_server.federation_requests import backfill
from actors.room_server.inbound_checks import Dropped, check_received, event_id_of
from actors.room_server.store_remote import Placement
from protocol.events import CREATE, Event

log = logging.getLogger(__name__)

MAX_BACKFILL = 100


def backfill_writer(shard: int) -> int:
    return -(shard + 1)


async def backfill_room(inbound: InboundRoom, our_server: str, limit: int) -> int:
    """Fetch up to `limit` events before our oldest one; how many became history."""
    room = inbound.room
    oldest = await inbound.pool.fetchrow(
        "SELECT event_id, type, room_seq FROM events WHERE room_id = $1 AND NOT outlier"
        " AND rejected_reason IS NULL ORDER BY room_seq LIMIT 1", room.room_id)
    if oldest is None or oldest["type"] == CREATE:
        return 0
    servers = sorted({u.partition(":")[2] for u, m in room.members.items() if m == "join"}
                     - {our_server})
    limit = max(1, min(limit, MAX_BACKFILL))
    for server in servers:
        pdus = await backfill(inbound.effects.client, server, room.room_id,
                              [oldest["event_id"]], limit + 1)
        inbound.origin = server
        # Below every event of the room, outliers included: room_seq is unique per room.
        lowest = await inbound.pool.fetchval(
            "SELECT min(room_seq) FROM events WHERE room_id = $1", room.room_id)
        placed = await _place(inbound, pdus, min(lowest, oldest["room_seq"]))
        if placed:
            return placed
    return 0


async def _place(inbound: InboundRoom, pdus: list[dict], below_seq: int) -> int:
    """Check and store the fetched events oldest first, numbered just below `below_seq`."""
    version = inbound.room.version
    new: dict[str, Event] = {}
    promote: dict[str, Event] = {}
    for pdu in pdus:
        try:
            event_id = event_id_of(pdu, version)
            if event_id in new or event_id in promote:
                continue
            if await inbound.known(event_id):
                facts = inbound.cache.facts[event_id]
                stored = inbound.cache.events[event_id]
                if facts.outlier and not facts.soft_failed and not stored.rejected:
                    promote[event_id] = stored
                continue
            received = await check_received(pdu, version, inbound.room.room_id,
                                            inbound.effects.fetch_keys)
        except Dropped as e:
            log.info("dropping a backfilled event: %s", e)
            continue
        new[event_id] = received.event
    ordered = sorted([*new.values(), *promote.values()], key=lambda e: (e.depth, e.event_id))
    writer = backfill_writer(inbound.writer)
    placed = 0
    for i, event in enumerate(ordered):
        placement = Placement(writer, below_seq - (len(ordered) - i))
        try:
            if event.event_id in promote:
                await inbound.promote_outlier(event.event_id, placement)
            else:
                await inbound.accept_historical(event, placement)
        except Dropped as e:
            log.info("dropping backfilled %s: %s", event.event_id, e)
            continue
        placed += 1
    return placed
