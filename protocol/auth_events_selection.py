"""Which state events an event cites as its `auth_events`.

This is the server-server API's "Auth events selection": the create event
(except from v12, where the room ID stands for it), the power levels, the
sender's membership and, for membership events, the target's membership,
the join rules, a third-party invite and the restricted-join authoriser.
The same list decides which cited auth events are allowed (auth rule 2.2,
or 3.2 in v12) and which parts of a state map the auth rules look at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol.events import (
    CREATE,
    JOIN_RULES,
    MEMBER,
    POWER_LEVELS,
    THIRD_PARTY_INVITE,
    StateKey,
)
from protocol.room_versions import RoomVersion
from protocol.room_versions import room_version as lookup_room_version

# Memberships whose auth depends on the join rules; `knock` is only a valid
# membership from v7, but selecting the join rules for it is harmless before.
_JOIN_RULE_MEMBERSHIPS = frozenset({"join", "invite", "knock"})


def auth_types_for_event(
    room_version: RoomVersion | str,
    event_type: str,
    state_key: str | None,
    sender: str,
    content: Mapping[str, Any],
) -> list[tuple[str, str]]:
    """The (type, state_key) pairs an event of this shape may cite, in a stable order.

    An `m.room.create` event cites nothing. Each pair appears
    once even when e.g. the sender is also the target.
    """
    rv = lookup_room_version(room_version) if isinstance(room_version, str) else room_version
    if event_type == CREATE:
        return []
    selected: list[StateKey] = []
    if not rv.room_id_is_create_event_id:
        selected.append((CREATE, ""))
    selected.append((POWER_LEVELS, ""))
    selected.append((MEMBER, sender))
    if event_type == MEMBER and state_key is not None:
        selected.extend(_member_event_types(rv, state_key, content))
    return _deduplicated(selected)


def _member_event_types(
    rv: RoomVersion, state_key: str, content: Mapping[str, Any]
) -> list[StateKey]:
    """The extra pairs for an `m.room.member` event about `state_key`."""
    types: list[StateKey] = [(MEMBER, state_key)]
    membership = content.get("membership")
    if membership in _JOIN_RULE_MEMBERSHIPS:
        types.append((JOIN_RULES, ""))
    if membership == "invite":
        token = _third_party_invite_token(content)
        if token is not None:
            types.append((THIRD_PARTY_INVITE, token))
    if membership == "join" and rv.restricted_join:
        authoriser = content.get("join_authorised_via_users_server")
        if isinstance(authoriser, str):
            types.append((MEMBER, authoriser))
    return types


def _third_party_invite_token(content: Mapping[str, Any]) -> str | None:
    """`content.third_party_invite.signed.token`, if it is a string."""
    invite = content.get("third_party_invite")
    if not isinstance(invite, Mapping):
        return None
    signed = invite.get("signed")
    if not isinstance(signed, Mapping):
        return None
    token = signed.get("token")
    return token if isinstance(token, str) else None


def _deduplicated(pairs: list[StateKey]) -> list[StateKey]:
    return list(dict.fromkeys(pairs))
