"""`make_join`, `make_leave`, `make_knock` (resident side): event templates.

A template is the event this server would accept from the user right now,
unsigned: the joining server adds its content hash and signature (and, for
v1/v2 rooms, its own event ID) and sends it back through `send_*`.
"""

from __future__ import annotations

from typing import Any

from actors.room_server.event_builder import EventSpec, authorise, build_event
from actors.room_server.room_state import RoomState
from protocol.errors import MatrixError, forbidden, invalid_param
from protocol.events import MEMBER
from protocol.identifiers import is_valid_user_id, server_name_of

# Fields the requesting server fills in itself.
_NOT_IN_TEMPLATE = ("hashes", "signatures", "event_id", "unsigned")


def check_request(
    room: RoomState, user_id: str, origin: str, versions: list[str] | None
) -> None:
    """The requester must speak the room's version and ask for one of its own users.

    `versions` is None for make_leave, which does not ask.
    """
    # No `ver` at all means the requesting server only knows version 1.
    if versions is not None and room.version.identifier not in (versions or ["1"]):
        raise MatrixError(400, "M_INCOMPATIBLE_ROOM_VERSION",
                          "Your homeserver does not support this room's version",
                          room_version=room.version.identifier)
    if not is_valid_user_id(user_id):
        raise invalid_param("Invalid user ID")
    if server_name_of(user_id) != origin:
        raise forbidden("The user is not from the requesting server")


def template(
    room: RoomState, user_id: str, membership: str, content: dict[str, Any], *,
    server_name: str, signing_key: Any, now_ms: int,
) -> dict[str, Any]:
    """`{"room_version", "event"}`; 403 if the auth rules would refuse the event."""
    if membership == "knock" and not room.version.knock:
        raise MatrixError(400, "M_INCOMPATIBLE_ROOM_VERSION",
                          f"Room version {room.version.identifier} does not support knocking",
                          room_version=room.version.identifier)
    spec = EventSpec(MEMBER, user_id, {**content, "membership": membership}, user_id)
    event = build_event(room, spec, version=room.version, room_id=room.room_id,
                        server_name=server_name, signing_key=signing_key, now_ms=now_ms)
    authorise(room, event)
    pdu = {k: v for k, v in event.pdu.items() if k not in _NOT_IN_TEMPLATE}
    if "origin" in pdu:
        pdu["origin"] = server_name_of(user_id)
    return {"room_version": room.version.identifier, "event": pdu}
