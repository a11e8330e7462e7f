"""Room directory reads: aliases, a room's local aliases, the public room list.

The room server writes `room_aliases` and `room_directory`; these are the
reads. Aliases and directories of other servers need federation queries,
which do not exist yet: a remote alias or `server` is answered "not found".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actors.sync.event_access import EventAccess
from actors.sync.room_access import standing
from protocol.errors import bad_json, forbidden, invalid_param, not_found
from protocol.identifiers import (
    InvalidIdentifier,
    is_valid_room_id,
    parse_room_alias,
    server_name_of,
)
from protocol.redaction import redact_content
from protocol.room_versions import KNOWN_ROOM_VERSIONS

DEFAULT_PUBLIC_LIMIT = 100
MAX_PUBLIC_LIMIT = 500
_PUBLIC_TOKEN = re.compile(r"p(\d{1,9})")

# State that describes a room in the directory (all with state key "").
_DIRECTORY_TYPES = (
    "m.room.name",
    "m.room.topic",
    "m.room.avatar",
    "m.room.canonical_alias",
    "m.room.join_rules",
    "m.room.guest_access",
    "m.room.history_visibility",
    "m.room.create",
)


async def resolve_alias(conn: Any, server_name: str, alias: str) -> dict[str, Any]:
    try:
        _, domain = parse_room_alias(alias)
    except InvalidIdentifier:
        raise invalid_param("Room alias invalid") from None
    if domain != server_name:
        raise not_found(f"Room alias {alias} not found (remote aliases are not supported yet)")
    room_id = await conn.fetchval("SELECT room_id FROM room_aliases WHERE alias = $1", alias)
    if room_id is None:
        raise not_found(f"Room alias {alias} not found")
    rows = await conn.fetch(
        "SELECT DISTINCT state_key FROM current_state"
        " WHERE room_id = $1 AND type = 'm.room.member' AND membership = 'join'",
        room_id,
    )
    servers = {server_name}
    for r in rows:
        try:
            servers.add(server_name_of(r["state_key"]))
        except InvalidIdentifier:
            continue
    return {"room_id": room_id, "servers": [server_name, *sorted(servers - {server_name})]}


async def local_aliases(conn: Any, access: EventAccess, user_id: str, room_id: str) -> dict[str, Any]:
    s = await standing(conn, access, user_id, room_id)
    if s is None or not (s.membership == "join" or s.world_readable):
        raise forbidden("You are not a member of the room")
    rows = await conn.fetch(
        "SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY alias", room_id
    )
    return {"aliases": [r["alias"] for r in rows]}


async def room_visibility(conn: Any, room_id: str) -> dict[str, Any]:
    exists = None
    if is_valid_room_id(room_id):
        exists = await conn.fetchval("SELECT 1 FROM rooms WHERE room_id = $1", room_id)
    if exists is None:
        raise not_found("Room not found")
    visibility = await conn.fetchval(
        "SELECT visibility FROM room_directory WHERE room_id = $1", room_id
    )
    return {"visibility": "public" if visibility == "public" else "private"}


@dataclass(frozen=True)
class PublicRoomsQuery:
    limit: int | None = None
    since: str | None = None
    server: str | None = None
    search_term: str | None = None
    # None: any type; otherwise the allowed `type`s of m.room.create (None = untyped).
    room_types: tuple[str | None, ...] | None = None


def parse_public_rooms_body(body: Mapping[str, Any], server: str | None) -> PublicRoomsQuery:
    """The POST /publicRooms body (M_BAD_JSON when a field has the wrong type)."""
    limit = body.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise bad_json("limit must be an integer")
    since = body.get("since")
    if since is not None and not isinstance(since, str):
        raise bad_json("since must be a string")
    flt = body.get("filter") or {}
    if not isinstance(flt, dict):
        raise bad_json("filter must be an object")
    term = flt.get("generic_search_term")
    if term is not None and not isinstance(term, str):
        raise bad_json("filter.generic_search_term must be a string")
    types = flt.get("room_types")
    if types is not None and (
        not isinstance(types, list) or not all(t is None or isinstance(t, str) for t in types)
    ):
        raise bad_json("filter.room_types must be a list of strings and nulls")
    if "include_all_networks" in body and not isinstance(body["include_all_networks"], bool):
        raise bad_json("include_all_networks must be a boolean")
    instance = body.get("third_party_instance_id")
    if instance is not None and not isinstance(instance, str):
        raise bad_json("third_party_instance_id must be a string")
    return PublicRoomsQuery(
        limit=limit, since=since, server=server, search_term=term or None,
        room_types=tuple(types) if types is not None else None,
    )


def _offset(since: str | None) -> int:
    if not since:
        return 0
    m = _PUBLIC_TOKEN.fullmatch(since)
    if m is None:
        raise invalid_param("Invalid since token")
    return int(m.group(1))


def _str(content: Mapping[str, Any], key: str) -> str | None:
    value = content.get(key)
    return value if isinstance(value, str) and value else None


def _plain_topic(content: Mapping[str, Any]) -> str | None:
    """The text/plain topic: `topic`, else the text/plain part of `m.topic`."""
    topic = _str(content, "topic")
    if topic is not None:
        return topic
    block = content.get("m.topic")
    parts = block.get("m.text") if isinstance(block, Mapping) else None
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, Mapping) and part.get("mimetype", "text/plain") == "text/plain":
            body = part.get("body")
            if isinstance(body, str) and body:
                return body
    return None


def room_entry(room_id: str, joined: int, state: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A room as the directory and room summaries describe it, from its current state."""
    def content(t: str) -> Mapping[str, Any]:
        return state.get(t, {})

    entry: dict[str, Any] = {
        "room_id": room_id,
        "num_joined_members": joined,
        "world_readable": content("m.room.history_visibility").get("history_visibility")
        == "world_readable",
        "guest_can_join": content("m.room.guest_access").get("guest_access") == "can_join",
    }
    optional = {
        "name": _str(content("m.room.name"), "name"),
        "topic": _plain_topic(content("m.room.topic")),
        "avatar_url": _str(content("m.room.avatar"), "url"),
        "canonical_alias": _str(content("m.room.canonical_alias"), "alias"),
        "join_rule": _str(content("m.room.join_rules"), "join_rule"),
        "room_type": _str(content("m.room.create"), "type"),
    }
    entry.update({k: v for k, v in optional.items() if v is not None})
    return entry


