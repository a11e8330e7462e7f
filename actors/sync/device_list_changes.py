"""Whose device lists a user must re-fetch: `device_lists` of /sync and GET /keys/changes.

Between two sync tokens, a user is `changed` for the viewer when they share
a room with the viewer now (or are the viewer) and
- their devices or cross-signing keys changed (a row of the keys
  component's `device_list_changes`; a row `visible_to` one user is for that
  user only), or
- they joined a room the viewer is in, or the viewer joined a room they are
  in (the viewer may have missed changes while they shared no room; the spec
  allows announcing every newly shared room, which is what this does).

A user is `left` when a membership change in the window (theirs or the
viewer's leaving a room) may have ended the last room they shared, and they
share none now. Room events are compared with the tokens' writer positions,
device-list rows with the tokens' `device_lists` position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.membership_reads import users_sharing_a_room
from actors.sync.sync_token import SyncToken

MEMBER = "m.room.member"
STREAM = "device_lists"
_GONE = ("leave", "ban")


@dataclass(frozen=True)
class DeviceListChanges:
    changed: list[str]
    left: list[str]

    def json(self) -> dict[str, list[str]]:
        return {"changed": self.changed, "left": self.left}

    def __bool__(self) -> bool:
        return bool(self.changed or self.left)


async def changes(
    conn: Any, viewer: str, since: SyncToken, dl_upto: int, upto: SyncToken | None = None
) -> DeviceListChanges:
    """The changes for `viewer` after `since`: device-list rows up to `dl_upto`, and
    membership events up to `upto` (everything committed when None)."""
    sharing = set(await users_sharing_a_room(conn, viewer)) | {viewer}
    changed = set(await _key_changes(conn, viewer, since.stream_pos(STREAM), dl_upto, sharing))
    newly_shared, maybe_gone = await _membership_changes(conn, viewer, since, upto)
    changed |= newly_shared & sharing
    return DeviceListChanges(sorted(changed), sorted(maybe_gone - sharing))


async def _key_changes(
    conn: Any, viewer: str, after: int, upto: int, sharing: set[str]
) -> list[str]:
    if upto <= after:
        return []
    rows = await conn.fetch(
        "SELECT DISTINCT user_id FROM device_list_changes"
        " WHERE stream_pos > $1 AND stream_pos <= $2"
        " AND (visible_to = $3 OR (visible_to IS NULL AND user_id = ANY($4::text[])))",
        after, upto, viewer, list(sharing),
    )
    return [r["user_id"] for r in rows]


def _window(
    first: int, since: SyncToken, upto: SyncToken | None, table: str
) -> tuple[str, list[Any]]:
    """SQL selecting live rows of `table` after `since` (and at or before `upto`).

    Its parameters are numbered from `$first`; they are the list returned.
    """
    count = max(len(since.writers), len(upto.writers) if upto else 0, 1)
    sql = (
        f"NOT {table}.outlier AND {table}.rejected_reason IS NULL AND {table}.stream_pos"
        f" > coalesce((${first}::bigint[])[{table}.writer + 1], 0)"
    )
    args: list[Any] = [since.writer_array(count)]
    if upto is not None:
        sql += (
            f" AND {table}.stream_pos <= coalesce((${first + 1}::bigint[])[{table}.writer + 1], 0)"
        )
        args.append(upto.writer_array(count))
    return sql, args


async def _membership_changes(
    conn: Any, viewer: str, since: SyncToken, upto: SyncToken | None
) -> tuple[set[str], set[str]]:
    """(users who may newly share a room with the viewer, users who may share none now)."""
    # Every room the viewer has a membership in: the rooms joined now, and
    # those the viewer may have left during the window.
    memberships = await conn.fetch(
        "SELECT room_id, membership FROM current_state WHERE type = $1 AND state_key = $2",
        MEMBER, viewer,
    )
    rooms = [r["room_id"] for r in memberships if r["membership"] in ("join", *_GONE)]
    joined = {r["room_id"] for r in memberships if r["membership"] == "join"}
    if not rooms:
        return set(), set()
    window, window_args = _window(3, since, upto, "e")
    # A join replacing a join is a profile change, not a new member.
    rows = await conn.fetch(
        "SELECT e.room_id, e.state_key, e.pdu->'content'->>'membership' AS membership,"
        " p.pdu->'content'->>'membership' AS previous"
        " FROM events e LEFT JOIN events p ON p.event_id = e.replaces_state"
        f" WHERE e.room_id = ANY($2::text[]) AND e.type = $1 AND {window}",
        MEMBER, rooms, *window_args,
    )
    new: set[str] = set()
    gone: set[str] = set()
    viewer_joined: set[str] = set()
    viewer_left: set[str] = set()
    for r in rows:
        if r["membership"] == r["previous"]:
            continue
        if r["state_key"] == viewer:
            if r["membership"] == "join":
                viewer_joined.add(r["room_id"])
            elif r["membership"] in _GONE:
                viewer_left.add(r["room_id"])
        elif r["membership"] == "join":
            new.add(r["state_key"])
        elif r["membership"] in _GONE:
            gone.add(r["state_key"])
    # A room the viewer joined: all its members are newly shared. A room the
    # viewer left (and is not back in): all its members may be gone.
    for room_ids, into in ((viewer_joined & joined, new), (viewer_left - joined, gone)):
        if room_ids:
            members = await conn.fetch(
                "SELECT state_key FROM current_state WHERE room_id = ANY($1::text[])"
                " AND type = $2 AND membership = 'join'",
                list(room_ids), MEMBER,
            )
            into.update(m["state_key"] for m in members)
    new.discard(viewer)
    gone.discard(viewer)
    return new, gone
