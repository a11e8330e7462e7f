"""User profiles (spec: "Profiles", with the v1.16 custom profile fields).

`displayname` and `avatar_url` keep their own columns, which other
components read for membership events; every other key (`m.tz`, custom
namespaced keys) lives in `profiles.fields`. A whole profile must stay
within 64 KiB of canonical JSON and each key within 255 bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import asyncpg

from actors.accounts.requests import storable
from protocol.canonical_json import CanonicalJsonError, encode_canonical_json
from protocol.errors import MatrixError, bad_json, invalid_param, missing_param
from protocol.identifiers import is_valid_server_name

DISPLAYNAME = "displayname"
AVATAR_URL = "avatar_url"
TIMEZONE = "m.tz"
MEMBER_FIELDS = (DISPLAYNAME, AVATAR_URL)

MAX_KEY_BYTES = 255
MAX_PROFILE_BYTES = 64 * 1024

# profile.yaml's keyName pattern: the defined keys or the Common Namespaced
# Identifier Grammar.
_KEY = re.compile(r"(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)")
_MXC = re.compile(r"mxc://([^/]+)/[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class MemberProfile:
    """What membership events carry: the display name and avatar."""

    displayname: str | None
    avatar_url: str | None


def check_key(key: str) -> None:
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise MatrixError(400, "M_KEY_TOO_LARGE", f"Profile keys are limited to {MAX_KEY_BYTES} bytes")
    if not _KEY.fullmatch(key):
        raise invalid_param("Invalid profile key")


def value_from_body(key: str, body: dict[str, Any]) -> Any:
    """The new value of `key` from a PUT body holding exactly that one property."""
    if key not in body:
        raise missing_param(f"The body must contain {key!r}")
    if len(body) != 1:
        raise bad_json(f"The body must contain only {key!r}")
    value = body[key]
    if not storable(value):
        raise bad_json(f"{key} must not contain NUL characters")
    if key in (DISPLAYNAME, TIMEZONE) and not isinstance(value, str):
        raise bad_json(f"{key} must be a string")
    if key == AVATAR_URL:
        if not isinstance(value, str):
            raise bad_json("avatar_url must be a string")
        if value and not _is_mxc_uri(value):
            raise invalid_param("avatar_url must be an mxc:// URI")
    return value


def _is_mxc_uri(value: str) -> bool:
    m = _MXC.fullmatch(value)
    return m is not None and is_valid_server_name(m.group(1))


def _profile_of(row: asyncpg.Record) -> dict[str, Any]:
    profile: dict[str, Any] = dict(row["fields"] or {})
    for key in MEMBER_FIELDS:
        if row[key] is not None:
            profile[key] = row[key]
    return profile


async def load_profile(pool: asyncpg.Pool, user_id: str) -> dict[str, Any] | None:
    """The user's whole profile, or None for an unknown or deactivated user."""
    row = await pool.fetchrow(
        "SELECT p.displayname, p.avatar_url, p.fields FROM users u"
        " LEFT JOIN profiles p ON p.user_id = u.user_id"
        " WHERE u.user_id = $1 AND NOT u.deactivated",
        user_id,
    )
    return None if row is None else _profile_of(row)


async def _locked_profile(conn: asyncpg.Connection, user_id: str) -> dict[str, Any]:
    await conn.execute(
        "INSERT INTO profiles (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING", user_id
    )
    row = await conn.fetchrow(
        "SELECT displayname, avatar_url, fields FROM profiles WHERE user_id = $1 FOR UPDATE",
        user_id,
    )
    return _profile_of(row)


async def _store(conn: asyncpg.Connection, user_id: str, profile: dict[str, Any]) -> None:
    fields = {k: v for k, v in profile.items() if k not in MEMBER_FIELDS}
    await conn.execute(
        "UPDATE profiles SET displayname = $2, avatar_url = $3, fields = $4 WHERE user_id = $1",
        user_id, profile.get(DISPLAYNAME), profile.get(AVATAR_URL), fields,
    )


def _check_size(profile: dict[str, Any]) -> None:
    try:
        size = len(encode_canonical_json(profile))
    except CanonicalJsonError as e:
        raise bad_json(f"Profile values must be JSON: {e}") from None
    if size > MAX_PROFILE_BYTES:
        raise MatrixError(
            400, "M_PROFILE_TOO_LARGE", f"The profile would exceed {MAX_PROFILE_BYTES} bytes"
        )


async def set_field(
    pool: asyncpg.Pool, user_id: str, key: str, value: Any
) -> MemberProfile | None:
    """Store one field; the new member profile when displayname or avatar_url changed.

    An empty `avatar_url` removes the avatar: clients predating DELETE clear
    it that way.
    """
    async with pool.acquire() as conn, conn.transaction():
        profile = await _locked_profile(conn, user_id)
        before = MemberProfile(profile.get(DISPLAYNAME), profile.get(AVATAR_URL))
        if key == AVATAR_URL and value == "":
            profile.pop(key, None)
        else:
            profile[key] = value
        _check_size(profile)
        await _store(conn, user_id, profile)
    after = MemberProfile(profile.get(DISPLAYNAME), profile.get(AVATAR_URL))
    return after if after != before else None


async def delete_field(pool: asyncpg.Pool, user_id: str, key: str) -> MemberProfile | None:
    """Remove one field; the new member profile when displayname or avatar_url changed."""
    async with pool.acquire() as conn, conn.transaction():
        profile = await _locked_profile(conn, user_id)
        if key not in profile:
            return None
        del profile[key]
        await _store(conn, user_id, profile)
    return MemberProfile(profile.get(DISPLAYNAME), profile.get(AVATAR_URL)) if key in MEMBER_FIELDS else None


async def clear(pool: asyncpg.Pool, user_id: str) -> None:
    await pool.execute(
        "UPDATE profiles SET displayname = NULL, avatar_url = NULL, fields = '{}'"
        " WHERE user_id = $1",
        user_id,
    )


async def joined_rooms(pool: asyncpg.Pool, user_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT room_id FROM current_state"
        " WHERE type = 'm.room.member' AND state_key = $1 AND membership = 'join'",
        user_id,
    )
    return [r["room_id"] for r in rows]
