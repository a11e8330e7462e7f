"""The room server: the one writer of each room's events (sharded by room ID).

Every write to a room runs under that room's lock, in arrival order, inside
a task shielded from the caller's cancellation: a client that disconnects
never leaves a half-made write. Events are built and authorised against the
cached state, persisted in one transaction per request, and only then
applied to the cache and announced to the sync shards.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from actors.context import Context, now_ms
from actors.keyed_lock import KeyedLock
from actors.room_server import aliases, membership
from actors.room_server.create_room import CreateRoomPlan, plan_create_room
from actors.room_server.event_builder import EventSpec, authorise, build_event
from actors.room_server.notify import notify_sync
from actors.room_server.persist import NewEvent, persist_batch
from actors.room_server.room_state import RoomCache, RoomState, load_room
from actors.search.api import notify_search
from protocol import power_levels as pl
from protocol.errors import MatrixError, forbidden, invalid_param, not_found
from protocol.event_ids import compute_event_id
from protocol.events import CREATE, MEMBER, POWER_LEVELS, REDACTION, Event
from protocol.identifiers import is_valid_user_id
from protocol.redaction import redact_pdu
from protocol.room_versions import room_version

T = TypeVar("T")


class RoomServerService:
    def __init__(self, ctx: Context, shard: int) -> None:
        self.ctx = ctx
        self.shard = shard
        self.rooms = RoomCache()
        self._locks = KeyedLock()

    async def recover(self) -> None:
        """Make sure this writer has its position row; room state loads on demand."""
        await self.ctx.pool.execute(
            "INSERT INTO writer_positions (writer, pos) VALUES ($1, 0) ON CONFLICT DO NOTHING",
            self.shard,
        )

    # --- plumbing ----------------------------------------------------------

    async def _serialised(self, room_id: str, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` under the room's lock, to completion even if the caller goes away."""
        async def locked() -> T:
            async with self._locks.hold(room_id):
                return await work()

        return await asyncio.shield(asyncio.ensure_future(locked()))

    async def _room(self, room_id: str) -> RoomState:
        room = self.rooms.get(room_id)
        if room is None:
            async with self.ctx.pool.acquire() as conn:
                room = await load_room(conn, room_id)
            if room is None:
                raise not_found("Unknown room")
            self.rooms.put(room)
        return room

    def _owns(self, room_id: str) -> bool:
        return self.ctx.router.shard_for("room_server", room_id) == self.shard

    async def _commit(
        self, room: RoomState | None, specs: list[EventSpec], *, room_id: str,
        version_id: str | None = None, prebuilt_create: Event | None = None,
        also: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
    ) -> list[Event]:
        """Build, authorise and persist `specs` in order as one transaction; update the cache.

        `also` writes more in the same transaction (it runs first, so its
        failure leaves nothing behind).
        """
        version = room.version if room else room_version(version_id or "")
        scratch = room.copy() if room else None
        ts = now_ms()
        batch: list[NewEvent] = []
        for spec in specs:
            if prebuilt_create is not None and spec.type == CREATE and scratch is None:
                event = prebuilt_create
            else:
                event = build_event(scratch, spec, version=version, room_id=room_id,
                                    server_name=self.ctx.server_name,
                                    signing_key=self.ctx.signing_key, now_ms=ts)
            authorise(scratch, event)
            if scratch is None:
                scratch = _empty_room(room_id, event)
            replaces = scratch.state.get(event.key) if event.is_state else None
            applies = event.type == REDACTION and spec.redacts is not None
            scratch.apply(event, None)
            after = dict(scratch.state) if event.is_state else None
            batch.append(NewEvent(event, spec, after, replaces, applies))
        assert scratch is not None
        base_seq = room.last_seq if room else 0
        async with self.ctx.pool.acquire() as conn, conn.transaction():
            if also is not None:
                await also(conn)
            persisted = await persist_batch(
                conn, writer=self.shard, room_id=room_id, room_version=version.identifier,
                creator=scratch.creator, first_seq=base_seq + 1,
                state_group=room.state_group if room else None, batch=batch, now_ms=ts,
            )
        scratch.state_group = persisted[-1].state_group
        for item in batch:
            if item.applies_redaction:
                _redact_cached(scratch, item.event.redacts or "")
        self.rooms.put(scratch)
        before = set(room.joined_members()) if room else set()
        notify_sync(self.ctx.router, scratch, [i.event for i in batch], persisted, before)
        notify_search(self.ctx.router, room_id, persisted[-1].writer, persisted[-1].stream_pos,
                      (i.event.type for i in batch))
        return [i.event for i in batch]

    # --- creating rooms ----------------------------------------------------

    async def create_room(self, creator: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a room for `creator`; the shard that owns the new room ID does the work."""
        async with self.ctx.pool.acquire() as conn:
            member = await membership.profile_content(conn, creator)
        plan = plan_create_room(body, creator, self.ctx.server_name,
                                self.ctx.config.default_room_version, member)
        if plan.alias:
            await aliases.check_alias_free(self.ctx.pool, plan.alias)
        for invitee in plan.invitees:
            if not is_valid_user_id(invitee):
                raise invalid_param(f"Invalid user ID {invitee}")
        if plan.version.room_id_is_create_event_id:
            create = build_event(None, plan.create, version=plan.version, room_id="",
                                 server_name=self.ctx.server_name,
                                 signing_key=self.ctx.signing_key, now_ms=now_ms())
            room_id = create.room_id
            if not self._owns(room_id):
                return await self.ctx.router.call(
                    "room_server", room_id, "create_room_with", creator, body, create.pdu
                )
            return await self.create_room_with(creator, body, create.pdu)
        room_id = self._local_room_id()
        return await self._create_planned(plan, room_id, None)

    async def create_room_with(
        self, creator: str, body: dict[str, Any], create_pdu: dict[str, Any]
    ) -> dict[str, Any]:
        """Finish a v12 room whose create event another shard built (this shard owns it)."""
        async with self.ctx.pool.acquire() as conn:
            member = await membership.profile_content(conn, creator)
        plan = plan_create_room(body, creator, self.ctx.server_name,
                                self.ctx.config.default_room_version, member)
        create = Event(create_pdu, plan.version, compute_event_id(create_pdu, plan.version))
        return await self._create_planned(plan, create.room_id, create)

    def _local_room_id(self) -> str:
        """A random room ID that this shard owns (pre-v12 IDs are ours to choose)."""
        while True:
            room_id = f"!{secrets.token_urlsafe(18)}:{self.ctx.server_name}"
            if self._owns(room_id):
                return room_id

    async def _create_planned(
        self, plan: CreateRoomPlan, room_id: str, create: Event | None
    ) -> dict[str, Any]:
        async def publish(conn: asyncpg.Connection) -> None:
            # With the events or not at all: a taken alias must not leave a room behind.
            if plan.alias:
                await aliases.insert_alias(conn, plan.alias, room_id, plan.create.sender,
                                           taken=aliases.alias_in_use())
            if plan.visibility == "public":
                await aliases.set_visibility(conn, room_id, "public")

        async def work() -> dict[str, Any]:
            await self._commit(None, [plan.create, *plan.rest], room_id=room_id,
                               version_id=plan.version.identifier, prebuilt_create=create,
                               also=publish)
            return {"room_id": room_id}

        return await self._serialised(room_id, work)

    # --- sending -----------------------------------------------------------

    async def send_event(
        self, room_id: str, sender: str, device_id: str, txn_id: str | None,
        event_type: str, content: dict[str, Any],
    ) -> str:
        """A message event from a client; the same (device, txn_id) returns the same event."""
        if event_type == REDACTION:
            return await self.redact(room_id, sender, device_id, txn_id,
                                     content.get("redacts"), content.get("reason"))
        _check_txn_id(txn_id)

        async def work() -> str:
            if txn_id is not None:
                done = await self._txn_event(sender, device_id, txn_id)
                if done:
                    return done
            room = await self._room(room_id)
            txn = (device_id, txn_id) if txn_id is not None else None
            spec = EventSpec(event_type, sender, content, txn=txn)
            return (await self._commit(room, [spec], room_id=room_id))[0].event_id

        return await self._serialised(room_id, work)

    async def _txn_event(self, user_id: str, device_id: str, txn_id: str) -> str | None:
        return await self.ctx.pool.fetchval(
            "SELECT event_id FROM event_txns WHERE user_id = $1 AND device_id = $2"
            " AND txn_id = $3", user_id, device_id, txn_id,
        )

    async def send_state(
        self, room_id: str, sender: str, event_type: str, state_key: str, content: dict[str, Any]
    ) -> str:
        """A state event from a client; resending the current content sends nothing new."""
        async def work() -> str:
            room = await self._room(room_id)
            current = room.state_event(event_type, state_key)
            if current is not None and current.sender == sender and current.content == content:
                return current.event_id
            if event_type == "m.room.canonical_alias":
                await aliases.check_canonical_alias(self.ctx.pool, room_id, content)
            spec = EventSpec(event_type, sender, content, state_key)
            return (await self._commit(room, [spec], room_id=room_id))[0].event_id

        return await self._serialised(room_id, work)

    async def redact(
        self, room_id: str, sender: str, device_id: str, txn_id: str | None,
        target: Any, reason: Any,
    ) -> str:
        if not isinstance(target, str):
            raise MatrixError(400, "M_BAD_JSON", "A redaction must name the event it redacts")
        if reason is not None and not isinstance(reason, str):
            raise MatrixError(400, "M_BAD_JSON", "'reason' must be a string")
        _check_txn_id(txn_id)
        if "\x00" in target:
            # No event ID holds U+0000, and PostgreSQL cannot even be asked about one.
            raise not_found("Unknown event")

        async def work() -> str:
            if txn_id is not None:
                done = await self._txn_event(sender, device_id, txn_id)
                if done:
                    return done
            room = await self._room(room_id)
            target_sender = await self.ctx.pool.fetchval(
                "SELECT sender FROM events WHERE event_id = $1 AND room_id = $2", target, room_id
            )
            if target_sender is None:
                raise not_found("Unknown event")
            if target_sender != sender:
                pl_event = room.state_event(POWER_LEVELS)
                redact_level = pl.named_level(pl_event.content if pl_event else None,
                                              "redact", room.version)
                if membership.user_level(room, sender) < redact_level:
                    raise forbidden("You may not redact other users' events")
            content: dict[str, Any] = {"reason": reason} if reason is not None else {}
            if room.version.redacts_in_content:
                content["redacts"] = target
            txn = (device_id, txn_id) if txn_id is not None else None
            spec = EventSpec(REDACTION, sender, content, redacts=target, txn=txn)
            return (await self._commit(room, [spec], room_id=room_id))[0].event_id

        return await self._serialised(room_id, work)

    # --- membership --------------------------------------------------------

    async def update_membership(
        self, room_id: str, sender: str, target: str, action: str,
        reason: str | None = None, extra: dict[str, Any] | None = None,
    ) -> str:
        """join / invite / leave / kick / ban / unban / knock, as `sender` on `target`."""
        if action not in membership.ACTIONS:
            raise invalid_param(f"Unknown membership action {action!r}")
        if not is_valid_user_id(target):
            raise invalid_param("Invalid user ID")

        async def work() -> str:
            room = await self._room(room_id)
            membership.check_action(room, sender, target, action)
            content = await self._member_content(room, target, action, reason, extra or {})
            current = room.state_event(MEMBER, target)
            if current is not None and current.sender == sender and current.content == content:
                return current.event_id
            spec = EventSpec(MEMBER, sender, content, target)
            return (await self._commit(room, [spec], room_id=room_id))[0].event_id

        return await self._serialised(room_id, work)

    async def membership_by_alias(
        self, alias: str, user_id: str, action: str, reason: str | None
    ) -> str:
        """Join or knock on the room an alias names; returns the room ID."""
        row = await aliases.lookup(self.ctx.pool, alias)
        if row is None:
            raise not_found("Room alias not found")
        room_id = row["room_id"]
        await self.ctx.router.call(
            "room_server", room_id, "update_membership", room_id, user_id, user_id, action, reason
        )
        return room_id

    async def _member_content(
        self, room: RoomState, target: str, action: str, reason: str | None,
        extra: dict[str, Any],
    ) -> dict[str, Any]:
        content: dict[str, Any] = {"membership": membership.ACTIONS[action]}
        if action in ("join", "invite", "knock") and target.endswith(":" + self.ctx.server_name):
            async with self.ctx.pool.acquire() as conn:
                content.update(await membership.profile_content(conn, target))
                if action == "join":
                    authoriser = await membership.restricted_join_authoriser(
                        conn, room, target, self.ctx.server_name)
                    if authoriser:
                        content["join_authorised_via_users_server"] = authoriser
        if action == "invite" and extra.get("is_direct") is True:
            content["is_direct"] = True
        if reason is not None:
            content["reason"] = reason
        return content

    async def set_member_profile(
        self, room_id: str, user_id: str, displayname: str | None, avatar_url: str | None
    ) -> str | None:
        """Re-send a joined user's member event with their new profile."""
        async def work() -> str | None:
            room = await self._room(room_id)
            current = room.state_event(MEMBER, user_id)
            if current is None or current.membership != "join":
                return None
            content = {k: v for k, v in current.content.items()
                       if k not in ("displayname", "avatar_url")}
            if displayname is not None:
                content["displayname"] = displayname
            if avatar_url is not None:
                content["avatar_url"] = avatar_url
            if content == current.content:
                return current.event_id
            spec = EventSpec(MEMBER, user_id, content, user_id)
            return (await self._commit(room, [spec], room_id=room_id))[0].event_id

        return await self._serialised(room_id, work)

    async def forget_room(self, room_id: str, user_id: str) -> None:
        room = await self._room(room_id)
        if room.membership(user_id) in ("join", "invite", "knock"):
            raise MatrixError(400, "M_UNKNOWN", "You must leave the room before forgetting it")
        await self.ctx.pool.execute(
            "INSERT INTO forgotten_rooms (user_id, room_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            user_id, room_id,
        )

    # --- aliases and the directory -------------------------------------------

    async def create_alias(self, alias: str, room_id: str, user_id: str) -> None:
        aliases.check_alias_is_ours(alias, self.ctx.server_name)
        room = await self._room(room_id)
        if room.membership(user_id) != "join":
            raise forbidden("You must be in the room to give it an alias")
        await aliases.insert_alias(self.ctx.pool, alias, room_id, user_id)

    async def delete_alias(self, alias: str, user_id: str) -> None:
        """Delete `alias`; forwarded to the shard owning its room for the permission check."""
        aliases.check_alias_is_ours(alias, self.ctx.server_name)
        row = await aliases.lookup(self.ctx.pool, alias)
        if row is None:
            raise not_found("Room alias not found")
        if not self._owns(row["room_id"]):
            await self.ctx.router.call("room_server", row["room_id"], "delete_alias", alias, user_id)
            return
        if row["creator"] != user_id:
            room = await self._room(row["room_id"])
            aliases.check_may_manage(room, user_id)
        await aliases.remove_alias(self.ctx.pool, alias)

    async def set_directory_visibility(self, room_id: str, user_id: str, visibility: str) -> None:
        if visibility not in ("public", "private"):
            raise invalid_param("visibility must be 'public' or 'private'")
        room = await self._room(room_id)
        aliases.check_may_manage(room, user_id)
        await aliases.set_visibility(self.ctx.pool, room_id, visibility)


def _check_txn_id(txn_id: str | None) -> None:
    # Transaction IDs are stored as text, which cannot hold U+0000.
    if txn_id is not None and "\x00" in txn_id:
        raise invalid_param("Invalid transaction ID")


def _empty_room(room_id: str, create: Event) -> RoomState:
    version = create.room_version
    creator = create.sender if version.implicit_room_creator else str(
        create.content.get("creator", create.sender))
    return RoomState(room_id=room_id, version=version, creator=creator, state={}, events={},
                     extremities={}, max_depth=0, last_seq=0, state_group=None)


def _redact_cached(room: RoomState, event_id: str) -> None:
    """A redacted state event counts in its redacted form from now on (e.g. for auth)."""
    ev = room.events.get(event_id)
    if ev is not None:
        room.events[event_id] = Event(redact_pdu(ev.pdu, room.version), room.version, event_id)
