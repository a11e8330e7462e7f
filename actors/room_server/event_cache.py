"""Events of one room as the federation pipeline needs them: `Event`s with their
rejection, loaded from PostgreSQL in batches and kept for one unit of work.

The protocol core reads events through a synchronous `get_event`; this cache
loads what it will ask for beforehand (the events and their auth chains), so
auth checks and state resolution run without I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from protocol.events import Event
from protocol.room_versions import RoomVersion


@dataclass(frozen=True)
class StoredFacts:
    """What the database says about a stored event beyond its PDU."""

    outlier: bool
    soft_failed: bool
    state_before: int | None
    state_after: int | None


class EventCache:
    def __init__(self, pool: asyncpg.Pool, room_id: str, version: RoomVersion) -> None:
        self.pool = pool
        self.room_id = room_id
        self.version = version
        self.events: dict[str, Event] = {}
        self.facts: dict[str, StoredFacts] = {}

    def get(self, event_id: str) -> Event | None:
        return self.events.get(event_id)

    def add(self, event: Event, facts: StoredFacts) -> None:
        self.events[event.event_id] = event
        self.facts[event.event_id] = facts

    async def load(self, event_ids: Iterable[str]) -> dict[str, Event]:
        """The given events of this room that we hold (unknown IDs are left out)."""
        wanted = [e for e in set(event_ids) if e not in self.events and "\x00" not in e]
        if wanted:
            rows = await self.pool.fetch(
                "SELECT event_id, pdu, rejected_reason, outlier, soft_failed, state_before,"
                " state_after FROM events WHERE event_id = ANY($1::text[]) AND room_id = $2",
                wanted, self.room_id,
            )
            for r in rows:
                self.add(
                    Event(r["pdu"], self.version, r["event_id"], r["rejected_reason"]),
                    StoredFacts(r["outlier"], r["soft_failed"], r["state_before"], r["state_after"]),
                )
        return {e: self.events[e] for e in set(event_ids) if e in self.events}

    async def load_auth_closure(self, event_ids: Iterable[str]) -> set[str]:
        """Load the events and everything their auth chains reach; return the IDs we lack."""
        missing: set[str] = set()
        seen: set[str] = set()
        frontier = set(event_ids)
        while frontier:
            seen |= frontier
            found = await self.load(frontier)
            missing |= frontier - found.keys()
            frontier = {a for ev in found.values() for a in ev.auth_event_ids} - seen
        return missing
