"""Registration through the service: UIA flows, username rules, shared-secret registration."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from actors.accounts.uia import AuthRequired
from protocol.errors import MatrixError
from tests.actors.accounts.helpers import SERVER, make_config, register, unique
from tests.openapi import assert_matches

IP = "10.0.0.1"


async def test_dummy_flow_in_two_steps(accounts) -> None:
    localpart = unique()
    body = {"username": localpart, "password": "pw"}
    with pytest.raises(AuthRequired) as challenge:
        await accounts.call(IP, "register", IP, "user", body)
    uia = challenge.value.body()
    assert challenge.value.status == 401
    assert uia["flows"] == [{"stages": ["m.login.dummy"]}] and uia["completed"] == []
    assert "errcode" not in uia
    assert_matches("registration.yaml", "/register", "post", 401, uia)

    auth = {"type": "m.login.dummy", "session": uia["session"]}
    done = await accounts.call(IP, "register", IP, "user", {**body, "auth": auth})
    assert done["user_id"] == f"@{localpart}:{SERVER}"
    assert done["access_token"].startswith("dr_") and done["device_id"]
    assert "refresh_token" not in done
    assert_matches("registration.yaml", "/register", "post", 200, done)
    who = await accounts.call(done["user_id"], "authenticate", done["access_token"], IP, False)
    assert who == {"user_id": done["user_id"], "device_id": done["device_id"]}

    # The session was consumed with the flow.
    with pytest.raises(MatrixError) as again:
        await accounts.call(IP, "register", IP, "user",
                            {"username": unique(), "password": "pw", "auth": auth})
    assert again.value.errcode == "M_INVALID_PARAM"


async def test_username_rules_come_before_uia(accounts) -> None:
    taken = await register(accounts)
    localpart = taken["user_id"][1:].split(":")[0]
    for username, errcode in [(localpart, "M_USER_IN_USE"), ("Upper", "M_INVALID_USERNAME"),
                              ("has space", "M_INVALID_USERNAME"), ("", "M_INVALID_USERNAME"),
                              ("x" * 300, "M_INVALID_USERNAME")]:
        with pytest.raises(MatrixError) as e:
            await accounts.call(IP, "register", IP, "user", {"username": username})
        assert (e.value.status, e.value.errcode) == (400, errcode), username
    with pytest.raises(MatrixError) as e:
        await accounts.call(IP, "register", IP, "user", {"username": 5})
    assert e.value.errcode == "M_BAD_JSON"


async def test_available(accounts) -> None:
    free = unique()
    assert await accounts.call(IP, "username_available", IP, free) == {"available": True}
    await register(accounts, free)
    with pytest.raises(MatrixError) as e:
        await accounts.call(IP, "username_available", IP, free)
    assert e.value.errcode == "M_USER_IN_USE"
    with pytest.raises(MatrixError) as e:
        await accounts.call(IP, "username_available", IP, "Nope!")
    assert e.value.errcode == "M_INVALID_USERNAME"


async def test_generated_id_inhibit_login_and_refresh(accounts) -> None:
    body = {"password": "pw", "auth": {"type": "m.login.dummy"}, "inhibit_login": True}
    done = await accounts.call(IP, "register", IP, "user", body)
    assert set(done) == {"user_id"} and done["user_id"].endswith(f":{SERVER}")
    with_refresh = await accounts.call(IP, "register", IP, "user", {
        "username": unique(), "auth": {"type": "m.login.dummy"}, "refresh_token": True,
        "device_id": "MYDEVICE", "initial_device_display_name": "Phone",
    })
    assert with_refresh["device_id"] == "MYDEVICE" and with_refresh["refresh_token"]
    devices = await accounts.call(with_refresh["user_id"], "list_devices", with_refresh["user_id"])
    assert devices["devices"][0]["display_name"] == "Phone"


async def test_guests_and_closed_registration(build) -> None:
    accounts = await build()
    with pytest.raises(MatrixError) as e:
        await accounts.call(IP, "register", IP, "guest", {})
    assert (e.value.status, e.value.errcode) == (403, "M_GUEST_ACCESS_FORBIDDEN")
    with pytest.raises(MatrixError) as e:
        await accounts.call(IP, "register", IP, "robot", {})
    assert e.value.errcode == "M_INVALID_PARAM"

    closed = await build(make_config(enabled=False))
    with pytest.raises(MatrixError) as e:
        await closed.call(IP, "register", IP, "user", {"username": unique()})
    assert (e.value.status, e.value.errcode) == (403, "M_FORBIDDEN")
    with pytest.raises(MatrixError) as e:
        await closed.call(IP, "registration_token_validity", IP, "abc")
    assert e.value.status == 403


async def test_registration_token_flow(build) -> None:
    accounts = await build(make_config(open=False, tokens=["letmein"]))
    assert await accounts.call(IP, "registration_token_validity", IP, "letmein") == {"valid": True}
    assert await accounts.call(IP, "registration_token_validity", IP, "nope") == {"valid": False}
    body = {"username": unique(), "password": "pw"}
    with pytest.raises(AuthRequired) as challenge:
        await accounts.call(IP, "register", IP, "user", body)
    session = challenge.value.body()["session"]
    assert challenge.value.body()["flows"] == [{"stages": ["m.login.registration_token"]}]

    wrong = {"type": "m.login.registration_token", "token": "nope", "session": session}
    with pytest.raises(AuthRequired) as failed:
        await accounts.call(IP, "register", IP, "user", {**body, "auth": wrong})
    assert failed.value.body()["errcode"] == "M_FORBIDDEN"
    assert failed.value.body()["completed"] == []

    dummy = {"type": "m.login.dummy", "session": session}
    with pytest.raises(AuthRequired) as unoffered:
        await accounts.call(IP, "register", IP, "user", {**body, "auth": dummy})
    assert unoffered.value.body()["errcode"] == "M_UNRECOGNIZED"

    right = {**wrong, "token": "letmein"}
    done = await accounts.call(IP, "register", IP, "user", {**body, "auth": right})
    assert done["user_id"] == f"@{body['username']}:{SERVER}"


async def test_uia_session_is_bound_to_its_operation(accounts) -> None:
    user = await register(accounts)
    with pytest.raises(AuthRequired) as challenge:
        await accounts.call(user["user_id"], "deactivate", user["user_id"], {})
    session = challenge.value.body()["session"]
    with pytest.raises(MatrixError) as e:
        await accounts.call(IP, "register", IP, "user", {
            "username": unique(), "auth": {"type": "m.login.dummy", "session": session}})
    assert e.value.errcode == "M_INVALID_PARAM"


def _mac(secret: str, nonce: str, user: str, password: str, admin: bool) -> str:
    message = "\0".join([nonce, user, password, "admin" if admin else "notadmin"]).encode()
    return hmac.new(secret.encode(), message, hashlib.sha1).hexdigest()


async def test_shared_secret_registration(build) -> None:
    accounts = await build(make_config(shared_secret="s3cret"))
    nonce = (await accounts.call(IP, "shared_secret_nonce", IP))["nonce"]
    username = unique()
    body = {"nonce": nonce, "username": username, "password": "pw", "admin": True,
            "displayname": "Root", "mac": _mac("s3cret", nonce, username, "pw", True)}
    done = await accounts.call(IP, "shared_secret_register", IP, body)
    assert done["user_id"] == f"@{username}:{SERVER}" and done["access_token"]
    assert done["home_server"] == SERVER
    profile = await accounts.call(done["user_id"], "get_profile", done["user_id"])
    assert profile == {"displayname": "Root"}
    admin = await accounts.router.shards[0].pool.fetchval(
        "SELECT is_admin FROM users WHERE user_id = $1", done["user_id"])
    assert admin is True

    # The nonce was single-use.
    with pytest.raises(MatrixError) as e:
        await accounts.call(IP, "shared_secret_register", IP, {**body, "username": unique()})
    assert e.value.errcode == "M_INVALID_PARAM"

    nonce = (await accounts.call(IP, "shared_secret_nonce", IP))["nonce"]
    other = unique()
    bad = {"nonce": nonce, "username": other, "password": "pw",
           "mac": _mac("wrong", nonce, other, "pw", False)}
    with pytest.raises(MatrixError) as e:
        await accounts.call(IP, "shared_secret_register", IP, bad)
    assert (e.value.status, e.value.errcode) == (403, "M_FORBIDDEN")


async def test_shared_secret_disabled(accounts) -> None:
    with pytest.raises(MatrixError) as e:
        await accounts.call(IP, "shared_secret_nonce", IP)
    assert e.value.status == 403
