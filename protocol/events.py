"""A read-only view of a PDU (a room event in its federation shape).

The PDU stays a plain dict, so it crosses actor boundaries and goes into the
database as is; `Event` only adds the event ID (which v3+ PDUs do not carry)
and the room version, and reads fields the same way for every version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol.room_versions import EventFormat, RoomVersion

StateKey = tuple[str, str]

CREATE = "m.room.create"
MEMBER = "m.room.member"
POWER_LEVELS = "m.room.power_levels"
JOIN_RULES = "m.room.join_rules"
THIRD_PARTY_INVITE = "m.room.third_party_invite"
HISTORY_VISIBILITY = "m.room.history_visibility"
REDACTION = "m.room.redaction"
ALIASES = "m.room.aliases"


def _ref_ids(refs: Any, event_format: EventFormat) -> list[str]:
    """Event IDs from a prev_events/auth_events list of either shape."""
    if not isinstance(refs, list):
        return []
    if event_format is EventFormat.V1:
        return [r[0] for r in refs if isinstance(r, list) and r and isinstance(r[0], str)]
    return [r for r in refs if isinstance(r, str)]


class Event:
    """A PDU plus its event ID and room version."""

    __slots__ = ("event_id", "room_version", "pdu", "rejected_reason")

    def __init__(
        self,
        pdu: Mapping[str, Any],
        room_version: RoomVersion,
        event_id: str,
        rejected_reason: str | None = None,
    ) -> None:
        self.pdu: dict[str, Any] = dict(pdu)
        self.room_version = room_version
        self.event_id = event_id
        self.rejected_reason = rejected_reason

    def __repr__(self) -> str:
        return f"Event({self.event_id} {self.type} {self.state_key!r})"

    @property
    def type(self) -> str:
        return self.pdu.get("type", "")

    @property
    def state_key(self) -> str | None:
        sk = self.pdu.get("state_key")
        return sk if isinstance(sk, str) else None

    @property
    def is_state(self) -> bool:
        return self.state_key is not None

    @property
    def key(self) -> StateKey:
        """The (type, state_key) pair; only meaningful for state events."""
        return (self.type, self.state_key or "")

    @property
    def sender(self) -> str:
        return self.pdu.get("sender", "")

    @property
    def content(self) -> dict[str, Any]:
        c = self.pdu.get("content")
        return c if isinstance(c, dict) else {}

    @property
    def room_id(self) -> str:
        """The room ID; a v12 create event's room ID is derived from its event ID."""
        if (
            self.room_version.room_id_is_create_event_id
            and self.type == CREATE
            and self.state_key == ""
        ):
            return "!" + self.event_id[1:]
        return self.pdu.get("room_id", "")

    @property
    def depth(self) -> int:
        d = self.pdu.get("depth")
        return d if isinstance(d, int) and not isinstance(d, bool) else 0

    @property
    def origin_server_ts(self) -> int:
        ts = self.pdu.get("origin_server_ts")
        return ts if isinstance(ts, int) and not isinstance(ts, bool) else 0

    @property
    def prev_event_ids(self) -> list[str]:
        return _ref_ids(self.pdu.get("prev_events"), self.room_version.event_format)

    @property
    def auth_event_ids(self) -> list[str]:
        return _ref_ids(self.pdu.get("auth_events"), self.room_version.event_format)

    @property
    def membership(self) -> str | None:
        m = self.content.get("membership")
        return m if isinstance(m, str) else None

    @property
    def redacts(self) -> str | None:
        """The redacted event's ID: in content from v11, top-level before."""
        if self.room_version.redacts_in_content:
            r = self.content.get("redacts")
        else:
            r = self.pdu.get("redacts")
        return r if isinstance(r, str) else None

    @property
    def origin(self) -> str:
        """The sending server: the domain of the sender."""
        return self.sender.partition(":")[2]

    @property
    def rejected(self) -> bool:
        return self.rejected_reason is not None
