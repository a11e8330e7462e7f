"""`POST /createRoom`: turn the request into the ordered list of events to send.

The order is the spec's: create, the creator's join, power levels, canonical
alias, preset events, initial_state, name and topic, then invites. Nothing
here touches the database; the service builds, authorises and persists the
list in one transaction, so a bad request creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.room_server.event_builder import EventSpec
from protocol.errors import MatrixError, bad_json, invalid_param
from protocol.events import CREATE, JOIN_RULES, MEMBER, POWER_LEVELS
from protocol.identifiers import is_valid_user_id
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion, room_version

PRESETS = {
    "private_chat": ("invite", "shared", "can_join"),
    "trusted_private_chat": ("invite", "shared", "can_join"),
    "public_chat": ("public", "shared", "forbidden"),
}


@dataclass
class CreateRoomPlan:
    version: RoomVersion
    create: EventSpec
    rest: list[EventSpec]
    alias: str | None
    visibility: str
    invitees: list[str] = field(default_factory=list)


def _str_field(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise bad_json(f"'{name}' must be a string")
    return value


def _object_field(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name, {})
    if not isinstance(value, dict):
        raise bad_json(f"'{name}' must be an object")
    return value


def _pick_version(body: dict[str, Any], default: str) -> RoomVersion:
    requested = body.get("room_version", default)
    if not isinstance(requested, str) or requested not in KNOWN_ROOM_VERSIONS:
        raise MatrixError(400, "M_UNSUPPORTED_ROOM_VERSION",
                          f"Unsupported room version {requested!r}")
    return room_version(requested)


def _invitees(body: dict[str, Any], creator: str) -> list[str]:
    invite = body.get("invite", [])
    if not isinstance(invite, list) or not all(isinstance(u, str) for u in invite):
        raise bad_json("'invite' must be a list of user IDs")
    for user in invite:
        if not is_valid_user_id(user):
            raise invalid_param(f"Invalid user ID {user!r} in 'invite'")
    if body.get("invite_3pid"):
        raise invalid_param("Third-party invites (invite_3pid) are not supported by this server")
    return [u for u in dict.fromkeys(invite) if u != creator]


def default_power_levels(
    version: RoomVersion, creator: str, preset: str, invitees: list[str]
) -> dict[str, Any]:
    users: dict[str, int] = {}
    if not version.privileged_creators:
        users[creator] = 100
        if preset == "trusted_private_chat":
            users.update(dict.fromkeys(invitees, 100))
    events = {
        "m.room.name": 50, "m.room.power_levels": 100, "m.room.history_visibility": 100,
        "m.room.canonical_alias": 50, "m.room.avatar": 50, "m.room.server_acl": 100,
        "m.room.encryption": 100,
        # v12: tombstoning must need more than any level a creator could grant.
        "m.room.tombstone": 150 if version.privileged_creators else 100,
    }
    return {
        "users": users, "users_default": 0, "events": events, "events_default": 0,
        "state_default": 50, "ban": 50, "kick": 50, "redact": 50, "invite": 0,
        "notifications": {"room": 50},
    }


def _initial_state(body: dict[str, Any], creator: str) -> list[EventSpec]:
    initial = body.get("initial_state", [])
    if not isinstance(initial, list):
        raise bad_json("'initial_state' must be a list")
    specs = []
    for item in initial:
        if not (isinstance(item, dict) and isinstance(item.get("type"), str)
                and isinstance(item.get("content"), dict)
                and isinstance(item.get("state_key", ""), str)):
            raise bad_json("Each initial_state entry needs a type, content and state_key")
        if item["type"] in (CREATE, MEMBER):
            raise invalid_param(f"initial_state may not contain {item['type']}")
        specs.append(EventSpec(item["type"], creator, item["content"], item.get("state_key", "")))
    return specs


def plan_create_room(
    body: dict[str, Any], creator: str, server_name: str, default_version: str,
    member_content: dict[str, Any],
) -> CreateRoomPlan:
    """Validate the request and list the events it implies."""
    version = _pick_version(body, default_version)
    visibility = body.get("visibility", "private")
    if visibility not in ("public", "private"):
        raise invalid_param("'visibility' must be 'public' or 'private'")
    preset = body.get("preset", "public_chat" if visibility == "public" else "private_chat")
    if preset not in PRESETS:
        raise invalid_param(f"Unknown preset {preset!r}")
    invitees = _invitees(body, creator)
    alias_name = _str_field(body, "room_alias_name")
    alias = f"#{alias_name}:{server_name}" if alias_name is not None else None
    if alias_name is not None and (not alias_name or ":" in alias_name or len(alias) > 255):
        raise invalid_param("Invalid room_alias_name")
    name, topic = _str_field(body, "name"), _str_field(body, "topic")

    create_content = dict(_object_field(body, "creation_content"))
    create_content["room_version"] = version.identifier
    if version.implicit_room_creator:
        create_content.pop("creator", None)
    else:
        create_content["creator"] = creator
    if version.privileged_creators and preset == "trusted_private_chat":
        extra = create_content.get("additional_creators", [])
        if not isinstance(extra, list):
            raise bad_json("'additional_creators' must be a list")
        create_content["additional_creators"] = list(dict.fromkeys([*extra, *invitees]))
    create = EventSpec(CREATE, creator, create_content, "")

    power = default_power_levels(version, creator, preset, invitees)
    power.update(_object_field(body, "power_level_content_override"))
    join_rule, history, guest = PRESETS[preset]
    rest = [
        EventSpec(MEMBER, creator, {**member_content, "membership": "join"}, creator),
        EventSpec(POWER_LEVELS, creator, power, ""),
    ]
    if alias:
        rest.append(EventSpec("m.room.canonical_alias", creator, {"alias": alias}, ""))
    rest += [
        EventSpec(JOIN_RULES, creator, {"join_rule": join_rule}, ""),
        EventSpec("m.room.history_visibility", creator, {"history_visibility": history}, ""),
        EventSpec("m.room.guest_access", creator, {"guest_access": guest}, ""),
        *_initial_state(body, creator),
    ]
    if name is not None:
        rest.append(EventSpec("m.room.name", creator, {"name": name}, ""))
    if topic is not None:
        rest.append(EventSpec("m.room.topic", creator, {
            "topic": topic, "m.topic": [{"mimetype": "text/plain", "body": topic}],
        }, ""))
    is_direct = body.get("is_direct", False)
    if not isinstance(is_direct, bool):
        raise bad_json("'is_direct' must be a boolean")
    for user in invitees:
        content: dict[str, Any] = {"membership": "invite"}
        if is_direct:
            content["is_direct"] = True
        rest.append(EventSpec(MEMBER, creator, content, user))
    return CreateRoomPlan(version, create, rest, alias, visibility, invitees)
