"""The sync component: every client read of room data, and the /sync long-poll.

Sharded by user ID: a shard serves the reads of its users and wakes their
long-polls when a room server says something was committed for them
(`on_new_event`). Everything is read from PostgreSQL; what the shard holds
in memory (state groups, room versions, waiters, lazy-loading knowledge) is
a cache that a restart simply rebuilds or forgets.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from actors.context import Context, now_ms
from actors.sync import context as event_context
from actors.sync import (
    device_list_changes,
    directory,
    event_store,
    filter_store,
    messages,
    remote_directory,
    room_state,
    search_support,
    space_hierarchy,
)
from actors.sync.event_access import EventAccess, Viewer
from actors.sync.filters import holds_nul, parse_sync_filter
from actors.sync.notifier import Notifier
from actors.sync.state_groups import StateGroupReader
from actors.sync.streams import stream_sources
from actors.sync.sync_handler import SyncHandler
from actors.sync.sync_token import parse_sync_token
from federation.client import FederationClient
from protocol.errors import bad_json, forbidden, invalid_param, not_found
from protocol.identifiers import is_valid_server_name

# How long a sync waits for the presence shard before going on without it.
PRESENCE_WAIT_S = 2.0
log = logging.getLogger("dendray.sync")


class SyncService:
    def __init__(self, ctx: Context, shard: int) -> None:
        self.ctx = ctx
        self.shard = shard
        self.access = EventAccess(StateGroupReader())
        self.notifier = Notifier()
        self.handler = SyncHandler(
            ctx.pool, self.access, self.notifier,
            writer_count=ctx.config.shard_count("room_server"),
            max_timeout_ms=ctx.config.limits.max_sync_timeout_ms,
            sources=stream_sources(ctx),
        )
        # Made on first use (tests put a fake here).
        self.federation: Any = None

    def _federation(self) -> Any:
        if self.federation is None:
            self.federation = FederationClient(self.ctx.config)
        return self.federation

    @property
    def writer_count(self) -> int:
        return max(self.ctx.config.shard_count("room_server"), len(self.notifier.current.writers))

    async def recover(self) -> None:
        """Learn where every writer is; the caches fill as requests come."""
        async with self.ctx.pool.acquire() as conn:
            self.notifier.advance(await event_store.writer_positions(conn))

    # --- called by room servers --------------------------------------------------

    async def on_new_event(self, writer: int, pos: int, room_id: str, user_ids: list[str]) -> None:
        self.notifier.on_new_event(writer, pos, room_id, user_ids)

    async def on_stream(self, stream: str, pos: int, user_ids: list[str]) -> None:
        """A change at `pos` of a non-room stream concerns these users (streams.py)."""
        self.notifier.on_stream(stream, pos, user_ids)

    # --- /sync and filters -------------------------------------------------------

    async def sync(
        self,
        user_id: str,
        device_id: str | None,
        *,
        filter: str | None = None,
        since: str | None = None,
        full_state: bool = False,
        timeout_ms: int = 0,
        use_state_after: bool = False,
        set_presence: str | None = None,
    ) -> dict[str, Any]:
        request = await self.handler.request(
            user_id, device_id, filter_param=filter, since=since, full_state=full_state,
            timeout_ms=timeout_ms, use_state_after=use_state_after,
        )
        await self._note_syncing(user_id, set_presence or "online", request.timeout_ms)
        return await self.handler.sync(request)

    async def _note_syncing(self, user_id: str, set_presence: str, timeout_ms: int) -> None:
        """Tell the user's presence shard a sync runs until at most now + timeout.

        Awaited, so a user coming online sees it in this very response; but
        briefly, since presence must never hold up a sync.
        """
        if not self.ctx.config.presence.enabled or set_presence == "offline":
            return
        try:
            await asyncio.wait_for(self.ctx.router.call(
                "presence", user_id, "user_syncing", user_id, set_presence, now_ms() + timeout_ms,
            ), PRESENCE_WAIT_S)
        except Exception as e:  # noqa: BLE001 - presence is best effort here
            log.warning("presence not told of %s's sync: %r", user_id, e)

    async def create_filter(
        self, requester: str, user_id: str, definition: dict[str, Any]
    ) -> dict[str, Any]:
        if requester != user_id:
            raise forbidden("Cannot create filters for other users")
        parse_sync_filter(definition, bad_json)
        if holds_nul(definition):
            raise bad_json("Filters cannot contain U+0000")
        return {"filter_id": await filter_store.create_filter(self.ctx.pool, user_id, definition)}

    async def get_filter(self, requester: str, user_id: str, filter_id: str) -> dict[str, Any]:
        if requester != user_id:
            raise forbidden("Cannot read filters of other users")
        definition = await filter_store.get_filter(self.ctx.pool, user_id, filter_id)
        if definition is None:
            raise not_found("No such filter")
        return definition

    # --- GET /keys/changes -------------------------------------------------------------

    async def key_changes(self, user_id: str, from_token: str, to_token: str) -> dict[str, Any]:
        """Users whose device lists changed between two sync tokens (spec: /keys/changes)."""
        since = parse_sync_token(from_token, "from")
        upto = parse_sync_token(to_token, "to")
        async with self.ctx.pool.acquire() as conn:
            changes = await device_list_changes.changes(
                conn, user_id, since, upto.stream_pos("device_lists"), upto
            )
        return changes.json()

    # --- room reads ----------------------------------------------------------------

    async def messages(
        self,
        user_id: str,
        device_id: str | None,
        room_id: str,
        *,
        direction: str,
        from_token: str | None = None,
        to_token: str | None = None,
        limit: int | None = None,
        filter: str | None = None,
    ) -> dict[str, Any]:
        query = messages.MessagesQuery(room_id, direction, from_token, to_token, limit, filter)
        async with self.ctx.pool.acquire() as conn:
            return await messages.messages(
                conn, self.access, Viewer(user_id, device_id), query, self.writer_count,
                backfill=self._backfill,
            )

    async def _backfill(self, room_id: str, limit: int) -> int:
        """Ask the room's server shard for older history from other servers.

        The page is served with what we hold if that fails: older history is
        a best effort, and the next request asks again.
        """
        try:
            return await self.ctx.router.call(
                "room_server", room_id, "backfill_history", room_id, limit)
        except Exception as e:  # noqa: BLE001 - any failure means "no more history now"
            log.info("backfill of %s failed: %s", room_id, e)
            return 0

    async def context(
        self,
        user_id: str,
        device_id: str | None,
        room_id: str,
        event_id: str,
        *,
        limit: int | None = None,
        filter: str | None = None,
    ) -> dict[str, Any]:
        query = event_context.ContextQuery(room_id, event_id, limit, filter)
        async with self.ctx.pool.acquire() as conn:
            return await event_context.context(conn, self.access, Viewer(user_id, device_id), query)

    async def event(
        self, user_id: str, device_id: str | None, room_id: str, event_id: str
    ) -> dict[str, Any]:
        async with self.ctx.pool.acquire() as conn:
            return await event_context.event(
                conn, self.access, Viewer(user_id, device_id), room_id, event_id
            )

    async def state(self, user_id: str, device_id: str | None, room_id: str) -> list[dict[str, Any]]:
        async with self.ctx.pool.acquire() as conn:
            return await room_state.room_state(conn, self.access, Viewer(user_id, device_id), room_id)

    async def state_event(
        self,
        user_id: str,
        device_id: str | None,
        room_id: str,
        event_type: str,
        state_key: str,
        format: str = "content",
    ) -> dict[str, Any]:
        async with self.ctx.pool.acquire() as conn:
            return await room_state.state_event(
                conn, self.access, Viewer(user_id, device_id), room_id, event_type, state_key, format
            )

    async def members(
        self,
        user_id: str,
        device_id: str | None,
        room_id: str,
        *,
        at: str | None = None,
        membership: str | None = None,
        not_membership: str | None = None,
    ) -> dict[str, Any]:
        async with self.ctx.pool.acquire() as conn:
            return await room_state.members(
                conn, self.access, Viewer(user_id, device_id), room_id,
                at=at, membership=membership, not_membership=not_membership,
                writer_count=self.writer_count,
            )

    async def joined_members(self, user_id: str, device_id: str | None, room_id: str) -> dict[str, Any]:
        async with self.ctx.pool.acquire() as conn:
            return await room_state.joined_members(
                conn, self.access, Viewer(user_id, device_id), room_id
            )

    async def joined_rooms(self, user_id: str) -> dict[str, Any]:
        async with self.ctx.pool.acquire() as conn:
            return await room_state.joined_rooms(conn, user_id)

    # --- directory -------------------------------------------------------------------

    async def resolve_alias(self, alias: str) -> dict[str, Any]:
        async with self.ctx.pool.acquire() as conn:
            return await directory.resolve_alias(conn, self.ctx.server_name, alias)

    async def room_aliases(self, user_id: str, room_id: str) -> dict[str, Any]:
        async with self.ctx.pool.acquire() as conn:
            return await directory.local_aliases(conn, self.access, user_id, room_id)

    async def room_visibility(self, room_id: str) -> dict[str, Any]:
        async with self.ctx.pool.acquire() as conn:
            return await directory.room_visibility(conn, room_id)

    async def public_rooms(
        self,
        *,
        limit: int | None = None,
        since: str | None = None,
        server: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if body is not None:
            query = directory.parse_public_rooms_body(body, server)
        else:
            query = directory.PublicRoomsQuery(limit=limit, since=since, server=server)
        if server is not None and server != self.ctx.server_name:
            if not is_valid_server_name(server):
                raise invalid_param("Invalid server name")
            return await remote_directory.public_rooms(self._federation(), server, query)
        async with self.ctx.pool.acquire() as conn:
            return await directory.public_rooms(conn, query)

    async def federation_public_rooms(
        self, *, limit: int | None = None, since: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """GET/POST /_matrix/federation/v1/publicRooms: this server's directory."""
        if body is not None:
            query = directory.parse_public_rooms_body(body, None)
        else:
            query = directory.PublicRoomsQuery(limit=limit, since=since)
        async with self.ctx.pool.acquire() as conn:
            return await directory.public_rooms(conn, query)

    async def federation_hierarchy(
        self, origin: str, room_id: str, suggested_only: bool
    ) -> dict[str, Any]:
        """GET /_matrix/federation/v1/hierarchy/{roomId}."""
        async with self.ctx.pool.acquire() as conn:
            return await space_hierarchy.hierarchy(
                conn, self.ctx.server_name, origin, room_id, suggested_only
            )

    # --- for the search component (search_support.py) --------------------------------

    async def searchable_rooms(self, user_id: str) -> list[str]:
        async with self.ctx.pool.acquire() as conn:
            return await search_support.searchable_rooms(conn, user_id)

    async def search_events(
        self, user_id: str, device_id: str | None, event_ids: list[str]
    ) -> list[dict[str, Any]]:
        async with self.ctx.pool.acquire() as conn:
            return await search_support.search_events(
                conn, self.access, Viewer(user_id, device_id), event_ids
            )

    async def search_context(
        self,
        user_id: str,
        device_id: str | None,
        event_ids: list[str],
        *,
        before_limit: int,
        after_limit: int,
        include_profile: bool,
    ) -> dict[str, dict[str, Any]]:
        async with self.ctx.pool.acquire() as conn:
            return await search_support.search_context(
                conn, self.access, Viewer(user_id, device_id), event_ids,
                before_limit=before_limit, after_limit=after_limit, include_profile=include_profile,
            )

    async def search_room_states(
        self, user_id: str, device_id: str | None, room_ids: list[str]
    ) -> dict[str, list[dict[str, Any]]]:
        async with self.ctx.pool.acquire() as conn:
            return await search_support.room_states(
                conn, self.access, Viewer(user_id, device_id), room_ids
            )
