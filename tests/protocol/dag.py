"""Build small rooms as DAGs of events with readable event IDs, for state resolution tests.

A `Room` wires `prev_events` and `auth_events` the way a server would: the
state before an event is the state after its single prev event, or the
resolution of the states after its prev events; its auth events are picked
from that state by the auth events selection algorithm. Each new event is
checked against that state with the auth rules (unless `check=False`), so a
mistake in a scenario shows up where it is made, not as a puzzling result.

    room = Room.standard("11")           # create, joins, power levels, join rules
    room.topic("$T1", ALICE, "hello")    # prev: the room's latest event
    room.fork_at("$T1")                  # the next event's prev is $T1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from protocol.auth_events_selection import auth_types_for_event
from protocol.auth_rules import check_auth_rules
from protocol.events import (
    CREATE,
    JOIN_RULES,
    MEMBER,
    POWER_LEVELS,
    Event,
    StateKey,
)
from protocol.room_versions import EventFormat, RoomVersion, room_version
from protocol.state_res import resolve_state

ALICE = "@alice:a.example"
BOB = "@bob:b.example"
CHARLIE = "@charlie:c.example"
EVE = "@eve:e.example"
ZARA = "@zara:z.example"

TOPIC = "m.room.topic"
StateMap = dict[StateKey, str]


class Room:
    """A room under construction: its events, and the state after each state event."""

    def __init__(self, version: str, create_id: str = "$create") -> None:
        self.version: RoomVersion = room_version(version)
        self.events: dict[str, Event] = {}
        self.state_after: dict[str, StateMap] = {}
        self.latest: str | None = None
        self._next_prev: list[str] | None = None
        self._clock = 1_000
        self.create_id = create_id
        if self.version.room_id_is_create_event_id:
            self.room_id = "!" + create_id[1:]
        else:
            self.room_id = "!room:a.example"

    # --- lookups -----------------------------------------------------------

    def get(self, event_id: str) -> Event | None:
        """The `get_event` callable the resolver takes."""
        return self.events.get(event_id)

    def state(self, event_id: str) -> StateMap:
        """A copy of the state after `event_id`."""
        return dict(self.state_after[event_id])

    def resolve(self, *state_sets: Mapping[StateKey, str]) -> StateMap:
        return resolve_state(self.version, list(state_sets), self.get)

    def resolve_at(self, *event_ids: str) -> StateMap:
        """Resolve the states after `event_ids`, as for an event citing them all as prev."""
        return self.resolve(*(self.state_after[e] for e in event_ids))

    # --- building ----------------------------------------------------------

    def fork_at(self, *event_ids: str) -> Room:
        """Make the next event's prev_events `event_ids` (a branch or a merge)."""
        self._next_prev = list(event_ids)
        return self

    def add(
        self,
        event_id: str,
        event_type: str,
        sender: str,
        content: Mapping[str, Any],
        *,
        state_key: str | None = None,
        prev: Sequence[str] | None = None,
        ts: int | None = None,
        check: bool = True,
        rejected: str | None = None,
    ) -> Event:
        """Append an event after `prev` (default: the fork point, else the latest event)."""
        assert event_id not in self.events, f"duplicate event ID {event_id}"
        prev_ids = self._take_prev(prev)
        before = self._state_before(prev_ids)
        auth_ids = self._select_auth_events(event_type, state_key, sender, content, before)
        pdu = self._pdu(event_id, event_type, sender, content, state_key, prev_ids, auth_ids, ts)
        event = Event(pdu, self.version, event_id, rejected_reason=rejected)
        if check and rejected is None:
            check_auth_rules(event, {key: self.events[before[key]] for key in before})
        self.events[event_id] = event
        after = dict(before)
        if event.is_state and rejected is None:
            after[event.key] = event_id
        self.state_after[event_id] = after
        self.latest = event_id
        return event

    def _take_prev(self, prev: Sequence[str] | None) -> list[str]:
        if prev is not None:
            self._next_prev = None
            return list(prev)
        if self._next_prev is not None:
            chosen, self._next_prev = self._next_prev, None
            return chosen
        return [self.latest] if self.latest is not None else []

    def _state_before(self, prev_ids: Sequence[str]) -> StateMap:
        if not prev_ids:
            return {}
        if len(prev_ids) == 1:
            return dict(self.state_after[prev_ids[0]])
        return self.resolve_at(*prev_ids)

    def _select_auth_events(
        self,
        event_type: str,
        state_key: str | None,
        sender: str,
        content: Mapping[str, Any],
        before: StateMap,
    ) -> list[str]:
        keys = auth_types_for_event(self.version, event_type, state_key, sender, content)
        return [before[key] for key in keys if key in before]

    def _pdu(
        self,
        event_id: str,
        event_type: str,
        sender: str,
        content: Mapping[str, Any],
        state_key: str | None,
        prev_ids: Sequence[str],
        auth_ids: Sequence[str],
        ts: int | None,
    ) -> dict[str, Any]:
        self._clock = ts if ts is not None else self._clock + 1
        pdu: dict[str, Any] = {
            "type": event_type,
            "sender": sender,
            "content": dict(content),
            "origin_server_ts": self._clock,
            "depth": 1 + max((self.events[p].depth for p in prev_ids), default=0),
            "prev_events": self._refs(prev_ids),
            "auth_events": self._refs(auth_ids),
            "hashes": {"sha256": "unused"},
            "signatures": {},
        }
        if state_key is not None:
            pdu["state_key"] = state_key
        # A v12 create event has no room_id: the room ID is derived from its ID.
        if not (self.version.room_id_is_create_event_id and event_type == CREATE):
            pdu["room_id"] = self.room_id
        if self.version.event_format is EventFormat.V1:
            pdu["event_id"] = event_id
        return pdu

    def _refs(self, event_ids: Iterable[str]) -> list[Any]:
        if self.version.event_format is EventFormat.V1:
            return [[e, {"sha256": "unused"}] for e in event_ids]
        return list(event_ids)

    # --- event shorthands --------------------------------------------------

    def create(self, sender: str = ALICE, **kw: Any) -> Event:
        content: dict[str, Any] = {"room_version": self.version.identifier}
        if not self.version.implicit_room_creator:
            content["creator"] = sender
        return self.add(self.create_id, CREATE, sender, content, state_key="", **kw)

    def member(
        self, event_id: str, sender: str, membership: str, target: str | None = None, **kw: Any
    ) -> Event:
        target = target or sender
        return self.add(
            event_id, MEMBER, sender, {"membership": membership}, state_key=target, **kw
        )

    def join(self, event_id: str, user: str, **kw: Any) -> Event:
        return self.member(event_id, user, "join", **kw)

    def ban(self, event_id: str, sender: str, target: str, **kw: Any) -> Event:
        return self.member(event_id, sender, "ban", target, **kw)

    def kick(self, event_id: str, sender: str, target: str, **kw: Any) -> Event:
        return self.member(event_id, sender, "leave", target, **kw)

    def invite(self, event_id: str, sender: str, target: str, **kw: Any) -> Event:
        return self.member(event_id, sender, "invite", target, **kw)

    def power_levels(
        self, event_id: str, sender: str, users: Mapping[str, int], **kw: Any
    ) -> Event:
        """Power levels with `users` (v12 creators are left out: they may not be listed)."""
        content = {"users": self._without_creators(users), "users_default": 0}
        return self.add(event_id, POWER_LEVELS, sender, content, state_key="", **kw)

    def join_rules(self, event_id: str, sender: str, rule: str, **kw: Any) -> Event:
        return self.add(event_id, JOIN_RULES, sender, {"join_rule": rule}, state_key="", **kw)

    def topic(self, event_id: str, sender: str, topic: str, **kw: Any) -> Event:
        return self.add(event_id, TOPIC, sender, {"topic": topic}, state_key="", **kw)

    def message(self, event_id: str, sender: str, body: str = "hi", **kw: Any) -> Event:
        return self.add(
            event_id, "m.room.message", sender, {"msgtype": "m.text", "body": body}, **kw
        )

    def _without_creators(self, users: Mapping[str, int]) -> dict[str, int]:
        if not self.version.privileged_creators:
            return dict(users)
        creators = {self.events[self.create_id].sender} if self.create_id in self.events else set()
        return {user: level for user, level in users.items() if user not in creators}

    # --- a common starting point -------------------------------------------

    @classmethod
    def standard(cls, version: str, users: Mapping[str, int] | None = None) -> Room:
        """Alice creates a public room (she has 100, Bob 50) and Bob, Charlie and Eve join.

        Events: $create, $alice_join, $pl0, $jr0 (public), $bob_join,
        $charlie_join, $eve_join.
        """
        room = cls(version)
        room.create(ALICE)
        room.join("$alice_join", ALICE)
        room.power_levels("$pl0", ALICE, users or {ALICE: 100, BOB: 50})
        room.join_rules("$jr0", ALICE, "public")
        room.join("$bob_join", BOB)
        room.join("$charlie_join", CHARLIE)
        room.join("$eve_join", EVE)
        return room
