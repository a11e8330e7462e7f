"""`receive_pdus(origin, pdus)`: the PDUs of a `/send` transaction, room by room.

Each room's PDUs run in order under that room's lock on the shard that owns
the room; rooms run concurrently. The answer is the `pdus` object of the
`/send` response: `{event_id: {}}` for a PDU we now hold (accepted,
soft-failed or already known) and `{event_id: {"error": ...}}` otherwise.
PDUs whose event ID cannot even be computed (unknown room, not an event)
cannot be named in the answer and are left out of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from actors.room_server.accept_event import InboundRoom
from actors.room_server.inbound_checks import Dropped, event_id_of
from actors.room_server.notify import notify_sync
from actors.room_server.persist import PersistedEvent
from actors.search.api import notify_search
from protocol.server_acl import server_allowed
from sharding.router import Router

log = logging.getLogger(__name__)

PduResults = dict[str, dict[str, Any]]


def group_by_room(pdus: Iterable[Any]) -> dict[str, list[dict[str, Any]]]:
    by_room: dict[str, list[dict[str, Any]]] = {}
    for pdu in pdus:
        if isinstance(pdu, dict) and isinstance(pdu.get("room_id"), str):
            by_room.setdefault(pdu["room_id"], []).append(pdu)
    return by_room


async def receive_room_pdus(inbound: InboundRoom, pdus: list[dict[str, Any]]) -> PduResults:
    """Handle one room's PDUs in order; the room's cache follows every commit."""
    results: PduResults = {}
    for pdu in pdus:
        try:
            event_id = event_id_of(pdu, inbound.room.version)
        except Dropped as e:
            log.info("dropping a PDU from %s: %s", inbound.origin, e)
            continue
        if not origin_allowed(inbound):
            results[event_id] = {"error": "Server is banned from this room by its server ACL"}
            continue
        try:
            await inbound.receive(pdu)
        except Dropped as e:
            results[event_id] = {"error": str(e)}
            continue
        rejected = inbound.cache.get(event_id)
        if rejected is not None and rejected.rejected_reason is not None:
            results[event_id] = {"error": f"rejected: {rejected.rejected_reason}"}
        else:
            results[event_id] = {}
    return results


def origin_allowed(inbound: InboundRoom) -> bool:
    """The room's server ACL applies to the PDUs a server sends, as to its requests."""
    acl = inbound.room.state_event("m.room.server_acl")
    return server_allowed(inbound.origin, acl.content if acl else None)


def announce(router: Router, inbound: InboundRoom, joined_before: Iterable[str]) -> None:
    """Wake the sync and search shards for the live events the work committed."""
    if not inbound.committed:
        return
    last = inbound.committed[-1]
    events = [c.event for c in inbound.committed]
    persisted = [PersistedEvent(last.event.event_id, last.writer, last.stream_pos,
                                inbound.room.last_seq, inbound.room.state_group)]
    notify_sync(router, inbound.room, events, persisted, joined_before)
    notify_search(router, inbound.room.room_id, last.writer, last.stream_pos,
                  (e.type for e in events))
