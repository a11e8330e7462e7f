"""A PDU another server hands us directly (send_join/leave/knock, invite, a join's state).

Format, event ID, content hash and signatures are checked before anything
reads the event; a failure is the sender's bad input (400/403), never ours.
"""

from __future__ import annotations

from typing import Any

from actors.room_server.remote import Remote
from protocol.errors import MatrixError, bad_json, forbidden
from protocol.event_ids import compute_event_id
from protocol.events import Event
from protocol.hashes import check_content_hash
from protocol.pdu_format import PduFormatError, validate_pdu
from protocol.room_versions import RoomVersion


def parse_pdu(pdu: Any, version: RoomVersion, *, room_id: str | None = None,
              event_id: str | None = None) -> Event:
    """The PDU as an Event of `version`, its `unsigned` dropped (it is not signed)."""
    if not isinstance(pdu, dict):
        raise bad_json("The event must be a JSON object")
    pdu = {k: v for k, v in pdu.items() if k != "unsigned"}
    try:
        validate_pdu(pdu, version)
        computed = compute_event_id(pdu, version)
    except (PduFormatError, ValueError) as e:
        raise bad_json(f"Malformed event: {e}") from None
    event = Event(pdu, version, computed)
    if event_id is not None and computed != event_id:
        raise bad_json("The event ID does not match the event")
    if room_id is not None and event.room_id != room_id:
        raise bad_json("The event is not in this room")
    return event


async def check_signed(event: Event, remote: Remote) -> None:
    """Signatures of every server that must sign it, and an intact content hash.

    A hash mismatch means a redacted copy: fine inside a state response, but
    an event we are asked to accept or co-sign must arrive whole.
    """
    if not check_content_hash(event.pdu):
        raise forbidden("The event's content hash does not match")
    if not await remote.is_signed(event.pdu, event.room_version):
        raise forbidden("The event is not correctly signed")


def check_member_event(event: Event, membership: str, origin: str) -> None:
    """A membership event of the sender on itself, sent by the sender's own server."""
    if event.type != "m.room.member" or event.membership != membership:
        raise bad_json(f"Not a {membership} event")
    if event.state_key != event.sender:
        raise bad_json(f"A {membership} event must have the sender as its state_key")
    if event.origin != origin:
        raise forbidden("The sender is not from the requesting server")


def incompatible(version_id: str) -> MatrixError:
    return MatrixError(400, "M_INCOMPATIBLE_ROOM_VERSION",
                       "This server does not support the room's version",
                       room_version=version_id)
