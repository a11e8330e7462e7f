"""Who may read a room's state and history, and as of when.

- A joined user reads the current state.
- A user who was joined and left (or was kicked or banned) reads the state
  as of the event that ended their last membership.
- Anyone else reads the current state only if the room is `world_readable`
  now; otherwise 403 M_FORBIDDEN (also for rooms that do not exist, so the
  answer does not tell whether a room exists).
- A user who left and then forgot the room is "anyone else": forgetting
  gives up the room's history (spec: `/forget`) until the next membership.

History (`/messages`) is open to anyone with a membership in the room or a
world-readable room; which events they see is then history visibility's
per-event decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.sync import event_store
from actors.sync.event_access import EventAccess
from actors.sync.event_store import RoomPosition, position_of
from actors.sync.history_visibility import (
    HISTORY_VISIBILITY_TYPE,
    MEMBER_TYPE,
    WORLD_READABLE,
    normalise_setting,
)
from actors.sync.state_groups import StateMap
from protocol.errors import MatrixError, forbidden


def not_in_room() -> MatrixError:
    return forbidden("You aren't a member of the room and weren't previously a member of it")


@dataclass(frozen=True)
class RoomStanding:
    """The user's current membership and the room's current history visibility."""

    room_id: str
    # None for a user who was never in the room, or left and forgot it.
    membership: str | None
    world_readable: bool
    forgotten: bool = False


@dataclass(frozen=True)
class StateView:
    """The state a user may read: current (`frozen_at` None) or as of their leave."""

    room_id: str
    frozen_at: RoomPosition | None


async def standing(conn: Any, access: EventAccess, user_id: str, room_id: str) -> RoomStanding | None:
    """None when the room is unknown."""
    exists = await conn.fetchval("SELECT 1 FROM rooms WHERE room_id = $1", room_id)
    if exists is None:
        return None
    member = await event_store.current_state_entry(conn, room_id, MEMBER_TYPE, user_id)
    hv = await event_store.current_state_entry(conn, room_id, HISTORY_VISIBILITY_TYPE, "")
    values = await access.event_memberships(conn, [e for e in (member, hv) if e])
    membership = values.get(member, (None, None))[0] if member else None
    setting = normalise_setting(values.get(hv, (None, None))[1] if hv else None)
    # Only a user out of the room can have forgotten it (joining again clears it).
    forgotten = membership in ("leave", "ban") and await event_store.has_forgotten(
        conn, user_id, room_id)
    return RoomStanding(room_id, None if forgotten else membership, setting == WORLD_READABLE,
                        forgotten)


async def require_history_access(
    conn: Any, access: EventAccess, user_id: str, room_id: str
) -> RoomStanding:
    s = await standing(conn, access, user_id, room_id)
    if s is None or (s.membership is None and not s.world_readable):
        raise forbidden("You aren't a member of the room")
    return s


async def state_view(conn: Any, access: EventAccess, user_id: str, room_id: str) -> StateView:
    s = await standing(conn, access, user_id, room_id)
    if s is None:
        raise not_in_room()
    if s.membership == "join":
        return StateView(room_id, None)
    if s.membership is None:
        # Never in the room, or forgot it: no past membership to read up to.
        if s.world_readable:
            return StateView(room_id, None)
        raise not_in_room()
    history = (await event_store.member_history(conn, [room_id], user_id))[room_id]
    joins = [i for i, (_, _, m) in enumerate(history) if m == "join"]
    if joins and joins[-1] + 1 < len(history):
        end_id = history[joins[-1] + 1][1]
        end = (await event_store.fetch_events(conn, [end_id]))[end_id]
        return StateView(room_id, position_of(end))
    if s.world_readable:
        return StateView(room_id, None)
    raise not_in_room()


async def view_state(conn: Any, access: EventAccess, view: StateView) -> StateMap:
    """The whole state the view shows."""
    if view.frozen_at is None:
        return await event_store.current_state_map(conn, view.room_id)
    return await access.states.full_state(conn, view.frozen_at.state_after)
