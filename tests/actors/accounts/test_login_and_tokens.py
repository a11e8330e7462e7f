"""Login, access tokens, refresh tokens and logout through the service."""

from __future__ import annotations

import pytest

from actors.accounts import authentication
from actors.accounts.tokens import mint_token, user_of_token
from protocol.errors import MatrixError
from tests.actors.accounts.helpers import make_config, register, unique
from tests.openapi import assert_matches

IP = "10.0.0.2"


def password_login(user: str, password: str = "pw", **extra: object) -> dict[str, object]:
    return {"type": "m.login.password", "password": password,
            "identifier": {"type": "m.id.user", "user": user}, **extra}


async def whoami(accounts, token: str) -> dict[str, str]:
    owner = user_of_token(token)
    assert owner is not None
    return await accounts.call(owner, "authenticate", token, IP, False)


async def unknown(accounts, token: str) -> MatrixError:
    with pytest.raises(MatrixError) as e:
        await whoami(accounts, token)
    assert (e.value.status, e.value.errcode) == (401, "M_UNKNOWN_TOKEN")
    return e.value


def test_token_format_survives_underscores_in_the_user_part() -> None:
    # base64url of this ID contains "_", which must not end the user part.
    user_id = "@a?~>:test.local"
    token = mint_token(user_id)
    assert "_" in token[3:token.rindex("_")]
    assert user_of_token(token) == user_id
    assert user_of_token("dr_nonsense") is None and user_of_token("other") is None


async def test_login_by_localpart_full_id_and_legacy_user(accounts) -> None:
    localpart = unique()
    user_id = (await register(accounts, localpart, password="secret"))["user_id"]
    for body in (password_login(localpart, "secret"), password_login(user_id, "secret"),
                 password_login(localpart.upper(), "secret"),
                 {"type": "m.login.password", "user": localpart, "password": "secret"}):
        done = await accounts.call(IP, "login", IP, body)
        assert done["user_id"] == user_id
        assert_matches("login.yaml", "/login", "post", 200, done)
        assert await whoami(accounts, done["access_token"]) == {
            "user_id": user_id, "device_id": done["device_id"]}


async def test_login_failures(accounts) -> None:
    localpart = unique()
    await register(accounts, localpart, password="secret")
    cases = [
        (password_login(localpart, "wrong"), 403, "M_FORBIDDEN"),
        (password_login(unique(), "secret"), 403, "M_FORBIDDEN"),
        (password_login(f"@{localpart}:elsewhere.org", "secret"), 403, "M_FORBIDDEN"),
        ({"type": "m.login.password", "password": "secret",
          "identifier": {"type": "m.id.thirdparty", "medium": "email", "address": "a@b.c"}},
         403, "M_FORBIDDEN"),
        ({"type": "m.login.token", "token": "x"}, 400, "M_UNKNOWN"),
        ({"password": "secret", "user": localpart}, 400, "M_MISSING_PARAM"),
        (password_login(localpart, 42), 400, "M_BAD_JSON"),
        ({"type": "m.login.password", "password": "secret"}, 400, "M_BAD_JSON"),
    ]
    for body, status, errcode in cases:
        with pytest.raises(MatrixError) as e:
            await accounts.call(IP, "login", IP, body)
        assert (e.value.status, e.value.errcode) == (status, errcode), body


async def test_reusing_a_device_id_replaces_its_tokens(accounts) -> None:
    localpart = unique()
    first = await register(accounts, localpart)
    again = await accounts.call(IP, "login", IP, password_login(
        localpart, device_id=first["device_id"], initial_device_display_name="ignored"))
    assert again["device_id"] == first["device_id"]
    await unknown(accounts, first["access_token"])
    assert await whoami(accounts, again["access_token"])
    devices = await accounts.call(first["user_id"], "list_devices", first["user_id"])
    assert [d["device_id"] for d in devices["devices"]] == [first["device_id"]]
    assert "display_name" not in devices["devices"][0]


