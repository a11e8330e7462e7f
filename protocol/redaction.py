"""The redaction algorithm: what survives when an event is redacted.

The same algorithm serves three purposes, so it must match every other server
byte for byte: storing a redacted event, signing (signatures cover only the
redacted form, so they survive redaction) and the reference hash (so a v3+
event ID does not change when its event is redacted).

Spec: rooms/fragments/v1-redactions (v1-v5), v6-redactions (v6-v7), v8.md
(v8), v9-redactions (v9-v10) and v11-redactions (v11-v12). The per-version
differences are read from `RoomVersion` flags, never from version strings.

What happens to `unsigned`: it is not in any version's list of kept top-level
keys, so `redact_pdu` drops it. That is also what signing and hashing need
(they strip `unsigned` anyway) and what a server must store and federate. The
client format is different: the client-server API asks for the redaction event
under `unsigned.redacted_because`, so `redact_client_event` rebuilds a small,
content-free `unsigned` (see there).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from protocol.room_versions import RoomVersion

# Top-level keys every room version keeps.
_KEPT_TOP_LEVEL_ALWAYS: frozenset[str] = frozenset(
    {
        "event_id",
        "type",
        "room_id",
        "sender",
        "state_key",
        "content",
        "hashes",
        "signatures",
        "depth",
        "prev_events",
        "auth_events",
        "origin_server_ts",
    }
)
# Kept before v11 only; v11 (MSC2176) stopped protecting them.
_KEPT_TOP_LEVEL_BEFORE_V11: frozenset[str] = frozenset({"origin", "membership", "prev_state"})

_POWER_LEVELS_KEPT: frozenset[str] = frozenset(
    {"ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"}
)

# Keys of a client-format event's `unsigned` that say how the event was
# delivered rather than what it said, so they may stay on a redacted event.
_CLIENT_UNSIGNED_KEPT: frozenset[str] = frozenset({"age", "transaction_id", "membership"})

# `None` from `_kept_content_keys` means "keep the whole content".
_KEEP_ALL = None


def kept_top_level_keys(room_version: RoomVersion) -> frozenset[str]:
    """The top-level keys redaction keeps in this room version."""
    if room_version.updated_redaction_rules:
        return _KEPT_TOP_LEVEL_ALWAYS
    return _KEPT_TOP_LEVEL_ALWAYS | _KEPT_TOP_LEVEL_BEFORE_V11


def _kept_content_keys(event_type: str, room_version: RoomVersion) -> frozenset[str] | None:
    """The content keys kept for `event_type`, or `_KEEP_ALL`.

    `m.room.member`'s `third_party_invite` is handled separately because only
    part of it survives (v11+).
    """
    rv = room_version
    if event_type == "m.room.member":
        keys = {"membership"}
        if rv.redaction_keeps_join_authorised:
            keys.add("join_authorised_via_users_server")
        return frozenset(keys)
    if event_type == "m.room.create":
        return _KEEP_ALL if rv.updated_redaction_rules else frozenset({"creator"})
    if event_type == "m.room.join_rules":
        if rv.redaction_keeps_join_rules_allow:
            return frozenset({"join_rule", "allow"})
        return frozenset({"join_rule"})
    if event_type == "m.room.power_levels":
        if rv.updated_redaction_rules:
            return _POWER_LEVELS_KEPT | {"invite"}
        return _POWER_LEVELS_KEPT
    if event_type == "m.room.aliases" and rv.redaction_keeps_aliases:
        return frozenset({"aliases"})
    if event_type == "m.room.history_visibility":
        return frozenset({"history_visibility"})
    if event_type == "m.room.redaction" and rv.updated_redaction_rules:
        return frozenset({"redacts"})
    return frozenset()


def _redact_third_party_invite(value: Any) -> dict[str, Any] | None:
    """v11+: keep only `signed` of a member event's `third_party_invite`.

    The spec keeps "the `signed` key of the `third_party_invite` key": an
    object without `signed` becomes `{}` (the key itself is protected), and a
    value that is not an object has no `signed` key, so it is dropped (None).
    """
    if not isinstance(value, Mapping):
        return None
    if "signed" in value:
        return {"signed": copy.deepcopy(value["signed"])}
    return {}


def redact_content(event_type: str, content: Any, room_version: RoomVersion) -> dict[str, Any]:
    """The redacted form of an event's `content` (always a new dict)."""
    if not isinstance(content, Mapping):
        # Nothing can be kept from a content that is not an object.
        return {}
    kept = _kept_content_keys(event_type, room_version)
    if kept is _KEEP_ALL:
        return copy.deepcopy(dict(content))
    out = {k: copy.deepcopy(v) for k, v in content.items() if k in kept}
    if (
        event_type == "m.room.member"
        and room_version.updated_redaction_rules
        and "third_party_invite" in content
    ):
        tpi = _redact_third_party_invite(content["third_party_invite"])
        if tpi is not None:
            out["third_party_invite"] = tpi
    return out


def _redact_common(event: Mapping[str, Any], room_version: RoomVersion) -> dict[str, Any]:
    """Keep the protected top-level keys and the protected content keys.

    `content` is always present in the result (an empty object if the event
    had none), since every event format requires it.
    """
    kept = kept_top_level_keys(room_version)
    out = {k: copy.deepcopy(v) for k, v in event.items() if k in kept and k != "content"}
    out["content"] = redact_content(str(event.get("type", "")), event.get("content"), room_version)
    return out


def redact_pdu(pdu: Mapping[str, Any], room_version: RoomVersion) -> dict[str, Any]:
    """The redacted copy of a PDU (federation format); the input is not changed.

    `unsigned` is dropped, as is every other key the room version does not
    protect (see the module docstring).
    """
    return _redact_common(pdu, room_version)


def redact_client_event(
    event: Mapping[str, Any],
    room_version: RoomVersion,
    redacted_because: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The redacted copy of a client-format event, as served to clients.

    The top-level and content rules are those of `redact_pdu`. `unsigned` is
    rebuilt rather than dropped: the client-server API says servers should
    include the redaction event as `unsigned.redacted_because`, and the
    delivery keys `age`, `transaction_id` and `membership` say nothing about the
    redacted content. Everything else in `unsigned` (`prev_content`,
    `m.relations`, ...) is dropped because it may repeat redacted content.
    If `redacted_because` is not given, an existing one is kept.
    """
    out = _redact_common(event, room_version)
    old_unsigned = event.get("unsigned")
    unsigned: dict[str, Any] = {}
    if isinstance(old_unsigned, Mapping):
        unsigned = {
            k: copy.deepcopy(v) for k, v in old_unsigned.items() if k in _CLIENT_UNSIGNED_KEPT
        }
        if redacted_because is None and "redacted_because" in old_unsigned:
            unsigned["redacted_because"] = copy.deepcopy(old_unsigned["redacted_because"])
    if redacted_because is not None:
        unsigned["redacted_because"] = copy.deepcopy(dict(redacted_because))
    if unsigned:
        out["unsigned"] = unsigned
    return out
