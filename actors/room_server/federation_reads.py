"""Serving a room to other servers: `/event`, `/state`, `/state_ids`, `/event_auth`,
`/get_missing_events` and `/backfill` (server-server API).

Every request about a room passes the room's server ACL. Reads of the room's
state and auth chains need the requesting server to be in the room (or the
room to be world-readable). Events themselves are filtered by history
visibility as the requesting server's users would see them; an event the
server may not see is served redacted, so its DAG stays whole. Events that
were redacted here are served in their redacted form.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from actors.room_server.event_cache import EventCache
from actors.room_server.room_state import RoomState
from actors.sync.history_visibility import allowed, membership_of, setting_of
from actors.sync.state_groups import StateGroupReader
from protocol.auth_chain import MissingEvent, auth_chain
from protocol.errors import MatrixError, forbidden, not_found
from protocol.events import HISTORY_VISIBILITY, MEMBER
from protocol.redaction import redact_pdu
from protocol.server_acl import server_allowed

ACL = "m.room.server_acl"
MAX_BACKFILL = 100
MAX_MISSING_EVENTS = 20


@dataclass(frozen=True)
class Stored:
    event_id: str
    pdu: dict[str, Any]
    depth: int
    state_before: int | None
    redacted: bool
    live: bool


def _domain(user_id: str) -> str:
    return user_id.partition(":")[2]


class RoomReads:
    """The reads of one room for one requesting server."""

    def __init__(self, pool: asyncpg.Pool, groups: StateGroupReader, room: RoomState,
                 origin: str) -> None:
        self.pool = pool
        self.groups = groups
        self.room = room
        self.origin = origin

    # --- access --------------------------------------------------------------

    def check_acl(self) -> None:
        acl = self.room.state_event(ACL)
        if not server_allowed(self.origin, acl.content if acl else None):
            raise forbidden("Server is banned from this room by its server ACL")

    def origin_in_room(self) -> bool:
        return any(m == "join" and _domain(u) == self.origin for u, m in self.room.members.items())

    def check_in_room(self) -> None:
        """ACL, then: the server is in the room, or the room is world-readable."""
        self.check_acl()
        if self.origin_in_room():
            return
        hv = self.room.state_event(HISTORY_VISIBILITY)
        if setting_of(hv.content if hv else None) != "world_readable":
            raise forbidden("Server is not in the room")

    # --- loading -------------------------------------------------------------

    async def load(self, event_ids: Iterable[str]) -> dict[str, Stored]:
        ids = [e for e in set(event_ids) if "\x00" not in e]
        rows = await self.pool.fetch(
            "SELECT event_id, pdu, depth, state_before, redacted_by IS NOT NULL AS redacted,"
            " NOT outlier AND rejected_reason IS NULL AS live FROM events"
            " WHERE event_id = ANY($1::text[]) AND room_id = $2", ids, self.room.room_id)
        return {r["event_id"]: Stored(**dict(r)) for r in rows}

    async def event_with_state(self, event_id: str) -> Stored:
        found = (await self.load([event_id])).get(event_id)
        if found is None or found.state_before is None:
            raise not_found("Unknown event, or its state is not known here")
        return found

    # --- serving -------------------------------------------------------------

    async def serve(self, events: list[Stored]) -> list[dict[str, Any]]:
        """The PDUs as this server may have them, in the given order."""
        visible = await self._visible(events)
        out = []
        for ev in events:
            pdu = {k: v for k, v in ev.pdu.items() if k != "unsigned"}
            if ev.redacted or ev.event_id not in visible:
                pdu = redact_pdu(pdu, self.room.version)
            out.append(pdu)
        return out

    async def _visible(self, events: list[Stored]) -> set[str]:
        """The events the requesting server's users may see (history visibility)."""
        in_room = self.origin_in_room()
        groups = {ev.state_before for ev in events if ev.state_before is not None}
        async with self.pool.acquire() as conn:
            states = {g: await self.groups.entries_of_types(conn, g, [MEMBER, HISTORY_VISIBILITY])
                      for g in groups}
        ids = {eid for s in states.values() for (t, sk), eid in s.items()
               if t == HISTORY_VISIBILITY or _domain(sk) == self.origin}
        contents = {e: s.pdu.get("content") for e, s in (await self.load(ids)).items()}
        visible = set()
        for ev in events:
            state = states.get(ev.state_before) if ev.state_before is not None else None
            if state is None:
                continue
            hv_id = state.get((HISTORY_VISIBILITY, ""))
            setting = setting_of(contents.get(hv_id) if hv_id else None)
            memberships = [membership_of(contents.get(eid)) for (t, sk), eid in state.items()
                           if t == MEMBER and _domain(sk) == self.origin]
            best = "join" if "join" in memberships else "invite" if "invite" in memberships else None
            if allowed(setting, best, in_room):
                visible.add(ev.event_id)
        return visible

    async def auth_chain_of(self, event_ids: Iterable[str]) -> list[str]:
        cache = EventCache(self.pool, self.room.room_id, self.room.version)
        ids = list(event_ids)
        await cache.load_auth_closure(ids)
        try:
            return sorted(auth_chain(ids, cache.get))
        except MissingEvent as e:
            raise MatrixError(500, "M_UNKNOWN", f"Auth chain incomplete at {e.event_id}") from None

    async def state_ids(self, event_id: str) -> dict[str, Any]:
        """The state before `event_id` and its auth chain, as event IDs."""
        self.check_in_room()
        ev = await self.event_with_state(event_id)
        async with self.pool.acquire() as conn:
            state = await self.groups.full_state(conn, ev.state_before)
        pdu_ids = sorted(state.values())
        return {"pdu_ids": pdu_ids, "auth_chain_ids": await self.auth_chain_of(pdu_ids)}

    async def state(self, event_id: str) -> dict[str, Any]:
        ids = await self.state_ids(event_id)
        loaded = await self.load([*ids["pdu_ids"], *ids["auth_chain_ids"]])
        return {
            "pdus": await self.serve([loaded[e] for e in ids["pdu_ids"] if e in loaded]),
            "auth_chain": await self.serve(
                [loaded[e] for e in ids["auth_chain_ids"] if e in loaded]),
        }

    async def event_auth(self, event_id: str) -> dict[str, Any]:
        self.check_in_room()
        if event_id not in await self.load([event_id]):
            raise not_found("Unknown event")
        chain = await self.auth_chain_of([event_id])
        loaded = await self.load(chain)
        return {"auth_chain": await self.serve([loaded[e] for e in chain if e in loaded])}

    async def event(self, event_id: str) -> dict[str, Any]:
        self.check_acl()
        found = (await self.load([event_id])).get(event_id)
        if found is None:
            raise not_found("Unknown event")
        return {"pdus": await self.serve([found])}

    async def backfill(self, from_ids: list[str], limit: int) -> dict[str, Any]:
        """Up to `limit` events from `from_ids` back along prev_events, newest first."""
        self.check_in_room()
        limit = max(0, min(limit, MAX_BACKFILL))
        out: list[Stored] = []
        seen: set[str] = set()
        heap: list[tuple[int, str]] = []
        await self._push(heap, seen, from_ids)
        loaded: dict[str, Stored] = {}
        while heap and len(out) < limit:
            _, event_id = heapq.heappop(heap)
            ev = loaded.get(event_id) or (await self.load([event_id])).get(event_id)
            if ev is None or not ev.live:
                continue
            out.append(ev)
            prevs = [p for p in _prev_ids(ev.pdu) if p not in seen]
            loaded.update(await self._push(heap, seen, prevs))
        return {"pdus": await self.serve(out)}

    async def _push(self, heap: list[tuple[int, str]], seen: set[str],
                    event_ids: list[str]) -> dict[str, Stored]:
        seen.update(event_ids)
        found = await self.load(event_ids)
        for ev in found.values():
            heapq.heappush(heap, (-ev.depth, ev.event_id))
        return found

    async def missing_events(
        self, earliest: list[str], latest: list[str], limit: int, min_depth: int
    ) -> dict[str, Any]:
        """Events before `latest` back to (not including) `earliest`, oldest first."""
        self.check_in_room()
        limit = max(0, min(limit, MAX_MISSING_EVENTS))
        stop = set(earliest)
        seen = set(latest) | stop
        frontier = [p for ev in (await self.load(latest)).values() for p in _prev_ids(ev.pdu)]
        found: list[Stored] = []
        while frontier and len(found) < limit:
            batch = [e for e in dict.fromkeys(frontier) if e not in seen]
            seen.update(batch)
            frontier = []
            for ev in sorted((await self.load(batch)).values(), key=lambda e: -e.depth):
                if not ev.live or ev.depth < min_depth or len(found) >= limit:
                    continue
                found.append(ev)
                frontier.extend(_prev_ids(ev.pdu))
        found.sort(key=lambda e: e.depth)
        return {"events": await self.serve(found)}


def _prev_ids(pdu: dict[str, Any]) -> list[str]:
    refs = pdu.get("prev_events")
    if not isinstance(refs, list):
        return []
    return [r if isinstance(r, str) else r[0] for r in refs
            if isinstance(r, str) or (isinstance(r, list) and r and isinstance(r[0], str))]