async def test_logout_and_logout_all(accounts) -> None:
    localpart = unique()
    a = await register(accounts, localpart)
    b = await accounts.call(IP, "login", IP, password_login(localpart))
    c = await accounts.call(IP, "login", IP, password_login(localpart))
    user_id = a["user_id"]
    await whoami(accounts, a["access_token"])  # cached now
    assert await accounts.call(user_id, "logout", user_id, a["device_id"]) == {}
    assert (await unknown(accounts, a["access_token"])).extra["soft_logout"] is False
    await whoami(accounts, b["access_token"])
    await accounts.call(user_id, "logout_all", user_id)
    await unknown(accounts, b["access_token"])
    await unknown(accounts, c["access_token"])
    assert (await accounts.call(user_id, "list_devices", user_id))["devices"] == []


async def test_refresh_rotation(accounts) -> None:
    localpart = unique()
    await register(accounts, localpart)
    first = await accounts.call(IP, "login", IP, password_login(localpart, refresh_token=True))
    assert "expires_in_ms" not in first  # no lifetime configured
    second = await accounts.call(IP, "refresh", IP, {"refresh_token": first["refresh_token"]})
    assert_matches("refresh.yaml", "/refresh", "post", 200, second)
    assert second["refresh_token"] != first["refresh_token"]
    await unknown(accounts, first["access_token"])
    # Until the new tokens are used, the old refresh token may be repeated.
    third = await accounts.call(IP, "refresh", IP, {"refresh_token": first["refresh_token"]})
    with pytest.raises(MatrixError):  # superseded by the repeat
        await accounts.call(IP, "refresh", IP, {"refresh_token": second["refresh_token"]})
    await whoami(accounts, third["access_token"])
    with pytest.raises(MatrixError) as e:
        await accounts.call(IP, "refresh", IP, {"refresh_token": first["refresh_token"]})
    assert (e.value.status, e.value.errcode) == (401, "M_UNKNOWN_TOKEN")
    fourth = await accounts.call(IP, "refresh", IP, {"refresh_token": third["refresh_token"]})
    await whoami(accounts, fourth["access_token"])
    for bad in ("dr_bogus_token", "no"):
        with pytest.raises(MatrixError) as e:
            await accounts.call(IP, "refresh", IP, {"refresh_token": bad})
        assert e.value.errcode == "M_UNKNOWN_TOKEN"


async def test_using_a_new_refresh_token_spends_the_old_one(accounts) -> None:
    localpart = unique()
    await register(accounts, localpart)
    first = await accounts.call(IP, "login", IP, password_login(localpart, refresh_token=True))
    second = await accounts.call(IP, "refresh", IP, {"refresh_token": first["refresh_token"]})
    await accounts.call(IP, "refresh", IP, {"refresh_token": second["refresh_token"]})
    with pytest.raises(MatrixError):
        await accounts.call(IP, "refresh", IP, {"refresh_token": first["refresh_token"]})


async def test_expired_tokens_are_soft_logged_out(build, monkeypatch) -> None:
    config = make_config()
    config.access_token_lifetime_ms = 1000
    accounts = await build(config)
    localpart = unique()
    await register(accounts, localpart)
    done = await accounts.call(IP, "login", IP, password_login(localpart, refresh_token=True))
    assert done["expires_in_ms"] == 1000
    # Without refresh support the token does not expire.
    plain = await accounts.call(IP, "login", IP, password_login(localpart))
    assert "expires_in_ms" not in plain
    await whoami(accounts, done["access_token"])
    real_now = authentication.now_ms
    for shard in accounts.router.shards:
        monkeypatch.setattr(shard.authenticator, "_clock", lambda: real_now() + 5000)
    error = await unknown(accounts, done["access_token"])
    assert error.extra["soft_logout"] is True
    await whoami(accounts, plain["access_token"])
    refreshed = await accounts.call(IP, "refresh", IP, {"refresh_token": done["refresh_token"]})
    assert refreshed["expires_in_ms"] == 1000


async def test_last_seen_is_recorded(accounts) -> None:
    done = await register(accounts)
    await accounts.call(done["user_id"], "authenticate", done["access_token"], "192.0.2.7", False)
    device = await accounts.call(done["user_id"], "get_device", done["user_id"], done["device_id"])
    assert device["last_seen_ip"] == "192.0.2.7" and device["last_seen_ts"] > 0
    assert_matches("device_management.yaml", "/devices/{deviceId}", "get", 200, device)

