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
from actors.federation_sender.forwarding import mark_for_forwarding
from actors.keyed_lock import KeyedLock
from actors.room_server import (
    aliases,
    invite,
    make_join,
    membership,
    outside_room,
    received_pdu,
    remote_join,
    remote_membership,
    send_join,
)
from actors.room_server.create_room import CreateRoomPlan, plan_create_room
from actors.room_server.event_builder import EventSpec, authorise, build_event
from actors.room_server.inbound_service import FederationInbound
from actors.room_server.notify import notify_sync
from actors.room_server.persist import NewEvent, PersistedEvent, persist_batch
from actors.room_server.remote import Remote
from actors.room_server.room_state import RoomCache, RoomState, load_room
from actors.search.api import notify_search
from protocol import power_levels as pl
from protocol.errors import MatrixError, forbidden, invalid_param, not_found
from protocol.event_ids import compute_event_id
from protocol.events import CREATE, MEMBER, POWER_LEVELS, REDACTION, Event
from protocol.identifiers import is_valid_room_alias, is_valid_user_id, server_name_of
from protocol.redaction import redact_pdu
from protocol.room_versions import room_version
from protocol.signing import sign_event

T = TypeVar("T")


class RoomServerService(FederationInbound):
    def __init__(self, ctx: Context, shard: int) -> None:
        self.ctx = ctx
        self.shard = shard
        self.rooms = RoomCache()
        self._locks = KeyedLock()
        # Other servers, for rooms we join or serve over federation; made on first use.
        self.remote: Remote | None = None

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
        self, room: RoomState | None, specs: list[EventSpec | Event], *, room_id: str,
        version_id: str | None = None, prebuilt_create: Event | None = None,
        also: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
        then: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
    ) -> list[Event]:
        """Build, authorise and persist `specs` in order as one transaction; update the cache.

        An `Event` among `specs` is one already built (by another server) and
        is only authorised. `also` writes more in the same transaction (it
        runs first, so its failure leaves nothing behind); `then` runs after
        the events are written, still inside it.
        """
        version = room.version if room else room_version(version_id or "")
        scratch = room.copy() if room else None
        ts = now_ms()
        batch: list[NewEvent] = []
        for item in specs:
            if isinstance(item, Event):
                event = item
                spec = EventSpec(event.type, event.sender, event.content, event.state_key,
                                 event.redacts)
            elif prebuilt_create is not None and item.type == CREATE and scratch is None:
                spec = item
                event = prebuilt_create
            else:
                spec = item
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
            if then is not None:
                await then(conn)
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
            known = await self._known_room(room_id)
            if known is None or not self._is_resident(known):
                return await self._membership_elsewhere(
                    known, room_id, sender, target, action, reason, (extra or {}).get("via", []))
            room = known
            membership.check_action(room, sender, target, action)
            content = await self._member_content(room, target, action, reason, extra or {})
            current = room.state_event(MEMBER, target)
            if current is not None and current.sender == sender and current.content == content:
                return current.event_id
            spec = EventSpec(MEMBER, sender, content, target)
            if action == "invite" and server_name_of(target) != self.ctx.server_name:
                return await self._invite_remote(room, spec)
            return (await self._commit(room, [spec], room_id=room_id))[0].event_id

        return await self._serialised(room_id, work)

    async def membership_by_alias(
        self, alias: str, user_id: str, action: str, reason: str | None,
        via: list[str] | None = None,
    ) -> str:
        """Join or knock on the room an alias names; returns the room ID.

        Another server's alias is resolved with its `/query/directory`, whose
        servers are the first to ask for the join.
        """
        servers: list[str] = []
        if server_name_of(alias) == self.ctx.server_name:
            row = await aliases.lookup(self.ctx.pool, alias)
            if row is None:
                raise not_found("Room alias not found")
            room_id = row["room_id"]
        else:
            room_id, servers = await remote_membership.resolve_alias(self._remote(), alias)
        await self.ctx.router.call(
            "room_server", room_id, "update_membership", room_id, user_id, user_id, action,
            reason, {"via": [*servers, *(via or [])]},
        )
        return room_id

    # --- membership over federation: our users ------------------------------

    async def _membership_elsewhere(
        self, room: RoomState | None, room_id: str, sender: str, target: str, action: str,
        reason: str | None, via: list[str],
    ) -> str:
        """Join, knock, or leave (reject an invite, retract a knock) through another server."""
        current = room.membership(target) if room else None
        if sender != target or action not in ("join", "knock", "leave") or (
                action == "leave" and current not in ("invite", "knock")):
            if room is None:
                raise not_found("Unknown room")
            raise forbidden("This server is not in the room")
        if action == "knock" and current == "knock":
            return room.state[(MEMBER, target)] if room else ""
        servers = remote_membership.servers_to_ask(
            room, room_id, target, via, self.ctx.server_name)
        if not servers:
            raise not_found("Unknown room, and no server to ask about it")
        async with self.ctx.pool.acquire() as conn:
            content = (await membership.profile_content(conn, target)
                       if action != "leave" else {})
        if reason is not None:
            content["reason"] = reason
        remote = self._remote()
        done = await remote_join.handshake(
            remote, servers, room_id, target, action, content,
            server_name=self.ctx.server_name, signing_key=self.ctx.signing_key, now_ms=now_ms())
        if action == "join":
            try:
                joined = await remote_join.check_join_answer(remote, done, room_id)
            except remote_join.BadAnswer as e:
                raise MatrixError(502, "M_UNKNOWN", f"{done.server}: {e}") from None
            creator = _empty_room(room_id, joined.events[joined.state[(CREATE, "")]]).creator
            async with self.ctx.pool.acquire() as conn, conn.transaction():
                persisted = await outside_room.persist_join(
                    conn, writer=self.shard, room=room, room_id=room_id, joined=joined,
                    creator=creator, now_ms=now_ms())
            await self._after_outside(room_id, joined.join, persisted, room)
            return joined.join.event_id
        event = done.event
        if action == "knock":
            state = done.answer.get("knock_room_state")
            # Kept with the event for /sync: the room as the resident describes it.
            event = Event({**event.pdu, "unsigned": {"knock_room_state": state}},
                          event.room_version, event.event_id)
        await self._persist_outside(room, room_id, event, remote_membership.creator_from(
            done.answer.get("knock_room_state"), event))
        return event.event_id

    async def _invite_remote(self, room: RoomState, spec: EventSpec) -> str:
        """Invite another server's user: they co-sign the invite before we persist it."""
        event = build_event(room, spec, version=room.version, room_id=room.room_id,
                            server_name=self.ctx.server_name,
                            signing_key=self.ctx.signing_key, now_ms=now_ms())
        authorise(room, event)
        async with self.ctx.pool.acquire() as conn:
            room_state = await send_join.stripped_state_pdus(conn, room, spec.sender)
        signed = await remote_membership.exchange_invite(
            self._remote(), event, room_state)
        return (await self._commit(room, [signed], room_id=room.room_id))[0].event_id

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

    # --- membership over federation: the resident side ---------------------

    def _remote(self) -> Remote:
        if self.remote is None:
            # The same client and key fetcher as the inbound room events.
            effects = self._effects()
            self.remote = Remote(effects.client, effects.fetch_keys)  # type: ignore[arg-type]
        return self.remote

    async def _resident_room(self, room_id: str) -> RoomState:
        """A room this server is in (a local user joined), else 404 for other servers."""
        room = await self._known_room(room_id)
        if room is None or not self._is_resident(room):
            raise not_found("This server is not in the room")
        return room

    async def _known_room(self, room_id: str) -> RoomState | None:
        try:
            return await self._room(room_id)
        except MatrixError as e:
            if e.status == 404:
                return None
            raise

    def _is_resident(self, room: RoomState) -> bool:
        return any(server_name_of(u) == self.ctx.server_name for u in room.joined_members())

    async def make_membership(
        self, room_id: str, user_id: str, kind: str, origin: str, versions: list[str] | None
    ) -> dict[str, Any]:
        """make_join / make_leave / make_knock: the template `user_id` should sign."""
        room = await self._resident_room(room_id)
        make_join.check_request(room, user_id, origin, versions)
        content: dict[str, Any] = {}
        if kind == "join":
            async with self.ctx.pool.acquire() as conn:
                authoriser = await membership.restricted_join_authoriser(
                    conn, room, user_id, self.ctx.server_name)
            if authoriser:
                content["join_authorised_via_users_server"] = authoriser
        return make_join.template(room, user_id, kind, content,
                                  server_name=self.ctx.server_name,
                                  signing_key=self.ctx.signing_key, now_ms=now_ms())

    async def send_membership(
        self, room_id: str, event_id: str, pdu: Any, kind: str, origin: str
    ) -> dict[str, Any]:
        """send_join / send_leave / send_knock: accept the signed event, answer the spec's way."""
        room = await self._resident_room(room_id)
        event = received_pdu.parse_pdu(pdu, room.version, room_id=room_id, event_id=event_id)
        received_pdu.check_member_event(event, kind, origin)
        await received_pdu.check_signed(event, self._remote())
        authoriser = event.content.get("join_authorised_via_users_server")
        # A restricted join one of our users authorises needs our signature too.
        co_sign = (kind == "join" and is_valid_user_id(authoriser)
                   and server_name_of(authoriser) == self.ctx.server_name)
        if co_sign:
            event = Event(sign_event(event.pdu, room.version, self.ctx.server_name,
                                     self.ctx.signing_key), room.version, event.event_id)

        async def work() -> dict[str, Any]:
            room = await self._resident_room(room_id)
            before = dict(room.state)
            if await self.ctx.pool.fetchval(
                    "SELECT 1 FROM events WHERE event_id = $1", event.event_id) is None:
                await self._commit(room, [event], room_id=room_id,
                                   then=lambda conn: mark_for_forwarding(conn, event.event_id, origin))
            else:
                # A retry: answer again from the state as it is now.
                before = {k: v for k, v in room.state.items() if v != event.event_id}
            async with self.ctx.pool.acquire() as conn:
                if kind == "join":
                    return await send_join.join_response(conn, room, before, event,
                                                         self.ctx.server_name, co_sign)
                if kind == "knock":
                    return {"knock_room_state": await send_join.stripped_state_pdus(conn, room)}
            return {}

        return await self._serialised(room_id, work)

    async def receive_invite(
        self, room_id: str, event_id: str, body: Any, origin: str
    ) -> dict[str, Any]:
        """`PUT /v2/invite`: check, co-sign and store a remote server's invite of our user."""
        event, room_state = invite.parse_invite_request(
            body, room_id, event_id, origin, self.ctx.server_name)
        target = event.state_key or ""
        if await self.ctx.pool.fetchval(
                "SELECT 1 FROM users WHERE user_id = $1 AND NOT deactivated", target) is None:
            raise not_found("Unknown user")
        await received_pdu.check_signed(event, self._remote())
        signed = sign_event(event.pdu, event.room_version, self.ctx.server_name,
                            self.ctx.signing_key)
        # Kept with the event for /sync: the room as the inviter describes it.
        stored = Event({**signed, "unsigned": {"invite_room_state": room_state}},
                       event.room_version, event.event_id)
        creator = remote_membership.creator_from(room_state, event)

        async def work() -> dict[str, Any]:
            room = await self._known_room(room_id)
            if room is not None and room.version.identifier != event.room_version.identifier:
                raise invite.invalid("The room's version is not the one we know")
            done = await self.ctx.pool.fetchval(
                "SELECT 1 FROM events WHERE event_id = $1", event.event_id)
            if done is None and room is not None and self._is_resident(room):
                # A room we are in: its state says more than the inviter's summary.
                await self._commit(room, [Event(signed, event.room_version, event.event_id)],
                                   room_id=room_id)
            elif done is None:
                await self._persist_outside(room, room_id, stored, creator)
            return {"event": signed}

        return await self._serialised(room_id, work)

    async def _persist_outside(
        self, room: RoomState | None, room_id: str, event: Event, creator: str
    ) -> None:
        """An invite, knock or leave of a room we are not in, on the state we last knew."""
        async with self.ctx.pool.acquire() as conn, conn.transaction():
            persisted = await outside_room.persist_membership(
                conn, writer=self.shard, room=room, room_id=room_id, event=event,
                creator=room.creator if room else creator, now_ms=now_ms())
        await self._after_outside(room_id, event, persisted, room)

    async def _after_outside(
        self, room_id: str, event: Event, persisted: PersistedEvent, old: RoomState | None
    ) -> None:
        self.rooms.drop(room_id)
        room = await self._room(room_id)
        before = set(old.joined_members()) if old else set()
        notify_sync(self.ctx.router, room, [event], [persisted], before)

    async def query_directory(self, alias: str) -> dict[str, Any]:
        """`/query/directory`: our alias's room and servers that can help join it."""
        if not is_valid_room_alias(alias) or server_name_of(alias) != self.ctx.server_name:
            raise not_found("Room alias not found")
        row = await aliases.lookup(self.ctx.pool, alias)
        if row is None:
            raise not_found("Room alias not found")
        users = await self.ctx.pool.fetch(
            "SELECT state_key FROM current_state WHERE room_id = $1"
            " AND type = 'm.room.member' AND membership = 'join'", row["room_id"])
        servers = {server_name_of(r["state_key"]) for r in users}
        servers.discard(self.ctx.server_name)
        return {"room_id": row["room_id"], "servers": [self.ctx.server_name, *sorted(servers)]}

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