def _matches(entry: Mapping[str, Any], q: PublicRoomsQuery) -> bool:
    if q.room_types is not None and entry.get("room_type") not in q.room_types:
        return False
    if q.search_term:
        term = q.search_term.casefold()
        fields = ("name", "topic", "canonical_alias", "room_id")
        return any(term in str(entry.get(f, "")).casefold() for f in fields)
    return True


async def public_rooms(conn: Any, q: PublicRoomsQuery) -> dict[str, Any]:
    """This server's directory (the caller sends other servers' to `remote_directory`)."""
    if q.limit is not None and q.limit < 0:
        raise invalid_param("limit must not be negative")
    limit = min(q.limit if q.limit is not None else DEFAULT_PUBLIC_LIMIT, MAX_PUBLIC_LIMIT)
    offset = _offset(q.since)
    rooms = await conn.fetch(
        "SELECT d.room_id, r.room_version,"
        " (SELECT count(*) FROM current_state m WHERE m.room_id = d.room_id"
        "   AND m.type = 'm.room.member' AND m.membership = 'join') AS joined"
        " FROM room_directory d JOIN rooms r ON r.room_id = d.room_id"
        " WHERE d.visibility = 'public'"
    )
    room_ids = [r["room_id"] for r in rooms]
    state_rows = await conn.fetch(
        "SELECT cs.room_id, cs.type, e.pdu->'content' AS content, e.redacted_by"
        " FROM current_state cs JOIN events e ON e.event_id = cs.event_id"
        " WHERE cs.room_id = ANY($1::text[]) AND cs.state_key = '' AND cs.type = ANY($2::text[])",
        room_ids, list(_DIRECTORY_TYPES),
    )
    versions = {r["room_id"]: r["room_version"] for r in rooms}
    state: dict[str, dict[str, Mapping[str, Any]]] = {}
    for r in state_rows:
        content = r["content"] if isinstance(r["content"], dict) else {}
        if r["redacted_by"] is not None:
            rv = KNOWN_ROOM_VERSIONS.get(versions[r["room_id"]], KNOWN_ROOM_VERSIONS["1"])
            content = redact_content(r["type"], content, rv)
        state.setdefault(r["room_id"], {})[r["type"]] = content
    entries = [
        room_entry(r["room_id"], r["joined"], state.get(r["room_id"], {})) for r in rooms
    ]
    # Largest rooms first, then a stable order (spec: the server decides; this is the advice).
    entries = sorted(
        (e for e in entries if _matches(e, q)),
        key=lambda e: (-e["num_joined_members"], e["room_id"]),
    )
    page = entries[offset:offset + limit]
    out: dict[str, Any] = {"chunk": page, "total_room_count_estimate": len(entries)}
    if offset + limit < len(entries):
        out["next_batch"] = f"p{offset + limit}"
    if offset > 0:
        out["prev_batch"] = f"p{max(0, offset - limit)}"
    return out
