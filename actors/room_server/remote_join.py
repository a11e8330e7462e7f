"""Joining (and leaving, knocking on) a room this server is not in, through a resident server.

`make_join` asks a resident server for a template, we sign it, `send_join`
gives back the room state and its auth chain. Before anything is stored the
answer is checked: every event well-formed, signed, in this room and allowed
by the auth rules against its own auth events, one create event of the
room's version, and our join allowed by the returned state.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from actors.room_server.inbound_checks import Dropped, check_received
from actors.room_server.received_pdu import parse_pdu
from actors.room_server.remote import Remote, remote_error
from protocol.auth_rules import AuthError, check_auth_events_selection, check_auth_rules
from protocol.errors import MatrixError
from protocol.event_ids import make_v1_event_id
from protocol.events import CREATE, MEMBER, Event, StateKey
from protocol.room_versions import KNOWN_ROOM_VERSIONS, EventFormat, RoomVersion, room_version
from protocol.signing import sign_event

PATHS = {
    "join": ("/_matrix/federation/v1/make_join", "/_matrix/federation/v2/send_join"),
    "leave": ("/_matrix/federation/v1/make_leave", "/_matrix/federation/v2/send_leave"),
    "knock": ("/_matrix/federation/v1/make_knock", "/_matrix/federation/v1/send_knock"),
}


class BadAnswer(Exception):
    """The resident server's answer cannot be trusted: try the next one."""


@dataclass
class Handshake:
    """A signed membership event the resident server accepted, and what it answered."""

    server: str
    event: Event
    answer: dict[str, Any]


@dataclass
class JoinedRoom:
    version: RoomVersion
    join: Event
    # The state before the join (checked), and every checked event by ID.
    state: dict[StateKey, str]
    events: dict[str, Event]


async def handshake(
    remote: Remote, servers: list[str], room_id: str, user_id: str, membership: str,
    content: dict[str, Any], *, server_name: str, signing_key: Any, now_ms: int,
) -> Handshake:
    """make_* then send_* with each server in turn until one accepts."""
    if not servers:
        raise MatrixError(404, "M_NOT_FOUND", "No server to ask about this room")
    make_path, send_path = PATHS[membership]
    last: MatrixError | None = None
    for server in servers:
        try:
            template = await remote.client.get_json(
                server, f"{make_path}/{quote(room_id, safe='')}/{quote(user_id, safe='')}",
                {"ver": sorted(KNOWN_ROOM_VERSIONS)},
            )
            event = _sign_template(template, room_id, user_id, membership, content,
                                   server_name=server_name, signing_key=signing_key,
                                   now_ms=now_ms)
            answer = await remote.client.put_json(
                server, f"{send_path}/{quote(room_id, safe='')}/{quote(event.event_id, safe='')}",
                event.pdu,
            )
        except BadAnswer as e:
            last = MatrixError(502, "M_UNKNOWN", f"{server}: {e}")
            continue
        except Exception as e:  # unreachable, refused, or an error answer: ask the next one
            last = remote_error(e)
            continue
        if not isinstance(answer, dict):
            last = MatrixError(502, "M_UNKNOWN", f"{server}: send_{membership} answer is not an object")
            continue
        return Handshake(server, event, answer)
    assert last is not None
    raise last


