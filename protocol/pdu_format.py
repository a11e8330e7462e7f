"""Is this dict a well-formed PDU of its room version? (The first check on receipt.)

The server-server API drops an event that "is not a valid event": it must have
the fields and JSON types of its room version's event format (the `pdu_v*`
schemas), fit the size limits of the client-server "Size limits" section, carry
well-formed identifiers, and, from room version 6, obey strict canonical JSON.
Signatures, hashes and authorisation are later, separate checks; nothing here
looks at `content` beyond it being an object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from protocol.canonical_json import (
    MAX_SAFE_INTEGER,
    CanonicalJsonError,
    check_strict_values,
    encode_canonical_json,
)
from protocol.identifiers import is_valid_event_id, is_valid_room_id, is_valid_user_id
from protocol.room_versions import EventFormat, RoomVersion

# The whole PDU as canonical JSON, signatures included.
MAX_PDU_BYTES = 65536
# sender, room_id, state_key, type and event_id, in UTF-8 bytes.
MAX_FIELD_BYTES = 255
MAX_PREV_EVENTS = 20
MAX_AUTH_EVENTS = 10
# `depth` "must be less than the maximum value for an integer": 2**63 - 1 for
# room versions 1-5, the canonical JSON limit 2**53 - 1 from version 6.
_MAX_DEPTH_LEGACY = 2**63 - 1

_CREATE = "m.room.create"


class PduFormatError(ValueError):
    """The PDU does not follow its room version's event format; drop it."""


def validate_pdu(pdu: dict[str, Any], room_version: RoomVersion) -> None:
    """Raise PduFormatError unless `pdu` is a well-formed PDU of `room_version`."""
    if not isinstance(pdu, dict):
        raise PduFormatError("PDU is not a JSON object")
    _check_json(pdu, room_version)
    _check_base_fields(pdu)
    _check_depth(pdu, room_version)
    _check_room_id(pdu, room_version)
    _check_event_id(pdu, room_version)
    _check_references(pdu, room_version, "prev_events", MAX_PREV_EVENTS)
    _check_references(pdu, room_version, "auth_events", MAX_AUTH_EVENTS)
    _check_redacts(pdu, room_version)


# --- whole-PDU checks -------------------------------------------------------


def _check_json(pdu: dict[str, Any], room_version: RoomVersion) -> None:
    """Strict values (v6+), then the 64 KiB limit on the canonical encoding."""
    try:
        if room_version.strict_canonicaljson:
            check_strict_values(pdu)
        size = len(encode_canonical_json(pdu))
    except CanonicalJsonError as e:
        raise PduFormatError(f"PDU is not valid canonical JSON: {e}") from None
    if size > MAX_PDU_BYTES:
        raise PduFormatError(f"PDU is {size} bytes as canonical JSON; the limit is {MAX_PDU_BYTES}")


# --- fields common to every version -----------------------------------------


def _is_int(value: object) -> bool:
    # JSON true/false arrive as bool, which Python counts as int.
    return isinstance(value, int) and not isinstance(value, bool)


def _require(pdu: dict[str, Any], key: str, check: Callable[[Any], bool], kind: str) -> Any:
    if key not in pdu:
        raise PduFormatError(f"PDU has no '{key}'")
    value = pdu[key]
    if not check(value):
        raise PduFormatError(f"PDU '{key}' is not {kind}")
    return value


def _is_str(v: object) -> bool:
    return isinstance(v, str)


def _is_dict(v: object) -> bool:
    return isinstance(v, dict)


def _check_length(pdu: dict[str, Any], key: str) -> None:
    """The per-key byte limit; the value is already known to be a string."""
    size = len(pdu[key].encode("utf-8"))
    if size > MAX_FIELD_BYTES:
        raise PduFormatError(f"PDU '{key}' is {size} bytes; the limit is {MAX_FIELD_BYTES}")


