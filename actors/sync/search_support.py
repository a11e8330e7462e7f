"""What the search component asks of the sync component (spec: Server Side Search).

Search finds candidate event IDs in its index; which of them a user may see,
and how they are served, is decided here with the same history-visibility
and formatting code as every other read:

- `searchable_rooms`: rooms the user is in, or was in once (and left, was
  kicked or banned, or is invited back) and has not forgotten. Rooms they
  never joined are never searched.
- `search_events`: the hits the user may see, in the given order, served in
  the client format; rejected, outlier and redacted events are dropped (the
  index can lag a redaction by a commit).
- `search_context`: the events around each result, the senders' profiles as
  they were at the result, and each room's state as the user may read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actors.sync import event_store
from actors.sync.event_access import EventAccess, EventFormat, Viewer
from actors.sync.event_store import EventRow
from actors.sync.history_visibility import MEMBER_TYPE
from actors.sync.room_state import room_state
from actors.sync.sync_token import RoomToken
from actors.sync.timeline import ROOM_START, walk_room

# Rows examined per wanted context event before settling for fewer.
_ROWS_PER_EVENT = 10
_MIN_ROWS = 50


async def searchable_rooms(conn: Any, user_id: str) -> list[str]:
    memberships = await event_store.current_memberships(conn, user_id)
    joined = [m.room_id for m in memberships if m.membership == "join"]
    forgotten = await event_store.forgotten_rooms(conn, user_id)
    # Left, kicked, banned, or invited/knocking again after leaving: searchable
    # if they were ever joined (what they may see is then per event).
    left = [
        m.room_id for m in memberships
        if m.membership != "join" and m.room_id not in forgotten
    ]
    history = await event_store.member_history(conn, left, user_id)
    was_joined = [r for r in left if any(m == "join" for _, _, m in history.get(r, []))]
    return sorted(joined + was_joined)


async def search_events(
    conn: Any, access: EventAccess, viewer: Viewer, event_ids: Sequence[str]
) -> list[dict[str, Any]]:
    ids = [i for i in dict.fromkeys(event_ids) if event_store.storable(i)]
    rows = await event_store.fetch_events(conn, ids)
    live = [
        rows[i] for i in ids
        if i in rows and not rows[i].rejected and not rows[i].outlier and not rows[i].redacted_by
    ]
    seen = await access.visible(conn, viewer.user_id, live)
    facts = {r.event_id: f for r, f in seen}
    return await access.serve(conn, viewer, [r for r, _ in seen], EventFormat(), facts)


async def search_context(
    conn: Any,
    access: EventAccess,
    viewer: Viewer,
    event_ids: Sequence[str],
    *,
    before_limit: int,
    after_limit: int,
    include_profile: bool,
) -> dict[str, dict[str, Any]]:
    """Per event ID: `events_before`, `events_after`, `start`, `end` (and `profile_info`)."""
    rows = await event_store.fetch_events(conn, event_ids)
    out: dict[str, dict[str, Any]] = {}
    for event_id in event_ids:
        row = rows.get(event_id)
        if row is not None:
            out[event_id] = await _context_of(
                conn, access, viewer, row, before_limit, after_limit, include_profile
            )
    return out


async def _context_of(
    conn: Any, access: EventAccess, viewer: Viewer, row: EventRow,
    before_limit: int, after_limit: int, include_profile: bool,
) -> dict[str, Any]:
    def everything(_: EventRow) -> bool:
        return True

    before = await walk_room(
        conn, access, viewer.user_id, row.room_id,
        after_seq=ROOM_START, upto_seq=row.room_seq - 1, backwards=True, want=before_limit,
        matches=everything, max_rows=max(_MIN_ROWS, before_limit * _ROWS_PER_EVENT),
    ) if before_limit else None
    after = await walk_room(
        conn, access, viewer.user_id, row.room_id,
        after_seq=row.room_seq, upto_seq=await event_store.max_room_seq(conn, row.room_id),
        backwards=False, want=after_limit,
        matches=everything, max_rows=max(_MIN_ROWS, after_limit * _ROWS_PER_EVENT),
    ) if after_limit else None
    before_kept = before.kept if before else []
    after_kept = after.kept if after else []
    facts = {r.event_id: f for r, f in before_kept + after_kept}
    fmt = EventFormat()
    start_seq = before.last_row.room_seq - 1 if before and before.last_row else row.room_seq - 1
    end_seq = after.last_row.room_seq if after and after.last_row else row.room_seq
    context: dict[str, Any] = {
        "events_before": await access.serve(conn, viewer, [r for r, _ in before_kept], fmt, facts),
        "events_after": await access.serve(conn, viewer, [r for r, _ in after_kept], fmt, facts),
        "start": RoomToken(start_seq).encode(),
        "end": RoomToken(end_seq).encode(),
    }
    if include_profile:
        senders = {row.sender} | {r.sender for r, _ in before_kept + after_kept}
        context["profile_info"] = await _profiles_at(conn, access, row, senders)
    return context


async def _profiles_at(
    conn: Any, access: EventAccess, row: EventRow, senders: set[str]
) -> dict[str, dict[str, Any]]:
    """Each sender's display name and avatar in the room's state at the result."""
    group = row.state_after if row.state_after is not None else row.state_before
    if group is None:
        return {}
    keys = [(MEMBER_TYPE, s) for s in senders]
    entries = (await access.states.entries(conn, [group], keys)).get(group, {})
    members = await event_store.fetch_events(conn, entries.values())
    out: dict[str, dict[str, Any]] = {}
    for (_, sender), event_id in entries.items():
        member = members.get(event_id)
        content = member.content if member is not None and not member.redacted_by else None
        if not isinstance(content, dict):
            continue
        profile = {k: content[k] for k in ("displayname", "avatar_url") if isinstance(content.get(k), str)}
        out[sender] = profile
    return out


async def room_states(
    conn: Any, access: EventAccess, viewer: Viewer, room_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Each room's state as the user may read it (current, or as of their leave)."""
    return {room: await room_state(conn, access, viewer, room) for room in dict.fromkeys(room_ids)}
