"""Filters (spec: Filtering; definitions sync_filter, room_event_filter, event_filter).

A filter arrives as JSON (uploaded, inline in `/sync?filter=`, or as the
`filter` of `/messages` and `/context`). `parse_sync_filter` and
`parse_room_event_filter` check its shape and build immutable objects that
answer "does this event pass?". A malformed filter is the caller's error:
M_BAD_JSON for a request body, M_INVALID_PARAM for a query parameter.
Keys this server does not know are ignored (and kept when stored).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from protocol.errors import MatrixError, invalid_param

ErrorFactory = Callable[[str], MatrixError]

EVENT_FORMATS = ("client", "federation")


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    # Only `*` is special in type filters: any sequence of characters.
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def _matches_any(value: str, patterns: Sequence[str]) -> bool:
    return any(_glob(p).fullmatch(value) for p in patterns)


@dataclass(frozen=True)
class EventFilter:
    """The EventFilter fields shared by every filter."""

    limit: int | None = None
    types: tuple[str, ...] | None = None
    not_types: tuple[str, ...] = ()
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()

    def matches_type_and_sender(self, event_type: str, sender: str) -> bool:
        if sender in self.not_senders:
            return False
        if self.senders is not None and sender not in self.senders:
            return False
        if _matches_any(event_type, self.not_types):
            return False
        return self.types is None or _matches_any(event_type, self.types)

    def matches_type(self, event_type: str) -> bool:
        """For events without a sender (typing, receipts, account data): types only."""
        if _matches_any(event_type, self.not_types):
            return False
        return self.types is None or _matches_any(event_type, self.types)

    def limit_or(self, default: int, maximum: int) -> int:
        """The filter's limit, or `default`, never above `maximum`."""
        return min(self.limit if self.limit is not None else default, maximum)


@dataclass(frozen=True)
class RoomEventFilter(EventFilter):
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    contains_url: bool | None = None
    lazy_load_members: bool = False
    include_redundant_members: bool = False
    unread_thread_notifications: bool = False

    def matches_room(self, room_id: str) -> bool:
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms

    def matches(self, room_id: str, event_type: str, sender: str, content: Any) -> bool:
        if not self.matches_room(room_id) or not self.matches_type_and_sender(event_type, sender):
            return False
        if self.contains_url is not None:
            has_url = isinstance(content, Mapping) and "url" in content
            if has_url != self.contains_url:
                return False
        return True


@dataclass(frozen=True)
class RoomFilter:
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    include_leave: bool = False
    state: RoomEventFilter = field(default_factory=RoomEventFilter)
    timeline: RoomEventFilter = field(default_factory=RoomEventFilter)
    ephemeral: RoomEventFilter = field(default_factory=RoomEventFilter)
    account_data: RoomEventFilter = field(default_factory=RoomEventFilter)

    def includes_room(self, room_id: str) -> bool:
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms


@dataclass(frozen=True)
class SyncFilter:
    event_fields: tuple[str, ...] | None = None
    event_format: str = "client"
    presence: EventFilter = field(default_factory=EventFilter)
    account_data: EventFilter = field(default_factory=EventFilter)
    room: RoomFilter = field(default_factory=RoomFilter)


# --- parsing ------------------------------------------------------------------


class _Reader:
    """Reads typed fields of one JSON object, naming the path in errors."""

    def __init__(self, raw: Any, path: str, error: ErrorFactory) -> None:
        if not isinstance(raw, dict):
            raise error(f"{path or 'filter'} must be an object")
        self.raw = raw
        self.path = path
        self.error = error

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(f"{self._where(key)} must be a list of strings")
        return tuple(value)

    def boolean(self, key: str) -> bool | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.error(f"{self._where(key)} must be a boolean")
        return value

    def limit(self, key: str = "limit") -> int | None:
        value = self.raw.get(key)
        if value is None:
            return None
        # 0 is accepted (an empty timeline); negative and non-integers are not.
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(f"{self._where(key)} must be a non-negative integer")
        return value

    def child(self, key: str) -> _Reader | None:
        value = self.raw.get(key)
        if value is None:
            return None
        return _Reader(value, self._where(key), self.error)


def _event_filter_fields(r: _Reader) -> dict[str, Any]:
    return {
        "limit": r.limit(),
        "types": r.strings("types"),
        "not_types": r.strings("not_types") or (),
        "senders": r.strings("senders"),
        "not_senders": r.strings("not_senders") or (),
    }


def _event_filter(r: _Reader | None) -> EventFilter:
    return EventFilter() if r is None else EventFilter(**_event_filter_fields(r))


def _room_event_filter(r: _Reader | None) -> RoomEventFilter:
    if r is None:
        return RoomEventFilter()
    return RoomEventFilter(
        **_event_filter_fields(r),
        rooms=r.strings("rooms"),
        not_rooms=r.strings("not_rooms") or (),
        contains_url=r.boolean("contains_url"),
        lazy_load_members=bool(r.boolean("lazy_load_members")),
        include_redundant_members=bool(r.boolean("include_redundant_members")),
        unread_thread_notifications=bool(r.boolean("unread_thread_notifications")),
    )


def parse_room_event_filter(raw: Any, error: ErrorFactory = invalid_param) -> RoomEventFilter:
    return _room_event_filter(_Reader(raw, "", error))


def parse_sync_filter(raw: Any, error: ErrorFactory = invalid_param) -> SyncFilter:
    r = _Reader(raw, "", error)
    event_format = raw.get("event_format", "client")
    if event_format not in EVENT_FORMATS:
        raise error("event_format must be 'client' or 'federation'")
    room = r.child("room")
    room_filter = RoomFilter()
    if room is not None:
        room_filter = RoomFilter(
            rooms=room.strings("rooms"),
            not_rooms=room.strings("not_rooms") or (),
            include_leave=bool(room.boolean("include_leave")),
            state=_room_event_filter(room.child("state")),
            timeline=_room_event_filter(room.child("timeline")),
            ephemeral=_room_event_filter(room.child("ephemeral")),
            account_data=_room_event_filter(room.child("account_data")),
        )
    return SyncFilter(
        event_fields=r.strings("event_fields"),
        event_format=event_format,
        presence=_event_filter(r.child("presence")),
        account_data=_event_filter(r.child("account_data")),
        room=room_filter,
    )


def holds_nul(value: Any) -> bool:
    """Whether a string anywhere in `value` (keys too) has U+0000, which jsonb cannot store."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_nul(v) for v in value)
    return False


def json_query_param(text: str, name: str = "filter") -> Any:
    """Decode a JSON query parameter; bad JSON is 400 M_INVALID_PARAM."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise invalid_param(f"{name} is not valid JSON") from None


# --- event_fields -------------------------------------------------------------


def split_field_path(path: str) -> list[str]:
    """Split a dot-separated property path; `\\.` is a literal dot, `\\\\` a backslash."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(path)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, None)
            if nxt in (".", "\\"):
                current.append(nxt)
            else:
                current.append(ch)
                if nxt is not None:
                    current.append(nxt)
        elif ch == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def project_fields(event: Mapping[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """Only the listed fields of `event` (paths into nested objects), as `event_fields` asks."""
    out: dict[str, Any] = {}
    for path in paths:
        keys = split_field_path(path)
        source: Any = event
        for key in keys:
            if not isinstance(source, Mapping) or key not in source:
                break
            source = source[key]
        else:
            target = out
            for key in keys[:-1]:
                existing = target.get(key)
                if not isinstance(existing, dict):
                    existing = target[key] = {}
                target = existing
            # A copy: the projection must never share objects with the event.
            target[keys[-1]] = copy.deepcopy(source)
    return out
