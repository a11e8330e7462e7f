"""Profiles: the defined fields, custom fields, their limits and the updates to rooms."""

from __future__ import annotations

import pytest

from protocol.errors import MatrixError
from tests.actors.accounts.helpers import register, unique
from tests.openapi import assert_matches


async def put(accounts, requester: str, user_id: str, key: str, body: dict) -> dict:
    return await accounts.call(user_id, "set_profile_field", requester, user_id, key, body)


async def test_set_get_and_delete_fields(accounts) -> None:
    user_id = (await register(accounts))["user_id"]
    assert await accounts.call(user_id, "get_profile", user_id) == {}
    await put(accounts, user_id, user_id, "displayname", {"displayname": "Alice"})
    await put(accounts, user_id, user_id, "avatar_url", {"avatar_url": "mxc://test.local/abc_1"})
    await put(accounts, user_id, user_id, "m.tz", {"m.tz": "Europe/Paris"})
    await put(accounts, user_id, user_id, "org.example.pets", {"org.example.pets": ["cat", 2]})
    await put(accounts, user_id, user_id, "org.example.none", {"org.example.none": None})
    profile = await accounts.call(user_id, "get_profile", user_id)
    assert profile == {"displayname": "Alice", "avatar_url": "mxc://test.local/abc_1",
                       "m.tz": "Europe/Paris", "org.example.pets": ["cat", 2],
                       "org.example.none": None}
    assert_matches("profile.yaml", "/profile/{userId}", "get", 200, profile)
    assert await accounts.call(user_id, "get_profile_field", user_id, "displayname") == {
        "displayname": "Alice"}

    assert await accounts.call(user_id, "delete_profile_field", user_id, user_id, "m.tz") == {}
    await accounts.call(user_id, "delete_profile_field", user_id, user_id, "m.tz")
    with pytest.raises(MatrixError) as e:
        await accounts.call(user_id, "get_profile_field", user_id, "m.tz")
    assert (e.value.status, e.value.errcode) == (404, "M_NOT_FOUND")
    # An empty avatar_url clears the avatar (what clients without DELETE send).
    await put(accounts, user_id, user_id, "avatar_url", {"avatar_url": ""})
    assert "avatar_url" not in await accounts.call(user_id, "get_profile", user_id)


async def test_only_the_owner_writes(accounts) -> None:
    alice = (await register(accounts))["user_id"]
    bob = (await register(accounts))["user_id"]
    with pytest.raises(MatrixError) as e:
        await put(accounts, bob, alice, "displayname", {"displayname": "Not Alice"})
    assert (e.value.status, e.value.errcode) == (403, "M_FORBIDDEN")
    with pytest.raises(MatrixError) as e:
        await accounts.call(alice, "delete_profile_field", bob, alice, "displayname")
    assert e.value.status == 403


@pytest.mark.parametrize(("key", "body", "errcode"), [
    ("displayname", {}, "M_MISSING_PARAM"),
    ("displayname", {"displayname": 3}, "M_BAD_JSON"),
    ("displayname", {"displayname": None}, "M_BAD_JSON"),
    ("displayname", {"displayname": "a", "avatar_url": "b"}, "M_BAD_JSON"),
    ("avatar_url", {"avatar_url": "https://example.org/a.png"}, "M_INVALID_PARAM"),
    ("m.tz", {"m.tz": 1}, "M_BAD_JSON"),
    ("nonamespace", {"nonamespace": 1}, "M_INVALID_PARAM"),
    ("Com.Example", {"Com.Example": 1}, "M_INVALID_PARAM"),
    ("a." + "b" * 255, {"a." + "b" * 255: 1}, "M_KEY_TOO_LARGE"),
    ("org.example.big", {"org.example.big": "x" * 70_000}, "M_PROFILE_TOO_LARGE"),
])
async def test_bad_fields(accounts, key: str, body: dict, errcode: str) -> None:
    user_id = (await register(accounts))["user_id"]
    with pytest.raises(MatrixError) as e:
        await put(accounts, user_id, user_id, key, body)
    assert (e.value.status, e.value.errcode) == (400, errcode)
    assert await accounts.call(user_id, "get_profile", user_id) == {}


async def test_total_size_counts_every_field(accounts) -> None:
    user_id = (await register(accounts))["user_id"]
    await put(accounts, user_id, user_id, "org.example.a", {"org.example.a": "x" * 40_000})
    with pytest.raises(MatrixError) as e:
        await put(accounts, user_id, user_id, "org.example.b", {"org.example.b": "y" * 30_000})
    assert e.value.errcode == "M_PROFILE_TOO_LARGE"
    # Replacing a field counts its new size, not both.
    await put(accounts, user_id, user_id, "org.example.a", {"org.example.a": "z" * 60_000})


async def test_unknown_users(accounts) -> None:
    for user_id, status in ((f"@{unique()}:test.local", 404), ("@someone:elsewhere.org", 502),
                            ("not-a-user", 400)):
        with pytest.raises(MatrixError) as e:
            await accounts.call(user_id, "get_profile", user_id)
        assert e.value.status == status, user_id


async def test_member_profile_changes_reach_joined_rooms(accounts) -> None:
    user_id = (await register(accounts))["user_id"]
    pool = accounts.router.shards[0].pool
    joined, left = f"!{unique('r')}:test.local", f"!{unique('r')}:test.local"
    for room_id, membership in ((joined, "join"), (left, "leave")):
        await pool.execute(
            "INSERT INTO current_state (room_id, type, state_key, event_id, membership)"
            " VALUES ($1, 'm.room.member', $2, $3, $4)",
            room_id, user_id, f"$ev{unique()}", membership)
    calls = accounts.router.room_calls
    await put(accounts, user_id, user_id, "displayname", {"displayname": "Al"})
    await put(accounts, user_id, user_id, "displayname", {"displayname": "Al"})  # unchanged
    await put(accounts, user_id, user_id, "org.example.x", {"org.example.x": 1})  # not a member field
    await put(accounts, user_id, user_id, "avatar_url", {"avatar_url": "mxc://a.b/c"})
    await accounts.call(user_id, "delete_profile_field", user_id, user_id, "displayname")
    assert calls == [
        ("room_server", "set_member_profile", joined, user_id, "Al", None),
        ("room_server", "set_member_profile", joined, user_id, "Al", "mxc://a.b/c"),
        ("room_server", "set_member_profile", joined, user_id, None, "mxc://a.b/c"),
    ]
