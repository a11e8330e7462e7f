"""Which servers a PDU goes to.

An event goes to the servers of the room's joined members in the state
after the event, plus the target's server for a membership event (so an
invited, kicked or banned user's server hears of it), never to ourselves
and never back to the server it came from.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from actors.sync.state_groups import StateGroupReader
from protocol.identifiers import server_name_of

MEMBER = "m.room.member"


def servers_of(user_ids: Iterable[str]) -> set[str]:
    out = set()
    for user_id in user_ids:
        try:
            out.add(server_name_of(user_id))
        except ValueError:
            continue  # a malformed state key names no server
    return out


def pdu_destinations(
    joined_servers: set[str], *, event_type: str, state_key: str | None, our_server: str,
    origin: str | None,
) -> set[str]:
    out = set(joined_servers)
    if event_type == MEMBER and state_key:
        out |= servers_of([state_key])
    out.discard(our_server)
    if origin is not None:
        out.discard(origin)
    return out


class JoinedServers:
    """The servers with a joined member in a state group (groups never change: cached)."""

    def __init__(self, reader: StateGroupReader | None = None, cache_size: int = 4096) -> None:
        self._reader = reader or StateGroupReader(cache_entries=50_000)
        self._cache: OrderedDict[int, frozenset[str]] = OrderedDict()
        self._size = cache_size

    async def of_group(self, conn: Any, group: int | None) -> frozenset[str]:
        if group is None:
            return frozenset()
        hit = self._cache.get(group)
        if hit is not None:
            self._cache.move_to_end(group)
            return hit
        members = await self._reader.entries_of_types(conn, group, [MEMBER])
        rows = await conn.fetch(
            "SELECT state_key FROM events WHERE event_id = ANY($1::text[])"
            " AND pdu->'content'->>'membership' = 'join'",
            list(members.values()),
        )
        servers = frozenset(servers_of(r["state_key"] for r in rows))
        self._cache[group] = servers
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return servers
