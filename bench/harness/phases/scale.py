"""How big a run is: `BENCH_SCALE=small` (a smoke run), `medium` or `full` (the issue's sizes).

`medium` keeps the 100 rooms and the concurrency of `full` but a third of the
users (fan-out to 300 members) and half the messages: it fits in the time a
full run needs on a loaded 2-core machine.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    users: int                 # registered; user 0 reads, user 1 receives, then the senders
    logins: int
    register_concurrency: int
    rooms: int                 # the reader (user 0) ends up in all of them
    senders: int
    rooms_per_sender: int
    sends: int
    send_concurrency: int
    delivery_saturated: int    # messages sent flat out while user 1 long-polls /sync
    paced_rate: float          # messages per second in the paced delivery phase
    paced_seconds: float
    initial_syncs: int
    fanout_members: int        # members of the one big room, all long-polling
    fanout_messages: int
    fanout_settle_s: float     # time for every member's long poll to be parked
    idle_settle_s: float       # after start-up, before the idle RSS is read


SCALES = {
    "small": Scale(users=24, logins=8, register_concurrency=8, rooms=6, senders=6,
                   rooms_per_sender=3, sends=60, send_concurrency=6, delivery_saturated=30,
                   paced_rate=10, paced_seconds=2, initial_syncs=3, fanout_members=20,
                   fanout_messages=2, fanout_settle_s=1.0, idle_settle_s=2.0),
    "medium": Scale(users=300, logins=100, register_concurrency=20, rooms=100, senders=50,
                    rooms_per_sender=10, sends=1000, send_concurrency=50,
                    delivery_saturated=500, paced_rate=20, paced_seconds=15, initial_syncs=5,
                    fanout_members=300, fanout_messages=3, fanout_settle_s=5.0,
                    idle_settle_s=15.0),
    "full": Scale(users=1000, logins=200, register_concurrency=20, rooms=100, senders=50,
                  rooms_per_sender=10, sends=2000, send_concurrency=50,
                  delivery_saturated=1000, paced_rate=20, paced_seconds=30, initial_syncs=10,
                  fanout_members=1000, fanout_messages=5, fanout_settle_s=8.0,
                  idle_settle_s=20.0),
}
