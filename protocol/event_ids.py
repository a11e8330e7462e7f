"""Event IDs for each event format, and v12 room IDs derived from them.

Spec: rooms/fragments/v1-event-ids (v1-v2: `$opaque_id:domain`, chosen by the
creating server and carried in the PDU), rooms/v3.md (v3: `$` + unpadded
base64 of the reference hash), rooms/fragments/v4-event-ids (v4+: the same
with URL-safe unpadded base64), rooms/v12.md (the room ID is the create
event's ID with `!` for `$`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unpaddedbase64 import encode_base64

from protocol.hashes import compute_reference_hash
from protocol.room_versions import EventFormat, RoomVersion, UnknownRoomVersion, room_version

# Event IDs and room IDs may not exceed 255 bytes (appendices, identifier grammar).
_MAX_ID_BYTES = 255


def compute_event_id(pdu: Mapping[str, Any], room_version: RoomVersion) -> str:
    """The event ID of a PDU in a room of `room_version`.

    v1/v2: the PDU's own `event_id` (ValueError if it has none). v3: `$` and
    standard unpadded base64 of the reference hash. v4+: the same, URL-safe.
    A v3+ PDU must not carry an `event_id` key: redaction protects that key,
    so it would be hashed and give a different ID.
    """
    fmt = room_version.event_format
    if fmt is EventFormat.V1:
        event_id = pdu.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise ValueError("a v1/v2 PDU must carry its event_id")
        return event_id
    digest = compute_reference_hash(pdu, room_version)
    # v3 IDs may contain `/` and `+`; v4 switched to `-` and `_` so IDs can go
    # into URLs unescaped.
    return "$" + encode_base64(digest, urlsafe=fmt is EventFormat.V3)


def make_v1_event_id(local: str, server_name: str) -> str:
    """A v1/v2 event ID `$local:server_name` for an event this server creates.

    `local` must be non-empty, locally unique and free of `:` (which would make
    the domain ambiguous); the whole ID must fit in 255 bytes.
    """
    if not local or ":" in local:
        raise ValueError("event ID localpart must be non-empty and contain no ':'")
    if not server_name:
        raise ValueError("server name must be non-empty")
    event_id = f"${local}:{server_name}"
    if len(event_id.encode("utf-8")) > _MAX_ID_BYTES:
        raise ValueError("event ID longer than 255 bytes")
    return event_id


def room_id_for_create_event(
    create_pdu: Mapping[str, Any], version: RoomVersion | None = None
) -> str:
    """The room ID of a v12+ room: its create event's ID with `!` instead of `$`.

    The room version is read from the create event's `content.room_version`
    unless given. ValueError if the event is not a create event or the room
    version does not derive room IDs from the create event.
    """
    if create_pdu.get("type") != "m.room.create" or create_pdu.get("state_key") != "":
        raise ValueError("not an m.room.create event with an empty state_key")
    if version is None:
        content = create_pdu.get("content")
        declared = content.get("room_version") if isinstance(content, Mapping) else None
        try:
            # An absent room_version means "1" (m.room.create schema).
            version = room_version(declared if declared is not None else "1")
        except UnknownRoomVersion as exc:
            raise ValueError(str(exc)) from None
    if not version.room_id_is_create_event_id:
        raise ValueError(f"room version {version.identifier} does not derive room IDs")
    return "!" + compute_event_id(create_pdu, version)[1:]
