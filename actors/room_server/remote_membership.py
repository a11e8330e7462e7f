"""Our users and rooms on other servers: aliases, whom to ask, inviting remote users."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from actors.room_server.received_pdu import parse_pdu
from actors.room_server.remote import Remote, remote_error
from actors.room_server.room_state import RoomState
from protocol.errors import MatrixError
from protocol.events import CREATE, MEMBER, Event
from protocol.identifiers import is_valid_room_id, is_valid_server_name, server_name_of


async def resolve_alias(remote: Remote, alias: str) -> tuple[str, list[str]]:
    """The room ID and resident servers another server gives for its alias."""
    try:
        answer = await remote.client.get_json(
            server_name_of(alias), "/_matrix/federation/v1/query/directory",
            {"room_alias": alias})
    except Exception as e:  # the alias's server is the only one that can answer
        raise remote_error(e) from None
    room_id = answer.get("room_id") if isinstance(answer, dict) else None
    servers = answer.get("servers") if isinstance(answer, dict) else None
    if not is_valid_room_id(room_id) or not isinstance(servers, list):
        raise MatrixError(502, "M_UNKNOWN", "The alias's server gave a malformed answer")
    return room_id, [s for s in servers if is_valid_server_name(s)]


def servers_to_ask(
    room: RoomState | None, room_id: str, user_id: str, via: list[str], server_name: str
) -> list[str]:
    """`via` first, then the server of whoever invited the user, then the room ID's server."""
    candidates = [s for s in via if isinstance(s, str)]
    member = room.state_event(MEMBER, user_id) if room else None
    if member is not None and member.membership in ("invite", "knock"):
        candidates.append(server_name_of(member.sender))
    if ":" in room_id:
        # Pre-v12 room IDs name the server that created the room.
        candidates.append(room_id.partition(":")[2])
    return [s for s in dict.fromkeys(candidates) if s != server_name]


def creator_from(room_state: Any, event: Event) -> str:
    """The room's creator from a create event among stripped/full state, else the sender."""
    for pdu in room_state if isinstance(room_state, list) else []:
        if isinstance(pdu, dict) and pdu.get("type") == CREATE and isinstance(
                pdu.get("sender"), str):
            content = pdu.get("content") if isinstance(pdu.get("content"), dict) else {}
            if event.room_version.implicit_room_creator:
                return pdu["sender"]
            creator = content.get("creator", pdu["sender"])
            return creator if isinstance(creator, str) else pdu["sender"]
    return event.sender


async def exchange_invite(remote: Remote, event: Event, room_state: list[dict[str, Any]]) -> Event:
    """`PUT /v2/invite` to the invitee's server; the event it returns, co-signed."""
    target_server = server_name_of(event.state_key or "")
    try:
        answer = await remote.client.put_json(
            target_server,
            f"/_matrix/federation/v2/invite/{quote(event.room_id, safe='')}"
            f"/{quote(event.event_id, safe='')}",
            {"room_version": event.room_version.identifier, "event": event.pdu,
             "invite_room_state": room_state},
        )
    except Exception as e:  # the invitee's server refused or is unreachable
        raise remote_error(e) from None
    returned = answer.get("event") if isinstance(answer, dict) else None
    try:
        signed = parse_pdu(returned, event.room_version, room_id=event.room_id,
                           event_id=event.event_id)
    except MatrixError:
        raise MatrixError(502, "M_UNKNOWN", "The invitee's server returned another event") from None
    signatures = signed.pdu.get("signatures")
    if not isinstance(signatures, dict) or target_server not in signatures:
        raise MatrixError(502, "M_UNKNOWN", "The invitee's server did not sign the invite")
    # Same event ID: the same event; keep our signature and add theirs.
    merged = {**event.pdu["signatures"], target_server: signatures[target_server]}
    return Event({**event.pdu, "signatures": merged}, event.room_version, event.event_id)
