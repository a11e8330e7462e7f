"""State resolution v2 (room versions 2-11) and v2.1 (room version 12).

Follows the "State resolution" sections of the room version specs
(`rooms/fragments/v2-state-res.md`, `rooms/v12.md`):

1. split the state sets into the unconflicted state map and the conflicted
   state set; add the auth difference (and, for v2.1, the conflicted state
   subgraph) to get the full conflicted set;
2. take its power events plus the events of their auth chains that are in the
   full conflicted set, sort them by the reverse topological power ordering
   and apply the iterative auth checks, starting from the unconflicted state
   map (v2) or from an empty map (v2.1);
3. sort the rest of the full conflicted set by the mainline ordering of the
   resulting power levels event and apply the iterative auth checks again;
4. put the unconflicted state map back on top.

Events come in through `get_event`; nothing here performs I/O.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence

from protocol.auth_chain import MissingEvent, auth_chain
from protocol.auth_events_selection import auth_types_for_event
from protocol.auth_rules import AuthError, check_auth_rules
from protocol.events import CREATE, JOIN_RULES, MEMBER, POWER_LEVELS, Event, StateKey
from protocol.power_levels import user_power_level
from protocol.room_versions import RoomVersion, StateResAlgorithm

StateMap = Mapping[StateKey, str]
GetEvent = Callable[[str], Event | None]

CREATE_KEY: StateKey = (CREATE, "")
POWER_LEVELS_KEY: StateKey = (POWER_LEVELS, "")

# A mainline position for events whose power levels chain never meets the
# mainline: larger than any index, so such events sort first.
INFINITE_POSITION = float("inf")


class ResolutionContext:
    """What every step needs: the room version, memoised event lookups and the create event."""

    def __init__(
        self,
        room_version: RoomVersion,
        state_sets: Sequence[StateMap],
        get_event: GetEvent,
    ) -> None:
        self.room_version = room_version
        self._get_event = get_event
        self._cache: dict[str, Event] = {}
        self._sender_power: dict[str, int | float] = {}
        self.create_event = self._find_create_event(state_sets)

    def event(self, event_id: str) -> Event:
        """The event, fetched at most once per resolution; MissingEvent if unknown."""
        event = self._cache.get(event_id)
        if event is None:
            event = self._get_event(event_id)
            if event is None:
                raise MissingEvent(event_id)
            self._cache[event_id] = event
        return event

    def lookup(self, event_id: str) -> Event | None:
        """`event` for callers (like `auth_chain`) that expect None for unknown IDs."""
        try:
            return self.event(event_id)
        except MissingEvent:
            return None

    def _find_create_event(self, state_sets: Sequence[StateMap]) -> Event | None:
        """The room's create event: from the state sets, else (v12) from a room ID."""
        for state in state_sets:
            if CREATE_KEY in state:
                return self.event(state[CREATE_KEY])
        if self.room_version.room_id_is_create_event_id:
            # A v12 room ID is the create event's ID with `!` for `$`.
            for state in state_sets:
                for event_id in state.values():
                    room_id = self.event(event_id).room_id
                    if room_id.startswith("!"):
                        return self.lookup("$" + room_id[1:])
        return None

    def create_event_for(self, event: Event) -> Event | None:
        """The create event that governs `event`: cited in its auth events before v12."""
        for auth_id in event.auth_event_ids:
            auth_event = self.event(auth_id)
            if auth_event.key == CREATE_KEY:
                return auth_event
        return self.create_event

    def power_levels_auth_event(self, event: Event) -> Event | None:
        """The `m.room.power_levels` event among `event`'s auth events, if any."""
        for auth_id in event.auth_event_ids:
            auth_event = self.event(auth_id)
            if auth_event.key == POWER_LEVELS_KEY:
                return auth_event
        return None

    def sender_power(self, event: Event) -> int | float:
        """The sender's power level as seen by the event's own auth events."""
        cached = self._sender_power.get(event.event_id)
        if cached is None:
            pl_event = self.power_levels_auth_event(event)
            cached = user_power_level(
                event.sender,
                pl_event.content if pl_event is not None else None,
                self.create_event_for(event),
                self.room_version,
            )
            self._sender_power[event.event_id] = cached
        return cached

    def auth_events_for_check(
        self, event: Event, state: StateMap, *, fall_back_to_cited: bool = True
    ) -> dict[StateKey, Event]:
        """The auth events to check `event` against, per the iterative auth checks.

        Each key the auth events selection asks for comes from `state`; a key
        missing there falls back to the event's own auth events (v2 only: v1
        checks against the state alone). Rejected events are never used:
        auth events are not re-authorised here.
        """
        cited: dict[StateKey, Event] = {}
        if fall_back_to_cited:
            for auth_id in event.auth_event_ids:
                auth_event = self.event(auth_id)
                if not auth_event.rejected:
                    cited.setdefault(auth_event.key, auth_event)
        selected: dict[StateKey, Event] = {}
        for key in self._auth_types(event):
            chosen = self._accepted(state.get(key)) or cited.get(key)
            if chosen is not None:
                selected[key] = chosen
        # v12 events never cite the create event, yet the rules read it.
        create = selected.get(CREATE_KEY) or cited.get(CREATE_KEY) or self.create_event
        if create is not None:
            selected[CREATE_KEY] = create
        return selected

    def _auth_types(self, event: Event) -> list[StateKey]:
        return auth_types_for_event(
            self.room_version, event.type, event.state_key, event.sender, event.content
        )

    def _accepted(self, event_id: str | None) -> Event | None:
        if event_id is None:
            return None
        event = self.event(event_id)
        return None if event.rejected else event

    def is_allowed(self, event: Event, state: StateMap, *, fall_back_to_cited: bool = True) -> bool:
        """Whether `event` passes the authorization rules against `state`."""
        auth_events = self.auth_events_for_check(
            event, state, fall_back_to_cited=fall_back_to_cited
        )
        try:
            check_auth_rules(event, auth_events)
        except AuthError:
            return False
        return True


