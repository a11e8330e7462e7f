"""Reading a room's state: `/state`, `/state/{type}/{stateKey}`, `/members`,
`/joined_members`, and the user's `/joined_rooms`.

What state a user sees (current, or as of their leave) is `room_access`'s
decision; `/members?at=` reads the state at a pagination token, never past
what the user may see.
"""

from __future__ import annotations

from typing import Any

from actors.sync import event_store
from actors.sync.event_access import EventAccess, EventFormat, Viewer
from actors.sync.room_access import not_in_room, standing, state_view, view_state
from actors.sync.sync_token import parse_pagination_token
from protocol.errors import invalid_param, not_found

MEMBER = "m.room.member"
MEMBERSHIPS = ("join", "invite", "knock", "leave", "ban")
STATE_FORMATS = ("content", "event")


async def room_state(conn: Any, access: EventAccess, viewer: Viewer, room_id: str) -> list[dict[str, Any]]:
    view = await state_view(conn, access, viewer.user_id, room_id)
    state = await view_state(conn, access, view)
    rows = await event_store.fetch_events(conn, state.values())
    ordered = sorted(rows.values(), key=lambda r: (r.type, r.state_key or ""))
    return await access.serve(conn, viewer, ordered, EventFormat())


async def state_event(
    conn: Any,
    access: EventAccess,
    viewer: Viewer,
    room_id: str,
    event_type: str,
    state_key: str,
    fmt: str,
) -> dict[str, Any]:
    if fmt not in STATE_FORMATS:
        raise invalid_param("format must be 'content' or 'event'")
    view = await state_view(conn, access, viewer.user_id, room_id)
    if not event_store.storable(event_type, state_key):
        raise not_found("Event not found")
    if view.frozen_at is None:
        event_id = await event_store.current_state_entry(conn, room_id, event_type, state_key)
    else:
        state = await access.states.entries(
            conn, [view.frozen_at.state_after], [(event_type, state_key)]
        )
        event_id = state.get(view.frozen_at.state_after, {}).get((event_type, state_key))
    row = (await event_store.fetch_events(conn, [event_id])).get(event_id) if event_id else None
    if row is None:
        raise not_found("Event not found")
    served = (await access.serve(conn, viewer, [row], EventFormat()))[0]
    return served if fmt == "event" else served["content"]


async def members(
    conn: Any,
    access: EventAccess,
    viewer: Viewer,
    room_id: str,
    *,
    at: str | None,
    membership: str | None,
    not_membership: str | None,
    writer_count: int,
) -> dict[str, Any]:
    for name, value in (("membership", membership), ("not_membership", not_membership)):
        if value is not None and value not in MEMBERSHIPS:
            raise invalid_param(f"{name} must be one of {', '.join(MEMBERSHIPS)}")
    token = parse_pagination_token(at, "at") if at else None
    view = await state_view(conn, access, viewer.user_id, room_id)
    if token is None:
        state = await view_state(conn, access, view)
        member_ids = [e for (t, _), e in state.items() if t == MEMBER]
    else:
        seq = await event_store.room_seq_at(conn, room_id, token, writer_count)
        if view.frozen_at is not None:
            seq = min(seq, view.frozen_at.room_seq)
        pos = await event_store.position_at_seq(conn, room_id, seq)
        group = pos.state_after if pos is not None else None
        member_ids = list(
            (await access.states.entries_of_types(conn, group, [MEMBER])).values()
        )
    values = await access.event_memberships(conn, member_ids)

    def wanted(event_id: str) -> bool:
        m = values.get(event_id, (None, None))[0]
        if membership is not None and not_membership is not None:
            # Both given: either condition admits (spec: an 'or').
            return m == membership or m != not_membership
        if membership is not None:
            return m == membership
        if not_membership is not None:
            return m != not_membership
        return True

    rows = await event_store.fetch_events(conn, (e for e in member_ids if wanted(e)))
    ordered = sorted(rows.values(), key=lambda r: r.state_key or "")
    return {"chunk": await access.serve(conn, viewer, ordered, EventFormat())}


async def joined_members(
    conn: Any, access: EventAccess, viewer: Viewer, room_id: str
) -> dict[str, Any]:
    s = await standing(conn, access, viewer.user_id, room_id)
    if s is None or s.membership != "join":
        raise not_in_room()
    rows = await conn.fetch(
        "SELECT event_id FROM current_state"
        " WHERE room_id = $1 AND type = $2 AND membership = 'join'",
        room_id, MEMBER,
    )
    events = await event_store.fetch_events(conn, (r["event_id"] for r in rows))
    served = await access.serve(conn, viewer, list(events.values()), EventFormat())
    joined: dict[str, dict[str, str]] = {}
    for event in served:
        content = event.get("content", {})
        profile = {}
        for source, target in (("displayname", "display_name"), ("avatar_url", "avatar_url")):
            if isinstance(content.get(source), str):
                profile[target] = content[source]
        joined[event["state_key"]] = profile
    return {"joined": joined}


async def joined_rooms(conn: Any, user_id: str) -> dict[str, Any]:
    rows = await event_store.current_memberships(conn, user_id)
    return {"joined_rooms": sorted(r.room_id for r in rows if r.membership == "join")}
