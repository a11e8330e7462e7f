"""State resolution for room version 1 (`rooms/v1.md`, "State resolution").

R starts as the union of the state sets without their conflicting events.
Conflicts are then settled type by type: power levels, join rules, members
(each a chain of events applied in ascending depth while they still pass
auth against R), then every other key (the deepest event that passes auth
against R). The spec warns this algorithm can reset state; it is kept only
because version 1 rooms must still resolve as every other server does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from protocol.events import JOIN_RULES, MEMBER, POWER_LEVELS, Event, StateKey
from protocol.room_versions import RoomVersion
from protocol.state_res_v2 import ResolutionContext, StateMap

GetEvent = Callable[[str], Event | None]

# The auth-relevant types, in the order their conflicts are resolved.
AUTH_TYPE_ORDER = (POWER_LEVELS, JOIN_RULES, MEMBER)


def _sha1_value(event_id: str) -> int:
    """sha1(event_id) as a number, for the spec's sha1 tie-breaks."""
    return int.from_bytes(hashlib.sha1(event_id.encode("utf-8")).digest(), "big")


def split_conflicts_v1(
    state_sets: Sequence[StateMap],
) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    """The union of the states without conflicts, and the conflicting events per key.

    A conflict is two states holding different event IDs for one key; a key
    that only some states hold is not a conflict, so it joins the union.
    """
    candidates: dict[StateKey, set[str]] = {}
    for state in state_sets:
        for key, event_id in state.items():
            candidates.setdefault(key, set()).add(event_id)
    unconflicted = {key: next(iter(ids)) for key, ids in candidates.items() if len(ids) == 1}
    conflicts = {key: ids for key, ids in candidates.items() if len(ids) > 1}
    return unconflicted, conflicts


def _resolve_auth_conflict(
    key: StateKey, event_ids: Iterable[str], resolved: dict[StateKey, str], ctx: ResolutionContext
) -> None:
    """Power levels / join rules / member conflicts: ascending depth, descending sha1.

    The first event goes into R unchecked; each later one is applied while it
    passes auth against R, and the first failure ends the chain.
    """
    events = [ctx.event(event_id) for event_id in event_ids]
    events.sort(key=lambda e: (e.depth, -_sha1_value(e.event_id)))
    resolved[key] = events[0].event_id
    for event in events[1:]:
        if not ctx.is_allowed(event, resolved, fall_back_to_cited=False):
            break
        resolved[key] = event.event_id


def _resolve_other_conflict(
    key: StateKey, event_ids: Iterable[str], resolved: dict[StateKey, str], ctx: ResolutionContext
) -> None:
    """Any other conflict: the highest depth, then lowest sha1, that passes auth in R."""
    events = [ctx.event(event_id) for event_id in event_ids]
    events.sort(key=lambda e: (-e.depth, _sha1_value(e.event_id)))
    for event in events:
        if ctx.is_allowed(event, resolved, fall_back_to_cited=False):
            resolved[key] = event.event_id
            return


def resolve_v1(
    room_version: RoomVersion,
    state_sets: Sequence[StateMap],
    get_event: GetEvent,
) -> dict[StateKey, str]:
    """Resolve `state_sets` with the room version 1 algorithm."""
    ctx = ResolutionContext(room_version, state_sets, get_event)
    resolved, conflicts = split_conflicts_v1(state_sets)
    for event_type in AUTH_TYPE_ORDER:
        # Sorted keys: the spec leaves the order among member keys open, and
        # every server must pick the same one.
        for key in sorted(k for k in conflicts if k[0] == event_type):
            _resolve_auth_conflict(key, conflicts[key], resolved, ctx)
    for key in sorted(k for k in conflicts if k[0] not in AUTH_TYPE_ORDER):
        _resolve_other_conflict(key, conflicts[key], resolved, ctx)
    return resolved
