"""Room creation and joins (many small rooms; then one big room)."""

from __future__ import annotations

from bench.harness.measure import measured
from bench.harness.phases.state import Workload


async def create_rooms(w: Workload) -> None:
    s = w.scale
    result, rooms = await measured(
        w.server, "createRoom",
        [lambda i=i: w.client.create_room(w.sender(i), f"bench {i}") for i in range(s.rooms)],
        s.senders)
    w.results.append(result)
    w.rooms = [r for r in rooms if r is not None]
    if len(w.rooms) < s.rooms:
        raise RuntimeError(f"room creation failed: {result.first_error}")
    # Sender i (who created room i) sends into rooms i .. i + rooms_per_sender - 1.
    for i in range(s.senders):
        w.sender_rooms[i] = [w.rooms[(i + k) % s.rooms] for k in range(s.rooms_per_sender)]


async def join_rooms(w: Workload, with_readers: bool = True) -> None:
    """The senders into their rooms; the reader and the receiver into every room."""
    s = w.scale
    created = {w.rooms[i]: w.sender(i) for i in range(s.rooms)}
    joins = []
    for i, rooms in w.sender_rooms.items():
        account = w.sender(i)
        joins += [(account, r) for r in dict.fromkeys(rooms) if created[r] is not account]
    if with_readers:
        joins += [(a, r) for r in w.rooms for a in (w.reader, w.receiver)]
    result, _ = await measured(
        w.server, "join", [lambda a=a, r=r: w.client.join(a, r) for a, r in joins], s.senders)
    w.results.append(result)
    if result.errors:
        raise RuntimeError(f"joins failed: {result.first_error}")


async def join_big_room(w: Workload) -> str:
    """Every fan-out member into one room; returns its ID."""
    members = w.users[:w.scale.fanout_members]
    room = await w.client.create_room(members[0], "bench big room")
    result, _ = await measured(
        w.server, f"join (one room, {len(members)} members)",
        [lambda a=a: w.client.join(a, room) for a in members[1:]],
        w.scale.register_concurrency)
    w.results.append(result)
    if result.errors:
        raise RuntimeError(f"big-room joins failed: {result.first_error}")
    return room
