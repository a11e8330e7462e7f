"""The device-list stream: recording that a user's devices or cross-signing keys changed.

A change is a row of `device_list_changes` at a position of the
`device_lists` stream, written in the transaction that made the change (the
position is taken last, so the stream's row lock is held only briefly).
After the commit, the long-polls of everyone who must hear of it are woken:
the user and everyone sharing a room with them, or only the one user a
change is `visible_to`. The sync component reads the rows back
(`actors/sync/stream_device_lists.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from actors.membership_reads import users_sharing_a_room
from actors.sync.api import notify_stream
from sharding.router import Router
from storage.stream_positions import take_positions

STREAM = "device_lists"


@dataclass
class DeviceListChanges:
    """What one write changed: users whose lists everyone sees change, and private changes."""

    users: set[str] = field(default_factory=set)
    # (user whose keys changed, the only user told)
    private: set[tuple[str, str]] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.users or self.private)


async def record(conn: Any, changes: DeviceListChanges) -> int:
    """Write the change rows at a new stream position (inside the caller's transaction)."""
    rows: list[tuple[str, str | None]] = [(u, None) for u in sorted(changes.users)]
    rows += sorted(changes.private)
    pos = await take_positions(conn, STREAM)
    await conn.executemany(
        "INSERT INTO device_list_changes (stream_pos, user_id, visible_to) VALUES ($1, $2, $3)",
        [(pos, user, visible_to) for user, visible_to in rows],
    )
    return pos


async def audience(conn: Any, changes: DeviceListChanges) -> set[str]:
    """Everyone whose /sync must wake for these changes."""
    users: set[str] = set()
    for user in changes.users:
        users.update(await users_sharing_a_room(conn, user))
        users.add(user)
    users.update(visible_to for _, visible_to in changes.private)
    return users


def wake(router: Router, pos: int, users: Iterable[str]) -> None:
    """Wake the long-polls of `users` (fire and forget: a lost wake-up costs latency only)."""
    notify_stream(router, STREAM, pos, users)
