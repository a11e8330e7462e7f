"""The syncing user's membership in their rooms at a sync token.

A room at a token is the state after its last live event at or before the
token (`event_store.room_positions`); the user's membership there is read
from that state group. Comparing it at `since` and at "now" says which rooms
moved between the join, invite, knock and leave sections.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actors.sync.event_access import EventAccess
from actors.sync.event_store import RoomPosition

MEMBER = "m.room.member"


@dataclass(frozen=True)
class Membership:
    membership: str | None
    event_id: str | None


NO_MEMBERSHIP = Membership(None, None)


async def memberships_at(
    conn: Any, access: EventAccess, user_id: str, positions: Mapping[str, RoomPosition]
) -> dict[str, Membership]:
    """The user's membership (and its event) in each room at the given positions."""
    key = (MEMBER, user_id)
    groups = {p.state_after for p in positions.values() if p.state_after is not None}
    entries = await access.states.entries(conn, groups, [key])
    event_ids = {state[key] for state in entries.values() if key in state}
    values = await access.event_memberships(conn, event_ids)
    out: dict[str, Membership] = {}
    for room_id, pos in positions.items():
        event_id = entries.get(pos.state_after, {}).get(key) if pos.state_after is not None else None
        if event_id is None:
            out[room_id] = NO_MEMBERSHIP
        else:
            out[room_id] = Membership(values.get(event_id, (None, None))[0], event_id)
    return out


def empty_rooms() -> dict[str, dict[str, Any]]:
    return {"join": {}, "invite": {}, "leave": {}, "knock": {}}
