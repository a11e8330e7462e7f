"""Reading a `POST /search` body (spec: Server Side Search) into checked criteria.

Every malformed part is 400 M_BAD_JSON, before anything is searched. Only the
`room_events` category exists; a body without it asks for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.sync.filters import RoomEventFilter, parse_room_event_filter
from protocol.errors import bad_json
from search_index.documents import KEY_TYPES
from search_index.query import ORDERS, RANK

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
DEFAULT_CONTEXT = 5
MAX_CONTEXT = 50
MAX_TERM_CHARS = 1000
GROUP_KEYS = ("room_id", "sender")


@dataclass(frozen=True)
class EventContextOptions:
    before_limit: int = DEFAULT_CONTEXT
    after_limit: int = DEFAULT_CONTEXT
    include_profile: bool = False


@dataclass(frozen=True)
class RoomEventsCriteria:
    search_term: str
    types: tuple[str, ...]
    filter: RoomEventFilter
    order: str
    limit: int
    context: EventContextOptions | None
    include_state: bool
    group_by: tuple[str, ...]


def parse_search_body(body: dict[str, Any]) -> RoomEventsCriteria | None:
    categories = body.get("search_categories")
    if not isinstance(categories, dict):
        raise bad_json("search_categories must be an object")
    raw = categories.get("room_events")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad_json("room_events must be an object")
    term = raw.get("search_term")
    if not isinstance(term, str):
        raise bad_json("room_events.search_term must be a string")
    if len(term) > MAX_TERM_CHARS:
        raise bad_json(f"room_events.search_term is longer than {MAX_TERM_CHARS} characters")
    event_filter = parse_room_event_filter(raw.get("filter") or {}, _prefixed("room_events.filter"))
    order = raw.get("order_by", RANK)
    if order not in ORDERS:
        raise bad_json("room_events.order_by must be 'rank' or 'recent'")
    return RoomEventsCriteria(
        search_term=term,
        types=_types(raw.get("keys"), event_filter),
        filter=event_filter,
        order=order,
        limit=event_filter.limit_or(DEFAULT_LIMIT, MAX_LIMIT),
        context=_context(raw.get("event_context")),
        include_state=_bool(raw, "include_state"),
        group_by=_groupings(raw.get("groupings")),
    )


def _prefixed(where: str) -> Any:
    return lambda message: bad_json(f"{where}: {message}")


def _types(keys: Any, event_filter: RoomEventFilter) -> tuple[str, ...]:
    """The event types to search: the `keys` asked for, narrowed by the filter's types."""
    if keys is None:
        keys = list(KEY_TYPES)
    if not isinstance(keys, list) or not all(isinstance(k, str) and k in KEY_TYPES for k in keys):
        raise bad_json(f"room_events.keys must be a list of {', '.join(KEY_TYPES)}")
    types = dict.fromkeys(KEY_TYPES[k] for k in keys)
    # The filter's senders are applied separately; here only its types matter.
    return tuple(t for t in types if RoomEventFilter(
        types=event_filter.types, not_types=event_filter.not_types
    ).matches_type_and_sender(t, ""))


def _bool(raw: dict[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise bad_json(f"room_events.{key} must be a boolean")
    return value


def _context(raw: Any) -> EventContextOptions | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad_json("room_events.event_context must be an object")

    def limit(key: str) -> int:
        value = raw.get(key, DEFAULT_CONTEXT)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad_json(f"room_events.event_context.{key} must be a non-negative integer")
        return min(value, MAX_CONTEXT)

    profile = raw.get("include_profile", False)
    if not isinstance(profile, bool):
        raise bad_json("room_events.event_context.include_profile must be a boolean")
    return EventContextOptions(limit("before_limit"), limit("after_limit"), profile)


def _groupings(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    groups = raw.get("group_by", []) if isinstance(raw, dict) else None
    if not isinstance(groups, list):
        raise bad_json("room_events.groupings.group_by must be a list")
    keys: list[str] = []
    for g in groups:
        key = g.get("key") if isinstance(g, dict) else None
        if key not in GROUP_KEYS:
            raise bad_json("room_events.groupings.group_by keys must be 'room_id' or 'sender'")
        if key not in keys:
            keys.append(key)
    return tuple(keys)
