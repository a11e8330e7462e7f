"""The room server's methods for room events from other servers.

A mixin of `RoomServerService` (which provides the context, the room cache,
the per-room lock and shard ownership); the work itself is in
`receive_pdus`, `accept_event`, `state_at_event` and the read modules.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from actors.context import Context
from actors.room_server.accept_event import InboundRoom
from actors.room_server.backfill import backfill_room
from actors.room_server.federation_reads import RoomReads
from actors.room_server.federation_requests import InboundEffects, default_inbound_effects
from actors.room_server.receive_pdus import PduResults, announce, group_by_room, receive_room_pdus
from actors.room_server.room_state import RoomCache, RoomState
from actors.sync.state_groups import StateGroupReader
from protocol.errors import MatrixError, not_found

log = logging.getLogger(__name__)


class FederationInbound:
    # Provided by RoomServerService.
    ctx: Context
    shard: int
    rooms: RoomCache
    _room: Callable[[str], Awaitable[RoomState]]
    _owns: Callable[[str], bool]
    _serialised: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]

    # Set by tests to a fake remote server; built from the config on first use otherwise.
    inbound_effects: InboundEffects | None = None
    _state_reader: StateGroupReader | None = None

    def _effects(self) -> InboundEffects:
        if self.inbound_effects is None:
            self.inbound_effects = default_inbound_effects(self.ctx)
        return self.inbound_effects

    def state_reader(self) -> StateGroupReader:
        if self._state_reader is None:
            self._state_reader = StateGroupReader()
        return self._state_reader

    async def inbound_room(self, room_id: str, origin: str) -> InboundRoom:
        """A unit of inbound work on a room we know; call it under the room's lock."""
        room = await self._room(room_id)
        return InboundRoom(self.ctx.pool, self.shard, room, self._effects(),
                           self.state_reader(), origin)

    async def receive_pdus(self, origin: str, pdus: list[Any]) -> PduResults:
        """The PDUs of a `/send` transaction from `origin`; the answer's `pdus` object."""
        results: PduResults = {}
        rooms = group_by_room(pdus)
        answers = await asyncio.gather(*(
            self._receive_room(origin, room_id, room_pdus) for room_id, room_pdus in rooms.items()
        ))
        for answer in answers:
            results.update(answer)
        return results

    async def _receive_room(
        self, origin: str, room_id: str, pdus: list[dict[str, Any]]
    ) -> PduResults:
        if not self._owns(room_id):
            return await self.ctx.router.call(
                "room_server", room_id, "receive_pdus", origin, pdus)

        async def work() -> PduResults:
            try:
                inbound = await self.inbound_room(room_id, origin)
            except MatrixError:
                log.info("PDUs from %s for unknown room %s dropped", origin, room_id)
                return {}
            joined_before = inbound.room.joined_members()
            try:
                return await receive_room_pdus(inbound, pdus)
            except BaseException:
                # The cache may have seen part of the work: reload the room next time.
                self.rooms.drop(room_id)
                raise
            finally:
                announce(self.ctx.router, inbound, joined_before)

        return await self._serialised(room_id, work)

    async def backfill_history(self, room_id: str, limit: int) -> int:
        """Fetch older history of a room that began elsewhere; how many events were added."""
        async def work() -> int:
            inbound = await self.inbound_room(room_id, self.ctx.server_name)
            try:
                return await backfill_room(inbound, self.ctx.server_name, limit)
            except BaseException:
                self.rooms.drop(room_id)
                raise

        return await self._serialised(room_id, work)

    # --- serving the room to other servers ------------------------------------

    async def _reads(self, origin: str, room_id: str) -> RoomReads:
        return RoomReads(self.ctx.pool, self.state_reader(), await self._room(room_id), origin)

    async def serve_state_ids(self, origin: str, room_id: str, event_id: str) -> dict[str, Any]:
        return await (await self._reads(origin, room_id)).state_ids(event_id)

    async def serve_state(self, origin: str, room_id: str, event_id: str) -> dict[str, Any]:
        return await (await self._reads(origin, room_id)).state(event_id)

    async def serve_event_auth(self, origin: str, room_id: str, event_id: str) -> dict[str, Any]:
        return await (await self._reads(origin, room_id)).event_auth(event_id)

    async def serve_backfill(
        self, origin: str, room_id: str, from_ids: list[str], limit: int
    ) -> dict[str, Any]:
        return await (await self._reads(origin, room_id)).backfill(from_ids, limit)

    async def serve_missing_events(
        self, origin: str, room_id: str, earliest: list[str], latest: list[str],
        limit: int, min_depth: int,
    ) -> dict[str, Any]:
        reads = await self._reads(origin, room_id)
        return await reads.missing_events(earliest, latest, limit, min_depth)

    async def serve_event(self, origin: str, event_id: str) -> dict[str, Any]:
        """`/event/{eventId}`: any shard finds the event's room and asks its owner."""
        room_id = None
        if "\x00" not in event_id:
            room_id = await self.ctx.pool.fetchval(
                "SELECT room_id FROM events WHERE event_id = $1", event_id)
        if room_id is None:
            raise not_found("Unknown event")
        if not self._owns(room_id):
            return await self.ctx.router.call(
                "room_server", room_id, "serve_event", origin, event_id, idempotent=True)
        return await (await self._reads(origin, room_id)).event(event_id)