# --- definitions -------------------------------------------------------------


def split_conflicts(state_sets: Sequence[StateMap]) -> tuple[dict[StateKey, str], set[str]]:
    """The unconflicted state map and the conflicted state set (of event IDs).

    A key is unconflicted only if every state set has it, with the same event.
    """
    keys = {key for state in state_sets for key in state}
    unconflicted: dict[StateKey, str] = {}
    conflicted: set[str] = set()
    for key in keys:
        values = {state.get(key) for state in state_sets}
        if len(values) == 1 and None not in values:
            unconflicted[key] = values.pop()
        else:
            conflicted.update(v for v in values if v is not None)
    return unconflicted, conflicted


def auth_difference(state_sets: Sequence[StateMap], ctx: ResolutionContext) -> set[str]:
    """Events in some but not all of the state sets' full auth chains.

    A state set's full auth chain here includes the set's own events (as
    Synapse's documented auth chain difference does): an event that every
    branch already holds in its state has been seen by every branch. This
    only affects unconflicted events, which a literal reading would add to
    the difference whenever one branch happens to cite them and another
    does not.
    """
    chains = [set(state.values()) | auth_chain(state.values(), ctx.lookup) for state in state_sets]
    return set.union(*chains) - set.intersection(*chains)


def conflicted_state_subgraph(conflicted: set[str], ctx: ResolutionContext) -> set[str]:
    """Events on an `auth_events` path between two conflicted events, endpoints included."""
    below = auth_chain(conflicted, ctx.lookup) | conflicted
    # reaches[e]: following auth_events from e leads to a conflicted event.
    reaches: dict[str, bool] = {}
    for event_id in auth_first_order(below, ctx):
        reaches[event_id] = any(
            a in conflicted or reaches.get(a, False) for a in ctx.event(event_id).auth_event_ids
        )
    # Every event in `below` is reachable from a conflicted event (or is one),
    # so it lies on such a path exactly when it also reaches a conflicted event.
    return conflicted | {event_id for event_id, hit in reaches.items() if hit}


def full_conflicted_set(
    state_sets: Sequence[StateMap], conflicted: set[str], ctx: ResolutionContext
) -> set[str]:
    """Conflicted state set ∪ auth difference (∪ conflicted state subgraph for v2.1)."""
    full = conflicted | auth_difference(state_sets, ctx)
    if ctx.room_version.state_res is StateResAlgorithm.V2_1:
        full |= conflicted_state_subgraph(conflicted, ctx)
    return full


def is_power_event(event: Event) -> bool:
    """Power levels, join rules, or a kick or ban (a leave/ban sent by someone else)."""
    if not event.is_state:
        return False
    if event.type in (POWER_LEVELS, JOIN_RULES):
        return True
    return (
        event.type == MEMBER
        and event.membership in ("leave", "ban")
        and event.sender != event.state_key
    )


def auth_first_order(event_ids: Iterable[str], ctx: ResolutionContext) -> list[str]:
    """Any topological order of `event_ids` in which auth events come first."""
    return _kahn(set(event_ids), ctx, lambda event_id: event_id)


def reverse_topological_power_order(event_ids: Iterable[str], ctx: ResolutionContext) -> list[str]:
    """The lexicographically smallest auth-first order under the power comparison.

    x < y when x's sender has the greater power level (per x's own auth
    events), then the smaller origin_server_ts, then the smaller event ID.
    """

    def power_key(event_id: str) -> tuple[int | float, int, str]:
        event = ctx.event(event_id)
        return (-ctx.sender_power(event), event.origin_server_ts, event_id)

    return _kahn(set(event_ids), ctx, power_key)