def _check_base_fields(pdu: dict[str, Any]) -> None:
    _require(pdu, "type", _is_str, "a string")
    _check_length(pdu, "type")
    _require(pdu, "sender", _is_str, "a string")
    _check_length(pdu, "sender")
    # The historical grammar: real rooms hold senders that predate v1.8's rules.
    if not is_valid_user_id(pdu["sender"], historical=True):
        raise PduFormatError(f"PDU 'sender' {pdu['sender']!r} is not a valid user ID")
    if "state_key" in pdu:
        _require(pdu, "state_key", _is_str, "a string")
        _check_length(pdu, "state_key")
    _require(pdu, "content", _is_dict, "an object")
    _require(pdu, "origin_server_ts", _is_int, "an integer")
    hashes = _require(pdu, "hashes", _is_dict, "an object")
    if not isinstance(hashes.get("sha256"), str):
        raise PduFormatError("PDU 'hashes' has no string 'sha256'")
    _require(pdu, "signatures", _is_signatures, "an object of server names to key IDs to strings")
    if "unsigned" in pdu:
        _require(pdu, "unsigned", _is_dict, "an object")


def _is_signatures(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(by_key, dict) and all(isinstance(sig, str) for sig in by_key.values())
        for by_key in value.values()
    )


def _check_depth(pdu: dict[str, Any], room_version: RoomVersion) -> None:
    depth = _require(pdu, "depth", _is_int, "an integer")
    limit = MAX_SAFE_INTEGER if room_version.strict_canonicaljson else _MAX_DEPTH_LEGACY
    if not 0 <= depth <= limit:
        raise PduFormatError(f"PDU 'depth' {depth} is outside 0..{limit}")


# --- version-dependent fields -----------------------------------------------


def _is_create_event(pdu: dict[str, Any]) -> bool:
    return pdu.get("type") == _CREATE


def _check_room_id(pdu: dict[str, Any], room_version: RoomVersion) -> None:
    if room_version.room_id_is_create_event_id and _is_create_event(pdu):
        _check_v12_create(pdu)
        return
    room_id = _require(pdu, "room_id", _is_str, "a string")
    _check_length(pdu, "room_id")
    if not is_valid_room_id(room_id, room_version):
        raise PduFormatError(
            f"PDU 'room_id' {room_id!r} is not a room ID of room version {room_version.identifier}"
        )


def _check_v12_create(pdu: dict[str, Any]) -> None:
    """A v12 create event has no room_id: the room ID is derived from its event ID."""
    if "room_id" in pdu:
        raise PduFormatError("m.room.create PDU must not have a 'room_id' in this room version")
    # The derived room ID belongs to the create event *of the room*, whose
    # state key is empty; any other state key would name a roomless event.
    if pdu.get("state_key") != "":
        raise PduFormatError("m.room.create PDU must have an empty 'state_key'")


def _check_event_id(pdu: dict[str, Any], room_version: RoomVersion) -> None:
    """v1-2 PDUs carry their ID; v3+ IDs are computed, so a stray one is ignored."""
    if room_version.event_format is not EventFormat.V1:
        return
    event_id = _require(pdu, "event_id", _is_str, "a string")
    _check_length(pdu, "event_id")
    if not is_valid_event_id(event_id, room_version):
        raise PduFormatError(f"PDU 'event_id' {event_id!r} is not a valid event ID")


def _check_references(pdu: dict[str, Any], room_version: RoomVersion, key: str, limit: int) -> None:
    """prev_events/auth_events: [[id, hashes], ...] in v1-2, [id, ...] from v3."""
    refs = _require(pdu, key, lambda v: isinstance(v, list), "an array")
    if len(refs) > limit:
        raise PduFormatError(f"PDU '{key}' has {len(refs)} entries; the limit is {limit}")
    for ref in refs:
        event_id = _reference_id(ref, room_version, key)
        if not is_valid_event_id(event_id, room_version):
            raise PduFormatError(f"PDU '{key}' holds {event_id!r}, not a valid event ID")


def _reference_id(ref: object, room_version: RoomVersion, key: str) -> Any:
    if room_version.event_format is not EventFormat.V1:
        return ref
    if not (isinstance(ref, list) and len(ref) == 2 and isinstance(ref[1], dict)):
        raise PduFormatError(f"PDU '{key}' entries must be [event_id, hashes] pairs")
    return ref[0]


def _check_redacts(pdu: dict[str, Any], room_version: RoomVersion) -> None:
    """Before v11 a redaction names its target in a top-level `redacts`."""
    if room_version.redacts_in_content or "redacts" not in pdu:
        return
    redacts = pdu["redacts"]
    if not is_valid_event_id(redacts, room_version):
        raise PduFormatError(f"PDU 'redacts' {redacts!r} is not a valid event ID")
