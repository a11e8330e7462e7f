"""Walking a room's events in room order, keeping those a user may see and a filter passes.

Shared by `/sync` timelines, `/messages` and `/context`. Rows are read in
batches; each batch's visibility is resolved at once. A walk stops when it
has what it wants, when the range ends, or after examining `max_rows` rows
(a filter or history visibility can hide long stretches of history): the
caller then reports a gap (`limited`, or an `end` token) instead of reading
the whole room.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors.sync import event_store
from actors.sync.event_access import EventAccess
from actors.sync.event_store import EventRow
from actors.sync.filters import RoomEventFilter
from actors.sync.history_visibility import EventFacts

# Below every room_seq: "from the room's beginning".
ROOM_START = -(2**62)

_MIN_BATCH = 20
_MAX_BATCH = 500


@dataclass
class Walk:
    # Kept events in walk order (newest first when walking backwards).
    kept: list[tuple[EventRow, EventFacts]] = field(default_factory=list)
    # The last row examined (kept or not): where a further walk continues.
    last_row: EventRow | None = None
    # Whether the range has no rows beyond `last_row`.
    exhausted: bool = False


def filter_matcher(event_filter: RoomEventFilter) -> Callable[[EventRow], bool]:
    return lambda r: event_filter.matches(r.room_id, r.type, r.sender, r.content)


async def walk_room(
    conn: Any,
    access: EventAccess,
    user_id: str,
    room_id: str,
    *,
    after_seq: int,
    upto_seq: int,
    backwards: bool,
    want: int,
    matches: Callable[[EventRow], bool],
    max_rows: int,
) -> Walk:
    """Visible, matching events with `after_seq < room_seq <= upto_seq`, up to `want` of them."""
    walk = Walk()
    examined = 0
    while len(walk.kept) < want and examined < max_rows:
        batch = min(max(2 * (want - len(walk.kept)), _MIN_BATCH), _MAX_BATCH, max_rows - examined)
        rows = await event_store.scan_room(
            conn, room_id, after_seq, upto_seq, backwards=backwards, limit=batch
        )
        if not rows:
            walk.exhausted = True
            break
        candidates = [r for r in rows if matches(r)]
        visible = dict(
            (r.event_id, facts)
            for r, facts in await access.visible(conn, user_id, candidates)
        )
        consumed = 0
        for r in rows:
            consumed += 1
            walk.last_row = r
            facts = visible.get(r.event_id)
            if facts is not None:
                walk.kept.append((r, facts))
                if len(walk.kept) >= want:
                    break
        examined += consumed
        if consumed == len(rows) and len(rows) < batch:
            walk.exhausted = True
            break
        if backwards:
            upto_seq = walk.last_row.room_seq - 1
        else:
            after_seq = walk.last_row.room_seq
    return walk
