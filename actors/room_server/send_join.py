"""`send_join`, `send_leave`, `send_knock` (resident side): what the answers carry.

The event itself is checked by `received_pdu` and persisted by the service
like any event of the room; this module reads what the answers return: the
room state before the join with its auth chain, and the stripped state for a
knock (full PDUs over federation, spec v1.16+).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import asyncpg

from actors.room_server.room_state import RoomState
from protocol.events import MEMBER, Event
from protocol.identifiers import server_name_of
from protocol.redaction import redact_pdu
from protocol.room_versions import RoomVersion

# The state shown to an invitee or a knocker (spec: Stripped state).
STRIPPED_STATE_TYPES = (
    "m.room.create", "m.room.name", "m.room.avatar", "m.room.topic",
    "m.room.join_rules", "m.room.canonical_alias", "m.room.encryption",
)


async def served_pdus(
    conn: asyncpg.Connection, event_ids: Iterable[str], version: RoomVersion
) -> list[dict[str, Any]]:
    """The stored PDUs (redacted ones in their redacted form), without `unsigned`."""
    rows = await conn.fetch(
        "SELECT pdu, redacted_by FROM events WHERE event_id = ANY($1::text[])"
        " ORDER BY depth, event_id", list(set(event_ids)),
    )
    out = []
    for r in rows:
        pdu = {k: v for k, v in r["pdu"].items() if k != "unsigned"}
        out.append(redact_pdu(pdu, version) if r["redacted_by"] else pdu)
    return out


async def auth_chain_ids(conn: asyncpg.Connection, event_ids: Iterable[str]) -> set[str]:
    """Every event reachable through `auth_events` from `event_ids` (a breadth-first walk)."""
    seen: set[str] = set()
    frontier = set(event_ids)
    while frontier:
        rows = await conn.fetch(
            "SELECT pdu->'auth_events' AS refs FROM events WHERE event_id = ANY($1::text[])",
            list(frontier),
        )
        found: set[str] = set()
        for r in rows:
            for ref in r["refs"] or []:
                # v1/v2 references are [event_id, hashes].
                eid = ref[0] if isinstance(ref, list) and ref else ref
                if isinstance(eid, str) and eid not in seen:
                    found.add(eid)
        seen |= found
        frontier = found
    return seen


async def join_response(
    conn: asyncpg.Connection, room: RoomState, state_ids: dict[Any, str], join: Event,
    origin: str, co_signed: bool,
) -> dict[str, Any]:
    """The v2 send_join answer, with the full state (`members_omitted` false)."""
    state = await served_pdus(conn, state_ids.values(), room.version)
    chain = await auth_chain_ids(conn, state_ids.values())
    servers = sorted({
        server_name_of(user) for (etype, user), eid in state_ids.items()
        if etype == MEMBER and room.events.get(eid) is not None
        and room.events[eid].membership == "join"
    })
    answer: dict[str, Any] = {
        "origin": origin,
        "state": state,
        "auth_chain": await served_pdus(conn, chain, room.version),
        "members_omitted": False,
        "servers_in_room": servers,
    }
    if co_signed:
        answer["event"] = join.pdu
    return answer


async def stripped_state_pdus(
    conn: asyncpg.Connection, room: RoomState, sender: str | None = None
) -> list[dict[str, Any]]:
    """The room's stripped-state events as full PDUs (plus `sender`'s member event)."""
    keys = [(t, "") for t in STRIPPED_STATE_TYPES]
    if sender is not None:
        keys.append((MEMBER, sender))
    ids = [room.state[k] for k in keys if k in room.state]
    return await served_pdus(conn, ids, room.version)
