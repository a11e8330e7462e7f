"""What other components call on the federation sender (sharded by destination).

- `notify_new_events`: a room server committed events (fire and forget; the
  shards also poll, so a lost wake-up costs latency only).
- `queue_edu`: send an EDU to some servers, soon and best effort (typing,
  receipts, presence): fire and forget to each owning shard.
- `queue_edu_in` + `wake_destinations`: an EDU that must not be lost
  (to-device, device lists) is written to the queue in the caller's own
  database transaction, then the owning shards are woken.
- `remote_servers_in_room`, `remote_servers_sharing_rooms`: whom an EDU
  concerns.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from actors.federation_sender import queue
from actors.federation_sender.destinations import servers_of
from sharding.router import Router

COMPONENT = "federation_sender"


def notify_new_events(router: Router, writer: int, pos: int) -> None:
    for shard in range(router.shard_count(COMPONENT)):
        router.notify(COMPONENT, shard, "on_new_event", writer, pos)


def _by_shard(router: Router, destinations: Iterable[str]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for destination in destinations:
        out.setdefault(router.shard_for(COMPONENT, destination), []).append(destination)
    return out


def queue_edu(router: Router, destinations: Iterable[str], edu_type: str,
              content: dict[str, Any]) -> None:
    for shard, mine in _by_shard(router, destinations).items():
        router.notify(COMPONENT, shard, "queue_edu", mine, edu_type, content)


async def queue_edu_in(conn: Any, destinations: Iterable[str], edu_type: str,
                       content: dict[str, Any]) -> None:
    """Queue the EDU within the caller's transaction (it commits or vanishes with it)."""
    await queue.enqueue_edus(conn, destinations, edu_type, content)


def wake_destinations(router: Router, destinations: Iterable[str]) -> None:
    for shard, mine in _by_shard(router, destinations).items():
        router.notify(COMPONENT, shard, "on_queued", mine)


async def remote_servers_in_room(conn: Any, room_id: str, our_server: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT state_key FROM current_state WHERE room_id = $1 AND type = 'm.room.member'"
        " AND membership = 'join'", room_id,
    )
    return servers_of(r["state_key"] for r in rows) - {our_server}


async def remote_servers_sharing_rooms(conn: Any, user_id: str, our_server: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT o.state_key FROM current_state m JOIN current_state o"
        " ON o.room_id = m.room_id AND o.type = 'm.room.member' AND o.membership = 'join'"
        " WHERE m.type = 'm.room.member' AND m.state_key = $1 AND m.membership = 'join'",
        user_id,
    )
    return servers_of(r["state_key"] for r in rows) - {our_server}
