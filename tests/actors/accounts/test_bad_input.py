"""Input PostgreSQL cannot store is refused with a Matrix error, never a crash."""

from __future__ import annotations

import pytest

from protocol.errors import MatrixError
from tests.actors.accounts.helpers import register, unique

IP = "10.0.0.9"
NUL = "a\x00b"


async def test_nul_characters_are_refused(accounts) -> None:
    user = await register(accounts)
    user_id = user["user_id"]
    calls = [
        (IP, "register", IP, "user", {"username": unique(), "device_id": NUL,
                                     "auth": {"type": "m.login.dummy"}}),
        (IP, "login", IP, {"type": "m.login.password", "user": NUL, "password": "pw"}),
        (user_id, "set_profile_field", user_id, user_id, "displayname", {"displayname": NUL}),
        (user_id, "set_profile_field", user_id, user_id, "org.example.x",
         {"org.example.x": {NUL: 1}}),
        (user_id, "search_user_directory", user_id, {"search_term": NUL}),
        (user_id, "get_device", user_id, NUL),
        (user_id, "update_device", user_id, user["device_id"], {"display_name": NUL}),
        (user_id, "delete_devices", user_id, {"devices": [NUL]}),
        (user_id, "deactivate", user_id, {"auth": {"type": "m.login.password", "session": NUL}}),
    ]
    for key, method, *args in calls:
        with pytest.raises(MatrixError) as e:
            await accounts.call(key, method, *args)
        assert e.value.status == 400, (method, e.value)
    assert await accounts.call(user_id, "get_profile", user_id) == {}
