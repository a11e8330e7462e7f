"""Events as clients see them (spec: Client event format, Stripped state).

Pure functions from a stored PDU to the JSON served to clients. The PDU's
federation-only keys (hashes, signatures, prev/auth events, depth, ...) are
left out; `unsigned` is built by the caller for the requesting user (age,
transaction ID, previous content, membership). A redacted event is served
in its redacted form with `unsigned.redacted_because`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from protocol.redaction import redact_client_event, redact_pdu
from protocol.room_versions import RoomVersion

# Keys of the client format taken from the PDU as they are.
_CLIENT_KEYS = ("type", "sender", "origin_server_ts", "content")


def client_event(
    pdu: Mapping[str, Any],
    event_id: str,
    room_id: str,
    room_version: RoomVersion,
    *,
    unsigned: Mapping[str, Any] | None = None,
    include_room_id: bool = True,
    redacted_because: Mapping[str, Any] | None = None,
    redacted: bool = False,
) -> dict[str, Any]:
    """The client format of one event.

    `room_id` comes from the caller because v12 create events carry none.
    `redacted` serves the redacted form (with `redacted_because` when known).
    """
    out: dict[str, Any] = {k: copy.deepcopy(pdu[k]) for k in _CLIENT_KEYS if k in pdu}
    out.setdefault("content", {})
    out["event_id"] = event_id
    if isinstance(pdu.get("state_key"), str):
        out["state_key"] = pdu["state_key"]
    # Room versions 1-10 put a redaction's target at the top level.
    if isinstance(pdu.get("redacts"), str) and not room_version.redacts_in_content:
        out["redacts"] = pdu["redacts"]
    if include_room_id:
        out["room_id"] = room_id
    if unsigned:
        out["unsigned"] = copy.deepcopy(dict(unsigned))
    if not redacted:
        return out
    replaces = (unsigned or {}).get("replaces_state")
    out = redact_client_event(out, room_version, redacted_because)
    # Which event a state event replaced says nothing about the redacted content.
    if replaces is not None:
        out.setdefault("unsigned", {})["replaces_state"] = replaces
    return out


def federation_event(
    pdu: Mapping[str, Any],
    event_id: str,
    room_version: RoomVersion,
    *,
    unsigned: Mapping[str, Any] | None = None,
    redacted: bool = False,
) -> dict[str, Any]:
    """`event_format: federation`: the PDU as stored (redacted if it was), plus its ID.

    The event ID is added because v3+ PDUs do not carry it and a client could
    not refer to the event otherwise; `unsigned` holds the same server-made
    data as the client format.
    """
    out = redact_pdu(pdu, room_version) if redacted else copy.deepcopy(dict(pdu))
    out.pop("unsigned", None)
    out["event_id"] = event_id
    if unsigned:
        out["unsigned"] = copy.deepcopy(dict(unsigned))
    return out


def stripped_state(event: Mapping[str, Any]) -> dict[str, Any]:
    """A stripped state event: only `type`, `state_key`, `sender` and `content`."""
    content = event.get("content")
    return {
        "type": event.get("type", ""),
        "state_key": event.get("state_key", ""),
        "sender": event.get("sender", ""),
        "content": copy.deepcopy(content) if isinstance(content, Mapping) else {},
    }


def is_valid_stripped_state(value: Any) -> bool:
    """Whether a stripped state event from elsewhere (a remote invite) has the right shape."""
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("type"), str)
        and isinstance(value.get("state_key"), str)
        and isinstance(value.get("sender"), str)
        and isinstance(value.get("content"), Mapping)
    )
