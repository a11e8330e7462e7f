"""Room history visibility: may this user see this event? (spec: Room History Visibility)

Pure rules, decided from the state of the room *at the event* (its
`state_before`): the `m.room.history_visibility` setting and the user's
membership. The server-behaviour list of the spec, in order:

1. `world_readable` at the event: allow.
2. The user's membership at the event was `join`: allow.
3. `shared`, and the user joined the room at any point after the event: allow.
4. The user's membership was `invite` and the setting `invited`: allow.
5. Otherwise deny.

For an `m.room.history_visibility` event the setting before *or* after it may
allow; for the user's own `m.room.member` event the membership before *or*
after it may allow. A missing or unknown setting counts as `shared`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WORLD_READABLE = "world_readable"
SHARED = "shared"
INVITED = "invited"
JOINED = "joined"
SETTINGS = frozenset({WORLD_READABLE, SHARED, INVITED, JOINED})

HISTORY_VISIBILITY_TYPE = "m.room.history_visibility"
MEMBER_TYPE = "m.room.member"


def normalise_setting(value: Any) -> str:
    """The effective setting of an `m.room.history_visibility` content value."""
    return value if isinstance(value, str) and value in SETTINGS else SHARED


def setting_of(content: Any) -> str:
    """The effective setting from an `m.room.history_visibility` event's content (or None)."""
    return normalise_setting(content.get("history_visibility") if isinstance(content, Mapping) else None)


def membership_of(content: Any) -> str | None:
    value = content.get("membership") if isinstance(content, Mapping) else None
    return value if isinstance(value, str) else None


def allowed(setting: str, membership: str | None, joined_later: bool) -> bool:
    """The spec's rules 1-5 for one (setting, membership) pair."""
    if setting == WORLD_READABLE:
        return True
    if membership == "join":
        return True
    if setting == SHARED and joined_later:
        return True
    return membership == "invite" and setting == INVITED


@dataclass(frozen=True)
class EventFacts:
    """What the rules need to know about one event, for one user."""

    event_type: str
    state_key: str | None
    content: Any
    # The setting and the user's membership in the state before the event.
    setting_before: str
    membership_before: str | None
    # Whether the user joined the room at any point after the event.
    joined_later: bool


def is_visible(user_id: str, facts: EventFacts) -> bool:
    settings = [facts.setting_before]
    memberships = [facts.membership_before]
    if facts.event_type == HISTORY_VISIBILITY_TYPE and facts.state_key == "":
        settings.append(setting_of(facts.content))
    if facts.event_type == MEMBER_TYPE and facts.state_key == user_id:
        memberships.append(membership_of(facts.content))
    return any(allowed(s, m, facts.joined_later) for s in settings for m in memberships)


def membership_at_event(user_id: str, facts: EventFacts) -> str:
    """The user's membership at the event, including the event's own change.

    What clients get as `unsigned.membership`: `leave` when the user had none.
    """
    if facts.event_type == MEMBER_TYPE and facts.state_key == user_id:
        after = membership_of(facts.content)
        if after is not None:
            return after
    return facts.membership_before or "leave"