def _sign_template(
    template: Any, room_id: str, user_id: str, membership: str, content: dict[str, Any], *,
    server_name: str, signing_key: Any, now_ms: int,
) -> Event:
    if not isinstance(template, dict) or not isinstance(template.get("event"), dict):
        raise BadAnswer("no event template")
    version_id = template.get("room_version", "1")
    if version_id not in KNOWN_ROOM_VERSIONS:
        raise MatrixError(400, "M_INCOMPATIBLE_ROOM_VERSION",
                          f"This server does not support room version {version_id}",
                          room_version=version_id)
    version = room_version(version_id)
    pdu = {k: v for k, v in template["event"].items()
           if k not in ("hashes", "signatures", "unsigned", "event_id")}
    if (pdu.get("type"), pdu.get("state_key"), pdu.get("sender")) != (MEMBER, user_id, user_id):
        raise BadAnswer("the template is not our user's membership event")
    if pdu.get("room_id") != room_id:
        raise BadAnswer("the template is for another room")
    given = pdu.get("content") if isinstance(pdu.get("content"), dict) else {}
    # Keep what the resident added (join_authorised_via_users_server), ours on top.
    pdu["content"] = {**given, **content, "membership": membership}
    pdu["origin_server_ts"] = now_ms
    if not version.updated_redaction_rules:
        pdu["origin"] = server_name
    if version.event_format is EventFormat.V1:
        pdu["event_id"] = make_v1_event_id(secrets.token_urlsafe(12), server_name)
    signed = sign_event(pdu, version, server_name, signing_key)
    try:
        return parse_pdu(signed, version, room_id=room_id)
    except MatrixError as e:
        raise BadAnswer(f"the template makes a bad event: {e.error}") from None


async def check_join_answer(remote: Remote, done: Handshake, room_id: str) -> JoinedRoom:
    """The checked room state and auth chain of a send_join answer."""
    version = done.event.room_version
    join = done.event
    answer = done.answer
    if isinstance(answer.get("event"), dict):
        # A restricted join comes back co-signed by the authorising server.
        cosigned = parse_pdu(answer["event"], version, room_id=room_id)
        if cosigned.event_id != join.event_id or not await remote.is_signed(
                cosigned.pdu, version):
            raise BadAnswer("the returned join event is not ours or not signed")
        join = Event({**join.pdu, "signatures": cosigned.pdu["signatures"]}, version,
                     join.event_id)
    state_list, chain_list = answer.get("state"), answer.get("auth_chain")
    if not isinstance(state_list, list) or not isinstance(chain_list, list):
        raise BadAnswer("send_join answer without state and auth_chain")
    events: dict[str, Event] = {}
    state: dict[StateKey, str] = {}
    for i, pdu in enumerate([*state_list, *chain_list]):
        event = await _checked(remote, pdu, version, room_id)
        events[event.event_id] = event
        if i < len(state_list):
            if not event.is_state:
                raise BadAnswer(f"{event.event_id} in the state is not a state event")
            state[event.key] = event.event_id
    create_id = state.get((CREATE, ""))
    if create_id is None:
        raise BadAnswer("the state has no create event")
    create = events[create_id]
    if create.room_id != room_id or create.content.get("room_version", "1") != version.identifier:
        raise BadAnswer("the create event is not this room's")
    for event in events.values():
        _check_auth(event, events, create)
    try:
        check_auth_rules(join, {k: events[e] for k, e in state.items()})
    except AuthError as e:
        raise BadAnswer(f"the room's state does not allow our join: {e.reason}") from None
    return JoinedRoom(version, join, state, events)


async def _checked(remote: Remote, pdu: Any, version: RoomVersion, room_id: str) -> Event:
    """The inbound checks every received PDU passes (format, room, signatures, hash)."""
    try:
        return (await check_received(pdu, version, room_id, remote.fetch_keys)).event
    except Dropped as e:
        raise BadAnswer(str(e)) from None


def _check_auth(event: Event, events: dict[str, Event], create: Event) -> None:
    """The event against its own auth events (which the answer must include)."""
    cited = []
    for auth_id in event.auth_event_ids:
        auth = events.get(auth_id)
        if auth is None:
            raise BadAnswer(f"auth event {auth_id} of {event.event_id} is missing")
        cited.append(auth)
    try:
        if event.type != CREATE:
            check_auth_events_selection(event, cited)
        check_auth_rules(event, {**{a.key: a for a in cited}, (CREATE, ""): create})
    except AuthError as e:
        raise BadAnswer(f"{event.event_id} fails auth rule {e.rule}: {e.reason}") from None
