"""After a commit: wake the sync shards of everyone the new events concern, and the
federation sender."""

from __future__ import annotations

from collections.abc import Iterable

from actors.federation_sender.api import notify_new_events
from actors.room_server.persist import PersistedEvent
from actors.room_server.room_state import RoomState
from protocol.events import MEMBER, Event
from sharding.router import Router


def notify_sync(
    router: Router, room: RoomState, events: list[Event], persisted: list[PersistedEvent],
    joined_before: Iterable[str],
) -> None:
    """Fire-and-forget `on_new_event` to each sync shard with an affected user."""
    users = set(joined_before) | set(room.joined_members())
    users |= {e.state_key for e in events if e.type == MEMBER and e.state_key}
    last = persisted[-1]
    by_shard: dict[int, list[str]] = {}
    for user in users:
        by_shard.setdefault(router.shard_for("sync", user), []).append(user)
    for shard, shard_users in by_shard.items():
        router.notify("sync", shard, "on_new_event", last.writer, last.stream_pos,
                      room.room_id, shard_users)
    # The federation sender reads the stream itself and picks the destinations.
    notify_new_events(router, last.writer, last.stream_pos)
