"""The room version table: what each stable room version (1-12) changes.

Every version-dependent branch in `protocol/` reads one of these flags rather
than comparing version strings, so a new version is a new table row.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class EventFormat(Enum):
    """How event IDs are made and how events reference each other."""

    V1 = 1  # v1-v2: server-generated `$local:server` IDs; refs are [id, {hashes}] pairs
    V2 = 2  # v3: ID is `$` + standard unpadded base64 of the reference hash
    V3 = 3  # v4+: ID is `$` + URL-safe unpadded base64 of the reference hash


class StateResAlgorithm(Enum):
    V1 = "v1"
    V2 = "v2"
    V2_1 = "v2.1"  # v12: iterative auth checks from an empty map, conflicted subgraph


@dataclass(frozen=True, slots=True)
class RoomVersion:
    identifier: str
    event_format: EventFormat
    state_res: StateResAlgorithm
    # v5+: signatures only count if made while the key was valid (valid_until_ts).
    enforce_key_validity: bool
    # v1-v5: m.room.aliases has its own auth rule (state_key must be the sender's domain).
    special_case_aliases_auth: bool
    # v6+: integers must be in [-(2**53)+1, 2**53-1], no floats, no NaN/Infinity.
    strict_canonicaljson: bool
    # v6+: `notifications` in m.room.power_levels is subject to the power level checks.
    limit_notifications_power_levels: bool
    # v6+: m.room.aliases content is no longer preserved by redaction.
    redaction_keeps_aliases: bool
    # v7+: the `knock` membership and join rule.
    knock: bool
    # v8+: the `restricted` join rule and join_authorised_via_users_server.
    restricted_join: bool
    # v8+: redaction keeps `allow` in m.room.join_rules.
    redaction_keeps_join_rules_allow: bool
    # v9+: redaction keeps join_authorised_via_users_server in m.room.member.
    redaction_keeps_join_authorised: bool
    # v10+: the `knock_restricted` join rule.
    knock_restricted: bool
    # v10+: power level values must be integers (no stringy numbers).
    integer_power_levels: bool
    # v11+: the creator is the create event's sender (content.creator is gone).
    implicit_room_creator: bool
    # v11+: the redaction algorithm of MSC2176/MSC3821/MSC3989, and `redacts` in content.
    updated_redaction_rules: bool
    # v12+: creators (sender + additional_creators) have infinite power.
    privileged_creators: bool
    # v12+: the room ID is the create event's ID with `!`; create has no room_id.
    room_id_is_create_event_id: bool

    @property
    def uses_hash_event_ids(self) -> bool:
        return self.event_format is not EventFormat.V1

    @property
    def redacts_in_content(self) -> bool:
        return self.updated_redaction_rules


def _v(
    identifier: str,
    event_format: EventFormat,
    state_res: StateResAlgorithm,
    since: int,
) -> RoomVersion:
    """Build a version row from the version number the flags switch on at."""
    return RoomVersion(
        identifier=identifier,
        event_format=event_format,
        state_res=state_res,
        enforce_key_validity=since >= 5,
        special_case_aliases_auth=since < 6,
        strict_canonicaljson=since >= 6,
        limit_notifications_power_levels=since >= 6,
        redaction_keeps_aliases=since < 6,
        knock=since >= 7,
        restricted_join=since >= 8,
        redaction_keeps_join_rules_allow=since >= 8,
        redaction_keeps_join_authorised=since >= 9,
        knock_restricted=since >= 10,
        integer_power_levels=since >= 10,
        implicit_room_creator=since >= 11,
        updated_redaction_rules=since >= 11,
        privileged_creators=since >= 12,
        room_id_is_create_event_id=since >= 12,
    )


_E, _S = EventFormat, StateResAlgorithm

KNOWN_ROOM_VERSIONS: dict[str, RoomVersion] = {
    v.identifier: v
    for v in (
        _v("1", _E.V1, _S.V1, 1),
        _v("2", _E.V1, _S.V2, 2),
        _v("3", _E.V2, _S.V2, 3),
        _v("4", _E.V3, _S.V2, 4),
        _v("5", _E.V3, _S.V2, 5),
        _v("6", _E.V3, _S.V2, 6),
        _v("7", _E.V3, _S.V2, 7),
        _v("8", _E.V3, _S.V2, 8),
        _v("9", _E.V3, _S.V2, 9),
        _v("10", _E.V3, _S.V2, 10),
        _v("11", _E.V3, _S.V2, 11),
        _v("12", _E.V3, _S.V2_1, 12),
    )
}

DEFAULT_ROOM_VERSION = "12"


class UnknownRoomVersion(ValueError):
    """The room version is not one this server implements."""


def room_version(identifier: str) -> RoomVersion:
    """The table row for `identifier`, or UnknownRoomVersion."""
    try:
        return KNOWN_ROOM_VERSIONS[identifier]
    except (KeyError, TypeError):
        raise UnknownRoomVersion(f"unsupported room version {identifier!r}") from None
