"""The state before a received event: the resolution of its prev events' states.

A prev event we hold with a state group gives its state directly. For the
others we first ask the sending server for the events between our forward
extremities and the new event (`/get_missing_events`, a bounded number),
handling each as a received PDU, oldest first. A prev event still missing
after that is a gap: we ask for the state at it (`/state_ids`), fetch the
events we lack (`/event`), store them as outliers, and give the prev event
(an outlier too) that state, so later events citing it need no new fetch.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from actors.room_server import store_remote
from actors.room_server.event_cache import StoredFacts
from actors.room_server.federation_requests import get_event, get_missing_events, state_ids
from actors.room_server.inbound_checks import Dropped
from actors.room_server.store_remote import StateMap
from protocol.events import Event

if TYPE_CHECKING:
    from actors.room_server.accept_event import InboundRoom

log = logging.getLogger(__name__)

# How many missing events one received PDU may pull in before we fall back to
# fetching the state at the gap.
MISSING_EVENTS_LIMIT = 10


async def state_before(inbound: InboundRoom, event: Event, *, fetch_prevs: bool) -> StateMap:
    """The state before `event`; Dropped when it cannot be found out."""
    prevs = event.prev_event_ids
    states = await _known_states(inbound, prevs)
    missing = [p for p in prevs if p not in states]
    if missing and fetch_prevs:
        await _fetch_missing_events(inbound, event)
        states.update(await _known_states(inbound, missing))
        missing = [p for p in prevs if p not in states]
    for prev in missing:
        states[prev] = await _state_from_remote(inbound, prev)
    return await inbound.resolve([states[p] for p in dict.fromkeys(prevs)])


async def _known_states(inbound: InboundRoom, event_ids: list[str]) -> dict[str, StateMap]:
    await inbound.cache.load(event_ids)
    out = {}
    for event_id in event_ids:
        facts = inbound.cache.facts.get(event_id)
        if facts is not None and facts.state_after is not None:
            out[event_id] = await inbound.state_map(facts.state_after)
    return out


async def _fetch_missing_events(inbound: InboundRoom, event: Event) -> None:
    room = inbound.room
    depths = [int(p.get("depth", 0)) for p in room.extremities.values()]
    pdus = await get_missing_events(
        inbound.effects.client, inbound.origin, room.room_id,
        earliest=list(room.extremities), latest=[event.event_id],
        limit=MISSING_EVENTS_LIMIT, min_depth=min(depths, default=0),
    )
    pdus.sort(key=lambda p: p.get("depth", 0) if isinstance(p.get("depth"), int) else 0)
    for pdu in pdus[:MISSING_EVENTS_LIMIT]:
        try:
            await inbound.receive(pdu, fetch_prevs=False)
        except Dropped as e:
            log.info("dropping a missing event: %s", e)


async def _state_from_remote(inbound: InboundRoom, prev_id: str) -> StateMap:
    """The state after `prev_id`, from the origin's `/state_ids` at it (state before it)."""
    room_id = inbound.room.room_id
    answer = await state_ids(inbound.effects.client, inbound.origin, room_id, prev_id)
    if answer is None:
        raise Dropped(f"could not get the state at {prev_id} from {inbound.origin}")
    pdu_ids, auth_ids = answer
    wanted = {prev_id, *pdu_ids, *auth_ids}
    lacking = wanted - (await inbound.cache.load(wanted)).keys()
    fetched = []
    for event_id in sorted(lacking):
        pdu = await get_event(inbound.effects.client, inbound.origin, event_id)
        if pdu is not None:
            fetched.append(pdu)
    await inbound.store_outliers(fetched)
    have = await inbound.cache.load(wanted)
    if prev_id not in have or not set(pdu_ids) <= have.keys():
        raise Dropped(f"could not fetch the state at {prev_id}")
    before = {have[i].key: i for i in pdu_ids if have[i].is_state}
    prev = have[prev_id]
    after = dict(before)
    if prev.is_state and not prev.rejected:
        after[prev.key] = prev_id
    async with inbound.pool.acquire() as conn, conn.transaction():
        g_before = await store_remote.store_state(conn, room_id, before, None)
        g_after = await store_remote.store_state(conn, room_id, after, (g_before, before))
        await store_remote.set_outlier_state(conn, prev_id, g_before, g_after)
    old = inbound.cache.facts[prev_id]
    inbound.cache.facts[prev_id] = StoredFacts(old.outlier, old.soft_failed, g_before, g_after)
    return after
