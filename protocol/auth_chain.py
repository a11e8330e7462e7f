"""Auth chains: the events reachable from some events by following `auth_events`.

The walk is iterative (an explicit stack), so a room whose auth DAG is
thousands of events deep never hits Python's recursion limit. Events come in
through `get_event`, keeping this module free of I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from protocol.events import Event

GetEvent = Callable[[str], Event | None]


class MissingEvent(KeyError):
    """An event needed for the computation is not available; `.event_id` names it."""

    def __init__(self, event_id: str) -> None:
        super().__init__(event_id)
        self.event_id = event_id


def fetch(get_event: GetEvent, event_id: str) -> Event:
    """`get_event(event_id)`, raising MissingEvent rather than returning None."""
    event = get_event(event_id)
    if event is None:
        raise MissingEvent(event_id)
    return event


def auth_chain(event_ids: Iterable[str], get_event: GetEvent) -> set[str]:
    """The union of the auth chains of `event_ids`.

    Per the spec an event's auth chain holds its auth events, their auth
    events and so on; the starting events themselves are only included when
    one of them is reachable from another.
    """
    chain: set[str] = set()
    stack = [
        auth_id for event_id in event_ids for auth_id in fetch(get_event, event_id).auth_event_ids
    ]
    while stack:
        event_id = stack.pop()
        if event_id in chain:
            continue
        chain.add(event_id)
        # Only unvisited parents go on the stack, which keeps it bounded by
        # the number of distinct edges rather than the number of paths.
        stack.extend(a for a in fetch(get_event, event_id).auth_event_ids if a not in chain)
    return chain
