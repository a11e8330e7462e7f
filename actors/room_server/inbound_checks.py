"""The checks a PDU passes before anything is stored (server-server API,
"Checks performed on receipt of a PDU", steps 1-3):

1. it is a valid event of the room's version (format, sizes), else dropped;
2. it passes the signature checks, else dropped;
3. it passes the content hash check, else it is kept in redacted form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from federation.event_signatures import FetchKeys, SignatureError, check_event_signatures
from protocol.event_ids import compute_event_id
from protocol.events import Event
from protocol.hashes import check_content_hash
from protocol.pdu_format import PduFormatError, validate_pdu
from protocol.redaction import redact_pdu
from protocol.room_versions import RoomVersion


class Dropped(ValueError):
    """The PDU is not stored at all: malformed, wrong room, or badly signed."""


@dataclass(frozen=True)
class Received:
    event: Event
    # The content hash did not match: `event` is our redaction of what came.
    redacted: bool


def event_id_of(pdu: Any, version: RoomVersion) -> str:
    """The PDU's event ID after the format check; Dropped if it is not a valid PDU."""
    if not isinstance(pdu, dict):
        raise Dropped("PDU is not a JSON object")
    try:
        validate_pdu(pdu, version)
        return compute_event_id(pdu, version)
    except (PduFormatError, ValueError) as e:
        raise Dropped(str(e)) from None


async def check_received(
    pdu: Mapping[str, Any], version: RoomVersion, room_id: str, fetch_keys: FetchKeys
) -> Received:
    """Run steps 1-3 on `pdu` for the room `room_id`; Dropped on failure."""
    event_id = event_id_of(pdu, version)
    clean = {k: v for k, v in pdu.items() if k != "unsigned"}
    event = Event(clean, version, event_id)
    if event.room_id != room_id:
        raise Dropped(f"event {event_id} is not in room {room_id}")
    try:
        await check_event_signatures(clean, version, fetch_keys)
    except SignatureError as e:
        raise Dropped(f"signature check failed: {e}") from None
    if check_content_hash(clean):
        return Received(event, redacted=False)
    return Received(Event(redact_pdu(clean, version), version, event_id), redacted=True)
