"""Build rooms of events for the auth rule tests: explicit IDs, a running state.

`RoomFactory(version)` sends the create event; `add(...)` builds an event,
checks it against the current state and applies it; `make(...)` only builds
one, to be checked by the test. Event IDs are `$<name>` (`$<name>:<server>`
in v1/v2, whose IDs carry the sender's domain), and v12 room IDs are the
create event's ID with `!`, so tests can name every event they refer to.
"""

from __future__ import annotations

from typing import Any

from protocol.auth_events_selection import auth_types_for_event
from protocol.auth_rules import IsSignedBy, check_auth_rules
from protocol.events import CREATE, JOIN_RULES, MEMBER, POWER_LEVELS, Event, StateKey
from protocol.room_versions import EventFormat, room_version

ALICE = "@alice:a.test"  # the creator
BOB = "@bob:b.test"
CAROL = "@carol:c.test"
DAVE = "@dave:a.test"

ALL_VERSIONS = [str(v) for v in range(1, 13)]


class RoomFactory:
    """One room's events and current state, for one room version."""

    def __init__(
        self,
        version: str,
        creator: str = ALICE,
        *,
        create_content: dict[str, Any] | None = None,
        room_id: str | None = None,
    ) -> None:
        self.rv = room_version(version)
        self.state: dict[StateKey, Event] = {}
        self.events: dict[str, Event] = {}
        self.forward: list[str] = []
        self._counter = 0
        content = self.default_create_content(creator) if create_content is None else create_content
        self._room_id = room_id or "!room:" + creator.partition(":")[2]
        self.create = self.make(
            CREATE, creator, content, "", event_id=self.event_id("create", creator), prev=[]
        )
        self.apply(self.create)

    # -- building -------------------------------------------------------------

    def default_create_content(self, creator: str) -> dict[str, Any]:
        content: dict[str, Any] = {"room_version": self.rv.identifier}
        if not self.rv.implicit_room_creator:
            content["creator"] = creator
        return content

    @property
    def room_id(self) -> str:
        if self.rv.room_id_is_create_event_id:
            return "!" + self.create.event_id[1:]
        return self._room_id

    def event_id(self, name: str, sender: str) -> str:
        if self.rv.event_format is EventFormat.V1:
            return f"${name}:{sender.partition(':')[2]}"
        return f"${name}"

    def _refs(self, ids: list[str]) -> list[Any]:
        if self.rv.event_format is EventFormat.V1:
            return [[i, {"sha256": "x"}] for i in ids]
        return list(ids)

    def make(
        self,
        event_type: str,
        sender: str,
        content: dict[str, Any],
        state_key: str | None = None,
        *,
        event_id: str | None = None,
        prev: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        rejected: bool = False,
    ) -> Event:
        """Build an event on top of the current forward extremity (not applied)."""
        self._counter += 1
        event_id = event_id or self.event_id(f"e{self._counter}", sender)
        pdu: dict[str, Any] = {
            "type": event_type,
            "sender": sender,
            "content": content,
            "prev_events": self._refs(self.forward if prev is None else prev),
            "depth": self._counter,
            "origin_server_ts": 1_000 + self._counter,
            "hashes": {"sha256": "x"},
            "signatures": {},
        }
        if event_type != CREATE:
            pdu["room_id"] = self.room_id
        elif not self.rv.room_id_is_create_event_id:
            pdu["room_id"] = self._room_id  # v12 create events carry none
        if state_key is not None:
            pdu["state_key"] = state_key
        if event_type != CREATE:
            pdu["auth_events"] = self._refs([e.event_id for e in self.cited_for(pdu)])
        else:
            pdu["auth_events"] = []
        pdu.update(extra or {})
        return Event(pdu, self.rv, event_id, "rejected in test" if rejected else None)

    def cited_for(self, pdu: dict[str, Any]) -> list[Event]:
        keys = auth_types_for_event(
            self.rv, pdu["type"], pdu.get("state_key"), pdu["sender"], pdu["content"]
        )
        return [self.state[k] for k in keys if k in self.state]

    # -- state ---------------------------------------------------------------

    def apply(self, event: Event) -> Event:
        self.events[event.event_id] = event
        if event.is_state:
            self.state[event.key] = event
        self.forward = [event.event_id]
        return event

    def auth_map(self, event: Event) -> dict[StateKey, Event]:
        """The current state, as the rules would be given it (a superset is fine)."""
        return dict(self.state)

    def check(self, event: Event, *, is_signed_by: IsSignedBy | None = None) -> None:
        check_auth_rules(event, self.auth_map(event), is_signed_by=is_signed_by)

    def add(
        self,
        event_type: str,
        sender: str,
        content: dict[str, Any],
        state_key: str | None = None,
        **kwargs: Any,
    ) -> Event:
        """Build, authorise (it must pass) and apply an event."""
        event = self.make(event_type, sender, content, state_key, **kwargs)
        self.check(event)
        return self.apply(event)

    def force(
        self,
        event_type: str,
        sender: str,
        content: dict[str, Any],
        state_key: str | None = None,
        **kwargs: Any,
    ) -> Event:
        """Apply an event without authorising it (to set up a state directly)."""
        return self.apply(self.make(event_type, sender, content, state_key, **kwargs))

    # -- shortcuts -------------------------------------------------------------

    def member_event(self, sender: str, target: str, membership: str, **content: Any) -> Event:
        return self.make(MEMBER, sender, {"membership": membership, **content}, target)

    def member(self, sender: str, target: str, membership: str, **content: Any) -> Event:
        return self.add(MEMBER, sender, {"membership": membership, **content}, target)

    def set_member(self, target: str, membership: str) -> Event:
        """Put `target` in `membership` without authorising it."""
        return self.force(MEMBER, target, {"membership": membership}, target)

    def power_levels(self, sender: str = ALICE, **content: Any) -> Event:
        return self.add(POWER_LEVELS, sender, content, "")

    def join_rules(self, rule: str, sender: str = ALICE, **content: Any) -> Event:
        return self.add(JOIN_RULES, sender, {"join_rule": rule, **content}, "")


def admin_levels(rv_identifier: str, **users: int) -> dict[str, Any]:
    """A power levels content with the creator at 100 (v12: creators are implicit)."""
    listed = {} if room_version(rv_identifier).privileged_creators else {ALICE: 100}
    listed.update(users)
    return {
        "users": listed,
        "users_default": 0,
        "events": {},
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": 0,
    }


def standard_room(
    version: str,
    join_rule: str = "public",
    *,
    users: dict[str, int] | None = None,
    **levels: Any,
) -> RoomFactory:
    """create, the creator's join, power levels (creator 100 plus `users`), join rules."""
    room = RoomFactory(version)
    room.member(ALICE, ALICE, "join")
    content = admin_levels(version, **(users or {}))
    content.update(levels)
    room.power_levels(**content)
    room.join_rules(join_rule)
    return room
