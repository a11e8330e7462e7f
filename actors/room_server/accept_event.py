"""Receiving one room's PDUs from another server ("Checks performed on receipt of a PDU").

For each PDU, under the room's lock:

1-3. format, signatures, content hash (`inbound_checks`); a PDU we hold is a no-op;
4. auth against its own auth events, fetched (`/event_auth`, `/event`) and
   stored as outliers when we lack them; failing this rejects it;
5. auth against the state before it: the resolution of its prev events'
   states (`state_at_event`, which fetches missing prev events or the state
   at them); failing this rejects it;
6. auth against the room's current state; failing this soft-fails it (kept,
   but neither shown to clients nor a forward extremity).

An accepted event becomes a forward extremity and the current state becomes
the resolution of the old current state and the state after the event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from actors.room_server import store_remote
from actors.room_server.event_cache import EventCache, StoredFacts
from actors.room_server.federation_requests import InboundEffects, event_auth, get_event
from actors.room_server.inbound_checks import Dropped, check_received, event_id_of
from actors.room_server.room_state import RoomState
from actors.room_server.state_at_event import state_before
from actors.room_server.store_remote import Flags, Placement, StateMap
from actors.sync.state_groups import StateGroupReader
from protocol import power_levels as pl
from protocol.auth_chain import MissingEvent
from protocol.auth_events_selection import auth_types_for_event
from protocol.auth_rules import AuthError, check_auth_events_selection, check_auth_rules
from protocol.events import CREATE, MEMBER, POWER_LEVELS, REDACTION, Event
from protocol.redaction import redact_pdu
from protocol.state_res import resolve_state

log = logging.getLogger(__name__)


@dataclass
class Committed:
    """A live event this unit of work accepted (for wake-ups after it)."""

    event: Event
    writer: int
    stream_pos: int


@dataclass
class InboundRoom:
    """One room's inbound work: the room's cache entry is updated as events commit."""

    pool: asyncpg.Pool
    writer: int
    room: RoomState
    effects: InboundEffects
    groups: StateGroupReader
    origin: str
    cache: EventCache = field(init=False)
    committed: list[Committed] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cache = EventCache(self.pool, self.room.room_id, self.room.version)

    # --- entry points ------------------------------------------------------

    async def receive(self, pdu: Mapping[str, Any], *, fetch_prevs: bool = True) -> None:
        """Handle one PDU as a live event; Dropped if it is not stored at all."""
        event_id = event_id_of(pdu, self.room.version)
        if await self.known(event_id):
            return
        received = await check_received(pdu, self.room.version, self.room.room_id,
                                        self.effects.fetch_keys)
        await self.accept_live(received.event, fetch_prevs=fetch_prevs)

    async def known(self, event_id: str) -> bool:
        return bool(await self.cache.load([event_id]))

    # --- auth events -------------------------------------------------------

    async def ensure_auth_events(self, event: Event) -> None:
        """Have every auth event of `event` stored; Dropped if some cannot be had."""
        missing = set(event.auth_event_ids) - (await self.cache.load(event.auth_event_ids)).keys()
        if not missing:
            return
        chain = await event_auth(self.effects.client, self.origin, self.room.room_id,
                                 event.event_id)
        await self.store_outliers(chain)
        missing -= (await self.cache.load(missing)).keys()
        for event_id in sorted(missing):
            pdu = await get_event(self.effects.client, self.origin, event_id)
            if pdu is not None:
                await self.store_outliers([pdu])
        missing -= (await self.cache.load(missing)).keys()
        if missing:
            raise Dropped(f"could not fetch auth events {sorted(missing)}")

    async def store_outliers(self, pdus: list[dict[str, Any]]) -> None:
        """Check and store fetched events as outliers, auth ancestors first."""
        checked: list[Event] = []
        for pdu in pdus:
            try:
                event_id = event_id_of(pdu, self.room.version)
                if await self.known(event_id):
                    continue
                received = await check_received(pdu, self.room.version, self.room.room_id,
                                                self.effects.fetch_keys)
            except Dropped as e:
                log.info("dropping a fetched event: %s", e)
                continue
            checked.append(received.event)
        by_id = {e.event_id: e for e in checked}
        for event in _auth_order(by_id):
            if not (await self.cache.load(event.auth_event_ids)).keys() >= set(event.auth_event_ids):
                log.info("dropping fetched %s: its auth events are missing", event.event_id)
                continue
            reason = self.auth_against_own(event)
            await self._store(event, Flags(outlier=True, rejected_reason=reason), None, None, None)

    def auth_against_own(self, event: Event) -> str | None:
        """Rejection reason of `event` against its cited auth events (all loaded), or None."""
        cited = [self.cache.events[a] for a in event.auth_event_ids]
        auth_map = {e.key: e for e in cited}
        create = self._create_event()
        if create is not None:
            auth_map.setdefault((CREATE, ""), create)
        try:
            check_auth_events_selection(event, cited)
            check_auth_rules(event, auth_map)
        except AuthError as e:
            return f"auth rule {e.rule}: {e.reason}"
        return None

    def _create_event(self) -> Event | None:
        create_id = self.room.state.get((CREATE, ""))
        return self.cache.events.get(create_id) or self.room.events.get(create_id or "")

    # --- state -------------------------------------------------------------

    async def state_map(self, group: int | None) -> StateMap:
        async with self.pool.acquire() as conn:
            return dict(await self.groups.full_state(conn, group))

    async def resolve(self, state_sets: list[StateMap]) -> StateMap:
        """State resolution over stored events; Dropped if an event in play is unknown."""
        ids = {e for s in state_sets for e in s.values()}
        await self.cache.load_auth_closure(ids)
        try:
            return resolve_state(self.room.version, state_sets, self.cache.get)
        except MissingEvent as e:
            raise Dropped(f"state resolution needs unknown event {e.event_id}") from None

    async def auth_against(self, event: Event, state: StateMap) -> str | None:
        """Rejection reason of `event` against a state map, or None."""
        keys = auth_types_for_event(event.room_version, event.type, event.state_key,
                                    event.sender, event.content)
        wanted = {k: state[k] for k in [*keys, (CREATE, "")] if k in state}
        loaded = await self.cache.load(wanted.values())
        auth_map = {k: loaded[eid] for k, eid in wanted.items() if eid in loaded}
        try:
            check_auth_rules(event, auth_map)
        except AuthError as e:
            return f"auth rule {e.rule}: {e.reason}"
        return None

    # --- live events -------------------------------------------------------

    async def accept_live(self, event: Event, *, fetch_prevs: bool) -> None:
        await self.ensure_auth_events(event)
        before = await state_before(self, event, fetch_prevs=fetch_prevs)
        reason = self.auth_against_own(event) or await self.auth_against(event, before)
        after = dict(before)
        if reason is None and event.is_state:
            after[event.key] = event.event_id
        if reason is not None:
            log.info("rejecting %s: %s", event.event_id, reason)
            await self._store(event, Flags(rejected_reason=reason), before, before, None)
            return
        # Soft failure: the current state would not allow it (e.g. the sender was banned since).
        soft = await self.auth_against(event, self.room.state)
        if soft is not None:
            log.info("soft-failing %s: %s", event.event_id, soft)
            await self._store(event, Flags(outlier=True, soft_failed=True), before, after,
                              before.get(event.key) if event.is_state else None)
            return
        await self._commit_live(event, before, after)

    async def accept_historical(self, event: Event, placement: Placement) -> None:
        """A backfilled event: checked like a received one (no soft failure: the
        present does not judge the past), placed before our history, and
        leaving the current state and forward extremities alone."""
        await self.ensure_auth_events(event)
        before = await state_before(self, event, fetch_prevs=False)
        reason = self.auth_against_own(event) or await self.auth_against(event, before)
        after = dict(before)
        if reason is None and event.is_state:
            after[event.key] = event.event_id
        await self._store(event, Flags(rejected_reason=reason), before, after,
                          before.get(event.key) if event.is_state and reason is None else None,
                          placement)

    async def promote_outlier(self, event_id: str, placement: Placement) -> None:
        """A stored outlier (e.g. state fetched at a join) that backfill met in the
        room's history: give it its state and its place, and make it live."""
        event = self.cache.events[event_id]
        before = await state_before(self, event, fetch_prevs=False)
        after = {**before, event.key: event_id} if event.is_state else dict(before)
        async with self.pool.acquire() as conn, conn.transaction():
            g_before, g_after = await self._store_groups(conn, before, after)
            pos = await store_remote.take_position(conn, placement.writer)
            await store_remote.make_live(conn, event_id, placement, pos, g_before, g_after,
                                         before.get(event.key) if event.is_state else None)
        self.cache.facts[event_id] = StoredFacts(False, False, g_before, g_after)

    async def _commit_live(self, event: Event, before: StateMap, after: StateMap) -> None:
        room = self.room
        old_state = dict(room.state)
        if set(event.prev_event_ids) >= set(room.extremities):
            new_state = after
        else:
            # Not stored yet, but resolution reads it.
            self.cache.events[event.event_id] = event
            # Other forward extremities remain: the room's state merges both branches.
            new_state = await self.resolve([old_state, after])
        new_ids = [eid for eid in new_state.values() if eid not in room.events]
        await self.cache.load(new_ids)
        redacts = await self._redaction_allowed(event)
        async with self.pool.acquire() as conn, conn.transaction():
            g_before, g_after = await self._store_groups(conn, before, after)
            if new_state == after:
                g_current = g_after
            else:
                base = (room.state_group, old_state) if room.state_group is not None else None
                g_current = await store_remote.store_state(conn, room.room_id, new_state, base)
            await store_remote.advance_room(conn, room.room_id, event, old_state, new_state,
                                            g_current)
            if redacts:
                await store_remote.apply_redaction(conn, room.room_id, event)
            pos = await self._insert(conn, event, Flags(), g_before, g_after,
                                     before.get(event.key) if event.is_state else None)
        self._track(event, Flags(), g_before, g_after)
        for prev in event.prev_event_ids:
            room.extremities.pop(prev, None)
        room.extremities[event.event_id] = event.pdu
        room.max_depth = max(room.max_depth, event.depth)
        room.state_group = g_current
        room.state = dict(new_state)
        room.events = {eid: room.events.get(eid) or self.cache.events[eid]
                       for eid in new_state.values()}
        room.members = {sk: room.events[eid].membership or "leave"
                        for (t, sk), eid in new_state.items() if t == MEMBER}
        if redacts and event.redacts in room.events:
            # A redacted state event counts in its redacted form from now on.
            target = room.events[event.redacts]
            room.events[target.event_id] = Event(redact_pdu(target.pdu, room.version),
                                                 room.version, target.event_id)
        self.committed.append(Committed(event, self.writer, pos))

    async def _redaction_allowed(self, event: Event) -> bool:
        """Apply a redaction now if its target is here and the sender may redact it.

        From room version 3 the auth rules no longer check this: the server
        does, before serving the redacted form (same server, or enough power).
        """
        if event.type != REDACTION or not event.redacts:
            return False
        target = (await self.cache.load([event.redacts])).get(event.redacts)
        if target is None:
            return False
        if target.origin == event.origin:
            return True
        pl_event = self.room.state_event(POWER_LEVELS)
        create = self.room.state_event(CREATE)
        level = pl.user_power_level(event.sender, pl_event.content if pl_event else None,
                                    create, self.room.version)
        return level >= pl.named_level(pl_event.content if pl_event else None, "redact",
                                       self.room.version)

    # --- storing -----------------------------------------------------------

    async def _store_groups(
        self, conn: asyncpg.Connection, before: StateMap, after: StateMap
    ) -> tuple[int, int]:
        base = None
        if self.room.state_group is not None:
            base = (self.room.state_group, dict(self.room.state))
        g_before = await store_remote.store_state(conn, self.room.room_id, before, base)
        g_after = await store_remote.store_state(conn, self.room.room_id, after, (g_before, before))
        return g_before, g_after

    async def _store(
        self, event: Event, flags: Flags, before: StateMap | None, after: StateMap | None,
        replaces: str | None, placement: Placement | None = None,
    ) -> None:
        """Store an event that leaves the room's present alone (not live, or history)."""
        async with self.pool.acquire() as conn, conn.transaction():
            g_before = g_after = None
            if before is not None and after is not None:
                g_before, g_after = await self._store_groups(conn, before, after)
            await self._insert(conn, event, flags, g_before, g_after, replaces, placement)
        self._track(event, flags, g_before, g_after, historical=placement is not None)

    async def _insert(
        self, conn: asyncpg.Connection, event: Event, flags: Flags,
        g_before: int | None, g_after: int | None, replaces: str | None,
        placement: Placement | None = None,
    ) -> int:
        """Insert the event row; last in its transaction, as it takes the stream position."""
        placement = placement or Placement(self.writer, self.room.last_seq + 1)
        pos = await store_remote.take_position(conn, placement.writer)
        await store_remote.insert_event(conn, event, placement, pos, flags, g_before, g_after,
                                        replaces)
        return pos

    def _track(
        self, event: Event, flags: Flags, g_before: int | None, g_after: int | None,
        *, historical: bool = False,
    ) -> None:
        if not historical:
            self.room.last_seq += 1
        stored = Event(event.pdu, event.room_version, event.event_id, flags.rejected_reason)
        self.cache.add(stored, StoredFacts(flags.outlier, flags.soft_failed, g_before, g_after))


def _auth_order(events: dict[str, Event]) -> list[Event]:
    """`events` with each one after the auth events it cites among them (by depth otherwise)."""
    pending = sorted(events.values(), key=lambda e: e.depth)
    out: list[Event] = []
    placed: set[str] = set()
    while pending:
        ready = [e for e in pending
                 if all(a in placed or a not in events for a in e.auth_event_ids)]
        if not ready:
            # An auth cycle: no order is right; depth order lets the checks reject them.
            ready = pending
        out.extend(ready)
        placed.update(e.event_id for e in ready)
        pending = [e for e in pending if e.event_id not in placed]
    return out
