"""Building this server's own events: references, auth events, hashes, signature.

The builder reads the room's cached state only; it checks the result against
the auth rules before anyone persists it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import unpaddedbase64

from actors.room_server.room_state import RoomState
from protocol.auth_events_selection import auth_types_for_event
from protocol.auth_rules import AuthError, check_auth_rules
from protocol.canonical_json import CanonicalJsonError, check_strict_values, encode_canonical_json
from protocol.errors import MatrixError, bad_json, forbidden, too_large
from protocol.event_ids import compute_event_id, make_v1_event_id
from protocol.events import CREATE, REDACTION, Event
from protocol.hashes import compute_reference_hash
from protocol.room_versions import EventFormat, RoomVersion
from protocol.signing import sign_event

MAX_PDU_BYTES = 65536
# Spec "Size limits": `type` and `state_key` MUST NOT exceed 255 bytes.
MAX_KEY_BYTES = 255
# How many forward extremities one event may cite (the spec caps prev_events at 20).
MAX_PREV_EVENTS = 10


@dataclass
class EventSpec:
    """What a local user wants to send; the builder adds the rest."""

    type: str
    sender: str
    content: dict[str, Any]
    state_key: str | None = None
    redacts: str | None = None
    # (device_id, txn_id) for client sends, so retries return the same event.
    txn: tuple[str, str] | None = None


def _reference(event_id: str, pdu: dict[str, Any], version: RoomVersion) -> Any:
    if version.event_format is EventFormat.V1:
        digest = compute_reference_hash(pdu, version)
        return [event_id, {"sha256": unpaddedbase64.encode_base64(digest)}]
    return event_id


def build_event(
    room: RoomState | None,
    spec: EventSpec,
    *,
    version: RoomVersion,
    room_id: str,
    server_name: str,
    signing_key: Any,
    now_ms: int,
) -> Event:
    """Build and sign `spec` as the room's next event (room is None for the create event)."""
    _check_client_values(spec, version)
    pdu: dict[str, Any] = {
        "type": spec.type,
        "sender": spec.sender,
        "content": spec.content,
        "origin_server_ts": now_ms,
    }
    if spec.state_key is not None:
        pdu["state_key"] = spec.state_key
    if not (version.room_id_is_create_event_id and spec.type == CREATE):
        pdu["room_id"] = room_id
    if not version.updated_redaction_rules:
        pdu["origin"] = server_name
    if spec.redacts is not None and not version.redacts_in_content:
        pdu["redacts"] = spec.redacts
    prev = _pick_prev_events(room)
    pdu["prev_events"] = [_reference(eid, p, version) for eid, p in prev]
    pdu["depth"] = (room.max_depth + 1) if room else 1
    pdu["auth_events"] = _auth_references(room, spec, version)
    if version.event_format is EventFormat.V1:
        pdu["event_id"] = make_v1_event_id(secrets.token_urlsafe(12), server_name)
    signed = sign_event(pdu, version, server_name, signing_key)
    if len(encode_canonical_json(signed)) > MAX_PDU_BYTES:
        raise too_large("Event is larger than 65536 bytes")
    return Event(signed, version, compute_event_id(signed, version))


def _check_client_values(spec: EventSpec, version: RoomVersion) -> None:
    """Refuse what no event may hold: U+0000, over-long keys, v6+ non-canonical numbers.

    PostgreSQL can store U+0000 in neither text nor jsonb, and other servers
    drop events with over-long keys and v6+ events with floats or integers
    beyond ±(2**53 - 1), so all of these are refused before anything is signed.
    """
    if _holds_nul([spec.type, spec.state_key, spec.content]):
        raise bad_json("Events cannot contain U+0000 characters")
    for name, value in (("type", spec.type), ("state_key", spec.state_key)):
        if value is not None and len(value.encode("utf-8")) > MAX_KEY_BYTES:
            raise too_large(f"An event's {name} may not exceed {MAX_KEY_BYTES} bytes")
    if version.strict_canonicaljson:
        try:
            check_strict_values(spec.content)
        except CanonicalJsonError as e:
            raise bad_json(f"Room version {version.identifier} needs strict canonical JSON: {e}") from None


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _pick_prev_events(room: RoomState | None) -> list[tuple[str, dict[str, Any]]]:
    if room is None:
        return []
    items = sorted(room.extremities.items(), key=lambda kv: -int(kv[1].get("depth", 0)))
    return items[:MAX_PREV_EVENTS]


def _auth_references(room: RoomState | None, spec: EventSpec, version: RoomVersion) -> list[Any]:
    if room is None:
        return []
    refs = []
    for key in auth_types_for_event(version, spec.type, spec.state_key, spec.sender, spec.content):
        event_id = room.state.get(key)
        if event_id is not None:
            refs.append(_reference(event_id, room.events[event_id].pdu, version))
    return refs


def authorise(room: RoomState | None, event: Event) -> None:
    """Check `event` against the room's current state; 403 with the rule if rejected."""
    auth_map = {}
    if room is not None:
        for key in auth_types_for_event(
            event.room_version, event.type, event.state_key, event.sender, event.content
        ):
            ev = room.state_event(*key)
            if ev is not None:
                auth_map[key] = ev
        create = room.state_event(CREATE)
        if create is not None:
            auth_map[(CREATE, "")] = create
    try:
        check_auth_rules(event, auth_map)
    except AuthError as e:
        raise forbidden(f"{e.reason} (auth rule {e.rule})") from None
    if event.type == REDACTION and not event.redacts:
        raise MatrixError(400, "M_BAD_JSON", "A redaction must name the event it redacts")
