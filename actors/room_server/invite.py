"""`PUT /v2/invite` (a remote server invites one of our users) and inviting remote users.

Inbound: the spec's checks (a member invite event, sent by a user of the
origin, for a user of ours, correctly signed; `invite_room_state` holding the
create event from v12), then our signature. The stripped state the inviter
sent is kept in the stored PDU's `unsigned.invite_room_state`, which /sync
serves for a room this server is not in.
"""

from __future__ import annotations

from typing import Any

from actors.room_server.received_pdu import incompatible, parse_pdu
from protocol.errors import MatrixError
from protocol.events import CREATE, MEMBER, Event
from protocol.identifiers import server_name_of
from protocol.pdu_format import PduFormatError, validate_pdu
from protocol.room_versions import RoomVersion, UnknownRoomVersion, room_version


def invalid(error: str) -> MatrixError:
    return MatrixError(400, "M_INVALID_PARAM", error)


def parse_invite_request(
    body: Any, room_id: str, event_id: str, origin: str, server_name: str
) -> tuple[Event, list[dict[str, Any]]]:
    """The invite event and its room state, or the spec's 400."""
    if not isinstance(body, dict):
        raise invalid("The body must be a JSON object")
    version_id = body.get("room_version")
    if not isinstance(version_id, str):
        raise invalid("room_version is required")
    try:
        version = room_version(version_id)
    except UnknownRoomVersion:
        raise incompatible(version_id) from None
    try:
        event = parse_pdu(body.get("event"), version, room_id=room_id, event_id=event_id)
    except MatrixError as e:
        raise invalid(e.error) from None
    if event.type != MEMBER or event.membership != "invite":
        raise invalid("Not an invite event")
    if event.origin != origin:
        raise invalid("The sender is not a user of the requesting server")
    target = event.state_key or ""
    if not target.startswith("@") or server_name_of(target) != server_name:
        raise invalid("The invitee is not a user of this server")
    return event, _room_state(body.get("invite_room_state"), version, room_id)


def _room_state(value: Any, version: RoomVersion, room_id: str) -> list[dict[str, Any]]:
    """`invite_room_state`: PDUs of the room; from v12 checked as the spec asks."""
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise invalid("invite_room_state must be a list of events")
    if not version.room_id_is_create_event_id:
        # Older versions MAY skip these checks: servers used to send stripped state here.
        return value
    creates = 0
    for pdu in value:
        try:
            validate_pdu(pdu, version)
        except PduFormatError as e:
            raise invalid(f"invite_room_state: {e}") from None
        event = parse_pdu(pdu, version)
        if event.room_id != room_id:
            raise invalid("invite_room_state holds an event of another room")
        creates += event.type == CREATE
    if creates != 1:
        raise invalid("invite_room_state must hold the room's create event")
    return value
