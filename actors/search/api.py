"""What other components call on the search component.

`notify_search` is how a room server tells the search shard owning a room
that searchable events (or redactions) were committed there. Fire and
forget: a lost wake-up costs latency only, as the shard also polls.
"""

from __future__ import annotations

from collections.abc import Iterable

from actors.search.store import FEED_TYPES
from sharding.router import Router

_WAKING_TYPES = frozenset(FEED_TYPES)


def notify_search(
    router: Router, room_id: str, writer: int, pos: int, event_types: Iterable[str]
) -> None:
    if _WAKING_TYPES.isdisjoint(event_types):
        return
    router.notify("search", router.shard_for("search", room_id), "on_new_event", writer, pos)
