"""GET /_matrix/federation/v1/hierarchy/{roomId} (spec: server-server "Spaces").

Another server asks about a space this server is in: the space's summary
with its `m.space.child` events, and summaries of the children it knows.
A room is described only if this server is in it (a local user is joined:
otherwise its state may be stale) and the asking server could peek or join
it: world-readable history, a public or knock join rule, a joined user of
the asking server, or a restricted rule naming a room where the asking
server has a joined user. Known children the asking server cannot reach are
listed in `inaccessible_children`; unknown ones are left out, as the spec
asks. The asking server filters further for its user (by `allowed_room_ids`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actors.sync.directory import room_entry
from protocol.errors import not_found
from protocol.identifiers import InvalidIdentifier, is_valid_room_id, server_name_of
from protocol.redaction import redact_content
from protocol.room_versions import KNOWN_ROOM_VERSIONS

SPACE_CHILD = "m.space.child"
_SUMMARY_TYPES = (
    "m.room.name", "m.room.topic", "m.room.avatar", "m.room.canonical_alias",
    "m.room.join_rules", "m.room.guest_access", "m.room.history_visibility",
    "m.room.create", "m.room.encryption",
)
_OPEN_RULES = ("public", "knock", "knock_restricted")
_RESTRICTED_RULES = ("restricted", "knock_restricted")


@dataclass
class RoomInfo:
    room_id: str
    version: str
    state: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    # (child room ID, content, sender, origin_server_ts) of each m.space.child.
    children: list[tuple[str, Mapping[str, Any], str, int]] = field(default_factory=list)
    joined: int = 0
    joined_servers: set[str] = field(default_factory=set)

    @property
    def join_rule(self) -> Any:
        return self.state.get("m.room.join_rules", {}).get("join_rule")

    def allowed_room_ids(self) -> list[str]:
        if self.join_rule not in _RESTRICTED_RULES:
            return []
        allow = self.state.get("m.room.join_rules", {}).get("allow")
        return sorted({
            a["room_id"] for a in (allow if isinstance(allow, list) else [])
            if isinstance(a, dict) and a.get("type") == "m.room_membership"
            and isinstance(a.get("room_id"), str)
        })


async def _load(conn: Any, room_ids: list[str]) -> dict[str, RoomInfo]:
    rows = await conn.fetch(
        "SELECT cs.room_id, cs.type, cs.state_key, r.room_version, e.redacted_by,"
        " e.pdu->'content' AS content, e.pdu->>'sender' AS sender,"
        " e.pdu->'origin_server_ts' AS ts"
        " FROM current_state cs JOIN events e ON e.event_id = cs.event_id"
        " JOIN rooms r ON r.room_id = cs.room_id"
        " WHERE cs.room_id = ANY($1::text[]) AND ("
        "  (cs.state_key = '' AND cs.type = ANY($2::text[])) OR cs.type = $3"
        "  OR (cs.type = 'm.room.member' AND cs.membership = 'join'))",
        room_ids, list(_SUMMARY_TYPES), SPACE_CHILD,
    )
    infos: dict[str, RoomInfo] = {}
    for r in rows:
        info = infos.setdefault(r["room_id"], RoomInfo(r["room_id"], r["room_version"]))
        if r["type"] == "m.room.member":
            info.joined += 1
            try:
                info.joined_servers.add(server_name_of(r["state_key"]))
            except InvalidIdentifier:
                pass
            continue
        content = r["content"] if isinstance(r["content"], dict) else {}
        if r["redacted_by"] is not None:
            rv = KNOWN_ROOM_VERSIONS.get(info.version, KNOWN_ROOM_VERSIONS["1"])
            content = redact_content(r["type"], content, rv)
        if r["type"] == SPACE_CHILD:
            ts = r["ts"] if isinstance(r["ts"], int) else 0
            info.children.append((r["state_key"], content, r["sender"], ts))
        else:
            info.state[r["type"]] = content
    return infos


def _summary(info: RoomInfo) -> dict[str, Any]:
    out = room_entry(info.room_id, info.joined, info.state)
    out["room_version"] = info.version
    algorithm = info.state.get("m.room.encryption", {}).get("algorithm")
    if isinstance(algorithm, str):
        out["encryption"] = algorithm
    allowed = info.allowed_room_ids()
    if allowed:
        out["allowed_room_ids"] = allowed
    return out


def _valid_children(info: RoomInfo, suggested_only: bool) -> list[tuple[str, Mapping[str, Any], str, int]]:
    """The links that count: a `via` list of strings names servers (spec: no `via`, no child)."""
    out = []
    for child in sorted(info.children):
        room_id, content = child[0], child[1]
        via = content.get("via")
        if not is_valid_room_id(room_id) or not isinstance(via, list) or not via:
            continue
        if not all(isinstance(v, str) for v in via):
            continue
        if suggested_only and content.get("suggested") is not True:
            continue
        out.append(child)
    return out


async def hierarchy(
    conn: Any, server_name: str, origin: str, room_id: str, suggested_only: bool
) -> dict[str, Any]:
    infos = await _load(conn, [room_id])
    root = infos.get(room_id)
    if root is None or server_name not in root.joined_servers:
        raise not_found("This server is not in that room")
    children = _valid_children(root, suggested_only)
    child_ids = [c[0] for c in children]
    infos.update(await _load(conn, child_ids))
    # Rooms a restricted rule points at, to see whether the asking server is in one.
    allowed = {a for rid in (room_id, *child_ids) if rid in infos for a in infos[rid].allowed_room_ids()}
    infos.update(await _load(conn, sorted(allowed - infos.keys())))

    def accessible(info: RoomInfo) -> bool:
        if info.join_rule in _OPEN_RULES or origin in info.joined_servers:
            return True
        hv = info.state.get("m.room.history_visibility", {}).get("history_visibility")
        if hv == "world_readable":
            return True
        return any(origin in infos[a].joined_servers for a in info.allowed_room_ids() if a in infos)

    if not accessible(root):
        raise not_found("The room is not accessible to your server")
    room = _summary(root)
    room["children_state"] = [
        {"type": SPACE_CHILD, "state_key": child, "content": dict(content), "sender": sender,
         "origin_server_ts": ts}
        for child, content, sender, ts in children
    ]
    out: dict[str, Any] = {"room": room, "children": [], "inaccessible_children": []}
    for child in child_ids:
        info = infos.get(child)
        if info is None or server_name not in info.joined_servers:
            continue
        if accessible(info):
            out["children"].append(_summary(info))
        else:
            out["inaccessible_children"].append(child)
    return out
