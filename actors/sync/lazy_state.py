"""Lazy-loaded member state for `/messages` and `/context` (spec: Lazy-loading room members).

The membership event of each sender of the returned events, as it was when
they sent their (first returned) event. These endpoints do not track what
a client already holds, so "redundant" members are always included, which
the spec allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actors.sync import event_store
from actors.sync.event_access import EventAccess
from actors.sync.event_store import EventRow

MEMBER = "m.room.member"


async def sender_members(conn: Any, access: EventAccess, rows: Sequence[EventRow]) -> list[EventRow]:
    first_group: dict[str, int] = {}
    for r in sorted(rows, key=lambda r: r.room_seq):
        if r.state_before is not None:
            first_group.setdefault(r.sender, r.state_before)
    if not first_group:
        return []
    keys = [(MEMBER, sender) for sender in first_group]
    entries = await access.states.entries(conn, set(first_group.values()), keys)
    returned = {r.event_id for r in rows}
    wanted = {
        event_id
        for sender, group in first_group.items()
        if (event_id := entries.get(group, {}).get((MEMBER, sender))) and event_id not in returned
    }
    found = await event_store.fetch_events(conn, wanted)
    return sorted(found.values(), key=lambda r: (r.state_key or "", r.room_seq))
