"""State resolution: pick the algorithm the room version names and run it.

State maps go in and come out as `(event_type, state_key) -> event_id`;
events are read through `get_event`, which returns None for an unknown ID
(the algorithms then raise `MissingEvent` naming it, so the caller can fetch
it and retry rather than resolve on partial information).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from protocol.auth_chain import MissingEvent
from protocol.events import Event, StateKey
from protocol.room_versions import RoomVersion, StateResAlgorithm
from protocol.state_res_v1 import resolve_v1
from protocol.state_res_v2 import resolve_v2

__all__ = ["MissingEvent", "resolve_state"]


def resolve_state(
    room_version: RoomVersion,
    state_sets: Sequence[Mapping[StateKey, str]],
    get_event: Callable[[str], Event | None],
) -> dict[StateKey, str]:
    """The resolution of `state_sets` under `room_version`'s algorithm."""
    if not state_sets:
        return {}
    first = state_sets[0]
    # One state, or several identical ones, has nothing to resolve.
    if all(state == first for state in state_sets[1:]):
        return dict(first)
    if room_version.state_res is StateResAlgorithm.V1:
        return resolve_v1(room_version, state_sets, get_event)
    return resolve_v2(room_version, state_sets, get_event)
