"""Devices, password changes and deactivation: the UIA-protected account operations."""

from __future__ import annotations

import pytest

from actors.accounts.tokens import user_of_token
from actors.accounts.uia import AuthRequired
from protocol.errors import MatrixError
from tests.actors.accounts.helpers import password_auth, register, unique
from tests.openapi import assert_matches

IP = "10.0.0.3"


async def login(accounts, localpart: str, password: str = "pw") -> dict[str, str]:
    return await accounts.call(IP, "login", IP, {
        "type": "m.login.password", "password": password,
        "identifier": {"type": "m.id.user", "user": localpart}})


async def is_valid(accounts, token: str) -> bool:
    try:
        await accounts.call(user_of_token(token), "authenticate", token, IP, False)
    except MatrixError as e:
        assert e.errcode == "M_UNKNOWN_TOKEN"
        return False
    return True


async def test_device_list_update_and_delete(accounts) -> None:
    localpart = unique()
    a = await register(accounts, localpart)
    b = await login(accounts, localpart)
    user_id = a["user_id"]
    listed = await accounts.call(user_id, "list_devices", user_id)
    assert_matches("device_management.yaml", "/devices", "get", 200, listed)
    assert {d["device_id"] for d in listed["devices"]} == {a["device_id"], b["device_id"]}

    assert await accounts.call(user_id, "update_device", user_id, b["device_id"],
                               {"display_name": "Laptop"}) == {}
    device = await accounts.call(user_id, "get_device", user_id, b["device_id"])
    assert device["display_name"] == "Laptop"
    await accounts.call(user_id, "update_device", user_id, b["device_id"], {})
    assert (await accounts.call(user_id, "get_device", user_id, b["device_id"]))[
        "display_name"] == "Laptop"
    for method, args in (("get_device", ()), ("update_device", ({"display_name": "x"},))):
        with pytest.raises(MatrixError) as e:
            await accounts.call(user_id, method, user_id, "NOSUCHDEVICE", *args)
        assert (e.value.status, e.value.errcode) == (404, "M_NOT_FOUND")
    with pytest.raises(MatrixError) as e:
        await accounts.call(user_id, "update_device", user_id, b["device_id"], {"display_name": 1})
    assert e.value.errcode == "M_BAD_JSON"

    # Deleting needs the password.
    with pytest.raises(AuthRequired) as challenge:
        await accounts.call(user_id, "delete_device", user_id, b["device_id"], {})
    body = challenge.value.body()
    assert body["flows"] == [{"stages": ["m.login.password"]}]
    assert_matches("device_management.yaml", "/devices/{deviceId}", "delete", 401, body)
    with pytest.raises(AuthRequired) as failed:
        await accounts.call(user_id, "delete_device", user_id, b["device_id"],
                            {"auth": password_auth(user_id, "wrong", body["session"])})
    assert failed.value.body()["errcode"] == "M_FORBIDDEN"
    assert await is_valid(accounts, b["access_token"])
    # A session started for one device cannot delete another.
    with pytest.raises(MatrixError) as e:
        await accounts.call(user_id, "delete_device", user_id, a["device_id"],
                            {"auth": password_auth(user_id, "pw", body["session"])})
    assert e.value.errcode == "M_INVALID_PARAM"
    assert await accounts.call(user_id, "delete_device", user_id, b["device_id"],
                               {"auth": password_auth(user_id, "pw", body["session"])}) == {}
    assert not await is_valid(accounts, b["access_token"])
    assert await is_valid(accounts, a["access_token"])


async def test_bulk_delete_and_someone_elses_identifier(accounts) -> None:
    localpart = unique()
    a = await register(accounts, localpart)
    b = await login(accounts, localpart)
    c = await login(accounts, localpart)
    other = await register(accounts)
    user_id = a["user_id"]
    request = {"devices": [b["device_id"], c["device_id"]]}
    with pytest.raises(AuthRequired) as failed:
        await accounts.call(user_id, "delete_devices", user_id,
                            {**request, "auth": password_auth(other["user_id"])})
    assert failed.value.body()["errcode"] == "M_FORBIDDEN"
    session = failed.value.body()["session"]
    await accounts.call(user_id, "delete_devices", user_id,
                        {**request, "auth": password_auth(localpart, session=session)})
    assert not await is_valid(accounts, b["access_token"])
    assert not await is_valid(accounts, c["access_token"])
    assert await is_valid(accounts, a["access_token"])
    for bad, errcode in (({}, "M_MISSING_PARAM"), ({"devices": [1]}, "M_BAD_JSON")):
        with pytest.raises(MatrixError) as e:
            await accounts.call(user_id, "delete_devices", user_id, bad)
        assert e.value.errcode == errcode


async def test_password_change_logs_out_other_devices(accounts) -> None:
    localpart = unique()
    a = await register(accounts, localpart, password="old")
    b = await login(accounts, localpart, "old")
    user_id = a["user_id"]
    body = {"new_password": "new", "auth": password_auth(user_id, "old")}
    assert await accounts.call(user_id, "change_password", user_id, a["device_id"], body) == {}
    assert await is_valid(accounts, a["access_token"])
    assert not await is_valid(accounts, b["access_token"])
    with pytest.raises(MatrixError):
        await login(accounts, localpart, "old")
    c = await login(accounts, localpart, "new")

    keep = {"new_password": "newer", "logout_devices": False,
            "auth": password_auth(user_id, "new")}
    await accounts.call(user_id, "change_password", user_id, a["device_id"], keep)
    assert await is_valid(accounts, c["access_token"])
    with pytest.raises(MatrixError) as e:
        await accounts.call(user_id, "change_password", user_id, a["device_id"], {})
    assert e.value.errcode == "M_MISSING_PARAM"


async def test_deactivation(accounts) -> None:
    localpart = unique()
    a = await register(accounts, localpart)
    user_id = a["user_id"]
    await accounts.call(user_id, "set_profile_field", user_id, user_id, "displayname",
                        {"displayname": "Gone Soon"})
    pool = accounts.router.shards[0].pool
    joined, invited, left = (f"!{unique('r')}:test.local" for _ in range(3))
    for room_id, membership in ((joined, "join"), (invited, "invite"), (left, "leave")):
        await pool.execute(
            "INSERT INTO current_state (room_id, type, state_key, event_id, membership)"
            " VALUES ($1, 'm.room.member', $2, $3, $4)",
            room_id, user_id, f"$ev{unique()}", membership)
    with pytest.raises(AuthRequired):
        await accounts.call(user_id, "deactivate", user_id, {})
    done = await accounts.call(user_id, "deactivate", user_id, {"auth": password_auth(user_id)})
    assert done == {"id_server_unbind_result": "success"}
    assert_matches("account_deactivation.yaml", "/account/deactivate", "post", 200, done)
    assert not await is_valid(accounts, a["access_token"])
    with pytest.raises(MatrixError) as e:
        await login(accounts, localpart)
    assert (e.value.status, e.value.errcode) == (403, "M_FORBIDDEN")
    leaves = [call for call in accounts.router.room_calls if call[1] == "update_membership"]
    assert sorted(leaves) == sorted(
        ("room_server", "update_membership", room_id, user_id, user_id, "leave", None)
        for room_id in (joined, invited))
    with pytest.raises(MatrixError) as e:
        await accounts.call(user_id, "get_profile", user_id)
    assert e.value.status == 404
    with pytest.raises(MatrixError) as e:
        await accounts.call(IP, "register", IP, "user", {"username": localpart})
    assert e.value.errcode == "M_USER_IN_USE"
