"""Membership changes requested by local users: join, invite, leave, kick, ban, unban, knock.

This module decides the event content and the checks the auth rules leave to
the server (kicking someone who is not in the room, restricted joins). The
auth rules still have the last word when the event is built.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from actors.room_server.room_state import RoomState
from protocol import power_levels as pl
from protocol.errors import MatrixError, forbidden
from protocol.events import CREATE, JOIN_RULES, POWER_LEVELS

ACTIONS = {
    "join": "join", "invite": "invite", "leave": "leave", "kick": "leave",
    "ban": "ban", "unban": "leave", "knock": "knock",
}


def check_action(room: RoomState, sender: str, target: str, action: str) -> None:
    """The checks for each action that the auth rules do not make themselves."""
    current = room.membership(target)
    if action == "kick" and current not in ("join", "invite", "knock"):
        raise forbidden("The user is not in the room")
    if action == "unban" and current != "ban":
        raise forbidden("The user is not banned")
    if action == "leave" and sender == target and current not in ("join", "invite", "knock"):
        raise forbidden("You are not in the room")
    if action == "knock" and not room.version.knock:
        raise forbidden(f"Room version {room.version.identifier} does not support knocking")
    if action == "invite" and current == "ban":
        raise forbidden("The user is banned from the room")


async def profile_content(conn: asyncpg.Connection, user_id: str) -> dict[str, Any]:
    """displayname/avatar_url of a local user, for their member events."""
    row = await conn.fetchrow(
        "SELECT displayname, avatar_url FROM profiles WHERE user_id = $1", user_id
    )
    if row is None:
        return {}
    return {k: row[k] for k in ("displayname", "avatar_url") if row[k] is not None}


def join_rule(room: RoomState) -> str:
    ev = room.state_event(JOIN_RULES)
    rule = ev.content.get("join_rule") if ev else None
    return rule if isinstance(rule, str) else "invite"


def user_level(room: RoomState, user_id: str) -> int | float:
    pl_event = room.state_event(POWER_LEVELS)
    return pl.user_power_level(
        user_id, pl_event.content if pl_event else None, room.state_event(CREATE), room.version
    )


async def restricted_join_authoriser(
    conn: asyncpg.Connection, room: RoomState, user_id: str, server_name: str
) -> str | None:
    """For a restricted room: a local member who may invite, if `user_id` meets the allow list.

    Returns None when the join needs no authoriser (invited, already joined,
    not a restricted room); raises 403 when the user qualifies for nothing.
    """
    rule = join_rule(room)
    if rule not in ("restricted", "knock_restricted") or not room.version.restricted_join:
        return None
    if room.membership(user_id) in ("join", "invite"):
        return None
    allowed_rooms = [
        a.get("room_id") for a in (room.state_event(JOIN_RULES).content.get("allow") or [])
        if isinstance(a, dict) and a.get("type") == "m.room_membership"
        and isinstance(a.get("room_id"), str)
    ]
    in_allowed = allowed_rooms and await conn.fetchval(
        "SELECT 1 FROM current_state WHERE type = 'm.room.member' AND state_key = $1"
        " AND membership = 'join' AND room_id = ANY($2::text[]) LIMIT 1",
        user_id, allowed_rooms,
    )
    if not in_allowed:
        raise forbidden("You do not meet the conditions to join this restricted room")
    pl_event = room.state_event(POWER_LEVELS)
    invite_level = pl.named_level(pl_event.content if pl_event else None, "invite", room.version)
    for member in sorted(room.joined_members()):
        if member.endswith(":" + server_name) and user_level(room, member) >= invite_level:
            return member
    raise MatrixError(400, "M_UNABLE_TO_AUTHORISE_JOIN",
                      "No local user in the room may authorise this join")