def _kahn(
    nodes: set[str],
    ctx: ResolutionContext,
    sort_key: Callable[[str], object],
) -> list[str]:
    """Kahn's algorithm over the auth DAG restricted to `nodes`, smallest ready node first."""
    waiting_on: dict[str, int] = {}
    dependents: dict[str, list[str]] = {node: [] for node in nodes}
    for node in nodes:
        # A set: an event citing the same auth event twice is one edge.
        parents = {a for a in ctx.event(node).auth_event_ids if a in nodes}
        waiting_on[node] = len(parents)
        for parent in parents:
            dependents[parent].append(node)
    ready = [(sort_key(node), node) for node, count in waiting_on.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for child in dependents[node]:
            waiting_on[child] -= 1
            if waiting_on[child] == 0:
                heapq.heappush(ready, (sort_key(child), child))
    # The auth graph is a DAG, so every node is emitted; a cycle would be a
    # corrupt store and must not be resolved silently.
    if len(order) != len(nodes):
        raise ValueError("auth_events form a cycle")
    return order


def mainline_order(
    event_ids: Iterable[str], power_levels_id: str | None, ctx: ResolutionContext
) -> list[str]:
    """Sort by mainline position of `power_levels_id` (larger first), then ts, then ID."""
    mainline = _mainline(power_levels_id, ctx)
    memo: dict[str, int | float] = {}

    def mainline_key(event_id: str) -> tuple[int | float, int, str]:
        event = ctx.event(event_id)
        position = _mainline_position(event, mainline, memo, ctx)
        return (-position, event.origin_server_ts, event_id)

    return sorted(event_ids, key=mainline_key)


def _mainline(power_levels_id: str | None, ctx: ResolutionContext) -> dict[str, int]:
    """P0, P1, … (each the power levels event cited by the one before), mapped to index."""
    mainline: dict[str, int] = {}
    current = ctx.event(power_levels_id) if power_levels_id is not None else None
    while current is not None and current.event_id not in mainline:
        mainline[current.event_id] = len(mainline)
        current = ctx.power_levels_auth_event(current)
    return mainline


def _mainline_position(
    event: Event,
    mainline: Mapping[str, int],
    memo: dict[str, int | float],
    ctx: ResolutionContext,
) -> int | float:
    """Index of the first of e1, e2, … (not e0 itself) on the mainline, else infinity.

    `memo` maps power levels events already walked to their answer, so a long
    run of events sharing a power levels chain costs one walk.
    """
    walked: list[str] = []
    current = ctx.power_levels_auth_event(event)
    position: int | float = INFINITE_POSITION
    while current is not None:
        if current.event_id in mainline:
            position = mainline[current.event_id]
            break
        if current.event_id in memo:
            position = memo[current.event_id]
            break
        walked.append(current.event_id)
        current = ctx.power_levels_auth_event(current)
    for event_id in walked:
        memo[event_id] = position
    return position


def iterative_auth_checks(
    initial: StateMap, event_ids: Iterable[str], ctx: ResolutionContext
) -> dict[StateKey, str]:
    """Apply each event in order to the state if it passes auth against that state."""
    state = dict(initial)
    for event_id in event_ids:
        event = ctx.event(event_id)
        # A previously rejected event is not admitted into state even if it
        # would pass now; it still took part in the ordering above.
        if event.rejected or not event.is_state:
            continue
        if ctx.is_allowed(event, state):
            state[event.key] = event_id
    return state


# --- the algorithm -----------------------------------------------------------


def resolve_v2(
    room_version: RoomVersion,
    state_sets: Sequence[StateMap],
    get_event: GetEvent,
) -> dict[StateKey, str]:
    """Resolve `state_sets` with state resolution v2, or v2.1 for room version 12."""
    ctx = ResolutionContext(room_version, state_sets, get_event)
    unconflicted, conflicted = split_conflicts(state_sets)
    if not conflicted:
        return unconflicted
    full = full_conflicted_set(state_sets, conflicted, ctx)

    power_events = {e for e in full if is_power_event(ctx.event(e))}
    # Only the auth ancestors that are themselves in the full conflicted set:
    # the rest is common history every branch agrees on.
    selected = power_events | (auth_chain(power_events, ctx.lookup) & full)
    start = {} if room_version.state_res is StateResAlgorithm.V2_1 else unconflicted
    partial = iterative_auth_checks(start, reverse_topological_power_order(selected, ctx), ctx)

    others = mainline_order(full - selected, partial.get(POWER_LEVELS_KEY), ctx)
    resolved = iterative_auth_checks(partial, others, ctx)
    resolved.update(unconflicted)
    return resolved
