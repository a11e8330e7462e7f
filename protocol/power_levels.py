"""Reading `m.room.power_levels` content the way the auth rules need it.

Every function here takes the *content* of the power levels event, or `None`
when the room has no power levels event at all: the two cases have different
defaults (without the event the creator has 100; with an event that lists
nobody, everyone has `users_default`), so `{}` and `None` must not be confused.

Values are parsed per room version (`parse_power_level`):

- v1-v5: integers, "stringy" integers (`" +050 "`) and floats, which are
  truncated toward zero (the v1 "stringy" and "floaty" power level fragments;
  floats can only occur where canonical JSON is not enforced);
- v6-v9: integers and stringy integers (canonical JSON forbids floats);
- v10+: integers only.

A value that does not parse is treated as absent, so it falls back to the
spec's default. The auth rules reject such values where the spec says so
(`users` in every version; every field from v10); anywhere else the spec
gives no rule and the default is the only consistent reading.

Room creators in v12+ have infinite power: `user_power_level` returns
`CREATOR_POWER_LEVEL` (`math.inf`), which compares greater than every
integer and equal only to itself, so a creator can act on anyone except
another creator. Other levels are always `int`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

from protocol.events import Event
from protocol.room_versions import RoomVersion

PowerLevel = int | float  # float only ever for CREATOR_POWER_LEVEL

# v12+: the power level of a room creator, greater than any integer level.
CREATOR_POWER_LEVEL: Final[float] = math.inf

# Without a power levels event, the v1-v11 creator has this level.
IMPLICIT_CREATOR_LEVEL: Final = 100

# Defaults for the top-level properties (m.room.power_levels schema and the
# "Definitions" of the server-server API): they apply both when the property
# is missing and when there is no power levels event at all.
DEFAULT_LEVELS: Final[Mapping[str, int]] = {
    "ban": 50,
    "kick": 50,
    "redact": 50,
    "invite": 0,
    "events_default": 0,
    "state_default": 50,
    "users_default": 0,
}

# `notifications.room` defaults to 50; the spec names no other key, and 50 is
# what push rule evaluation assumes for any key without an entry.
DEFAULT_NOTIFICATION_LEVEL: Final = 50

# The v1 "stringy power levels" grammar: optional surrounding whitespace, one
# optional sign, base-10 digits (leading zeroes allowed), no decimal point.
_STRINGY_INT = re.compile(r"[+-]?[0-9]+")


def parse_power_level(value: object, room_version: RoomVersion | None = None) -> int | None:
    """The integer a power level value stands for, or None if it is not one.

    With `room_version=None` every historical encoding is accepted; that is
    safe for content that already passed the auth rules of its room version.
    """
    if isinstance(value, bool):  # JSON true/false are not numbers
        return None
    if isinstance(value, int):
        return value
    if room_version is not None and room_version.integer_power_levels:
        return None
    if isinstance(value, str):
        return _parse_stringy(value)
    if isinstance(value, float):
        if room_version is not None and room_version.strict_canonicaljson:
            return None
        return _parse_floaty(value)
    return None


def _parse_stringy(value: str) -> int | None:
    stripped = value.strip()
    if not _STRINGY_INT.fullmatch(stripped):
        return None
    return int(stripped)


def _parse_floaty(value: float) -> int | None:
    # "Values outside the range of a double ... Infinity, -Infinity and NaN"
    # are rejected; anything else is truncated at the decimal point.
    if not math.isfinite(value):
        return None
    return int(value)


def is_valid_power_level(value: object, room_version: RoomVersion) -> bool:
    """Whether `value` is an acceptable power level in `room_version`."""
    return parse_power_level(value, room_version) is not None


def named_level(
    pl_content: Mapping[str, Any] | None,
    name: str,
    room_version: RoomVersion | None = None,
) -> int:
    """A top-level level (`ban`, `kick`, `invite`, `state_default`, ...) with its default."""
    default = DEFAULT_LEVELS[name]
    if pl_content is None:
        return default
    parsed = parse_power_level(pl_content.get(name), room_version)
    return default if parsed is None else parsed


def level_map(
    pl_content: Mapping[str, Any] | None,
    name: str,
    room_version: RoomVersion | None = None,
) -> dict[str, int]:
    """The parseable entries of `users`, `events` or `notifications` (others dropped)."""
    if pl_content is None:
        return {}
    raw = pl_content.get(name)
    if not isinstance(raw, Mapping):
        return {}
    parsed: dict[str, int] = {}
    for key, value in raw.items():
        level = parse_power_level(value, room_version)
        if isinstance(key, str) and level is not None:
            parsed[key] = level
    return parsed


def notification_level(
    pl_content: Mapping[str, Any] | None,
    key: str,
    room_version: RoomVersion | None = None,
) -> int:
    """The level needed to trigger notification `key` (e.g. "room" for @room)."""
    return level_map(pl_content, "notifications", room_version).get(key, DEFAULT_NOTIFICATION_LEVEL)


def creators_of(create_event: Event | None, room_version: RoomVersion) -> set[str]:
    """The room's creators: v1-10 `content.creator`; v11 sender; v12+ sender and
    `content.additional_creators` (only its string entries)."""
    if create_event is None:
        return set()
    if not room_version.implicit_room_creator:
        creator = create_event.content.get("creator")
        return {creator} if isinstance(creator, str) else set()
    creators = {create_event.sender} if create_event.sender else set()
    if room_version.privileged_creators:
        extra = create_event.content.get("additional_creators")
        if isinstance(extra, list):
            creators.update(c for c in extra if isinstance(c, str))
    return creators


def user_power_level(
    user_id: str,
    pl_content: Mapping[str, Any] | None,
    create_event: Event | None,
    room_version: RoomVersion,
) -> PowerLevel:
    """The power level of `user_id`.

    `pl_content` is the current power levels event's content, or None if the
    room has none. v12+ creators get `CREATOR_POWER_LEVEL` whatever the
    content says (the auth rules keep them out of `users` anyway).
    """
    creators = creators_of(create_event, room_version)
    if room_version.privileged_creators and user_id in creators:
        return CREATOR_POWER_LEVEL
    if pl_content is None:
        # No power levels event: the creator has 100 (v1-v11), everyone else 0.
        return IMPLICIT_CREATOR_LEVEL if user_id in creators else 0
    users = level_map(pl_content, "users", room_version)
    if user_id in users:
        return users[user_id]
    return named_level(pl_content, "users_default", room_version)


def required_power_level_for_event(
    event_type: str,
    is_state: bool,
    pl_content: Mapping[str, Any] | None,
    room_version: RoomVersion | None = None,
) -> int:
    """The event type's *required power level*: `events[type]`, else
    `state_default` (state events) or `events_default` (others)."""
    events = level_map(pl_content, "events", room_version)
    if event_type in events:
        return events[event_type]
    return named_level(pl_content, "state_default" if is_state else "events_default", room_version)
