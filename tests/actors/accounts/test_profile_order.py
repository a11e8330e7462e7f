"""Quick profile changes reach a user's rooms in the order the database took them."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.actors.accounts.helpers import Accounts, register, unique


async def test_rooms_end_with_the_profile_the_database_ends_with(accounts: Accounts) -> None:
    user_id = (await register(accounts))["user_id"]
    room_id = f"!{unique('r')}:test.local"
    await accounts.router.shards[0].pool.execute(
        "INSERT INTO current_state (room_id, type, state_key, event_id, membership)"
        " VALUES ($1, 'm.room.member', $2, $3, 'join')", room_id, user_id, f"$ev{unique()}")
    router = accounts.router
    record = router.call

    async def slow_first_room_call(component: str, key: str, method: str, *args: Any,
                                   **kw: Any) -> Any:
        # The first change's room call is slow: the second change overtakes it
        # unless changes of one user are taken one at a time.
        if component == "room_server" and args[2] == "First":
            await asyncio.sleep(0.2)
        return await record(component, key, method, *args, **kw)

    router.call = slow_first_room_call  # type: ignore[method-assign]
    first = asyncio.ensure_future(accounts.call(
        user_id, "set_profile_field", user_id, user_id, "displayname", {"displayname": "First"}))
    await asyncio.sleep(0.05)
    await accounts.call(
        user_id, "set_profile_field", user_id, user_id, "displayname", {"displayname": "Second"})
    await first
    profile = await accounts.call(user_id, "get_profile", user_id)
    assert profile["displayname"] == "Second"
    assert [c[4] for c in router.room_calls] == ["First", "Second"]
