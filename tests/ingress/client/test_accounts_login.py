"""Login, whoami, logout and refresh through HTTP on the Ray deployment."""

from __future__ import annotations

import secrets

import httpx

from tests.clients import Account, auth_headers, register
from tests.openapi import assert_matches

V3 = "/_matrix/client/v3"


def login(server, body: dict) -> httpx.Response:
    return httpx.post(f"{server.client_url}{V3}/login",
                      json={"type": "m.login.password", **body})


def whoami(server, token: str) -> httpx.Response:
    return httpx.get(f"{server.client_url}{V3}/account/whoami",
                     headers={"Authorization": f"Bearer {token}"})


def test_login_flows(server) -> None:
    r = httpx.get(f"{server.client_url}{V3}/login")
    assert r.json() == {"flows": [{"type": "m.login.password"}]}
    assert_matches("login.yaml", "/login", "get", 200, r.json())


def test_login_by_localpart_full_id_and_legacy_user(server) -> None:
    localpart = f"log{secrets.token_hex(4)}"
    account = register(server, localpart, password="secret")
    for body in ({"identifier": {"type": "m.id.user", "user": localpart}},
                 {"identifier": {"type": "m.id.user", "user": account.user_id}},
                 {"user": localpart}):
        r = login(server, {**body, "password": "secret"})
        assert r.status_code == 200, r.text
        assert_matches("login.yaml", "/login", "post", 200, r.json())
        assert r.json()["user_id"] == account.user_id
        who = whoami(server, r.json()["access_token"])
        assert who.status_code == 200
        assert_matches("whoami.yaml", "/account/whoami", "get", 200, who.json())
        assert who.json()["device_id"] == r.json()["device_id"]


def test_wrong_password(server) -> None:
    account = register(server, password="secret")
    r = login(server, {"identifier": {"type": "m.id.user", "user": account.user_id},
                       "password": "wrong"})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    assert_matches("login.yaml", "/login", "post", 403, r.json())
    r = login(server, {"identifier": {"type": "m.id.user", "user": account.user_id}})
    assert r.status_code == 400


def test_logout_invalidates_the_token_at_once(server) -> None:
    account = register(server)
    assert whoami(server, account.access_token).status_code == 200  # now cached
    r = httpx.post(f"{server.client_url}{V3}/logout", headers=auth_headers(account))
    assert r.status_code == 200 and r.json() == {}
    r = whoami(server, account.access_token)
    assert (r.status_code, r.json()["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    assert r.json()["soft_logout"] is False


def test_logout_all(server) -> None:
    localpart = f"all{secrets.token_hex(4)}"
    first = register(server, localpart)
    second = login(server, {"user": localpart, "password": "pw"}).json()
    r = httpx.post(f"{server.client_url}{V3}/logout/all", headers=auth_headers(first))
    assert r.status_code == 200
    for token in (first.access_token, second["access_token"]):
        assert whoami(server, token).json()["errcode"] == "M_UNKNOWN_TOKEN"


def test_refresh_rotation(server) -> None:
    localpart = f"ref{secrets.token_hex(4)}"
    register(server, localpart)
    first = login(server, {"user": localpart, "password": "pw", "refresh_token": True}).json()
    url = f"{server.client_url}{V3}/refresh"
    r = httpx.post(url, json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert_matches("refresh.yaml", "/refresh", "post", 200, second)
    assert whoami(server, first["access_token"]).status_code == 401
    assert whoami(server, second["access_token"]).status_code == 200
    # The new access token was used: the old refresh token is spent.
    r = httpx.post(url, json={"refresh_token": first["refresh_token"]})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    assert_matches("refresh.yaml", "/refresh", "post", 401, r.json())
    assert httpx.post(url, json={"refresh_token": second["refresh_token"]}).status_code == 200


def test_tokens_need_the_right_shape(server) -> None:
    account: Account = register(server)
    forged = account.access_token[:-1] + ("A" if account.access_token[-1] != "A" else "B")
    assert whoami(server, forged).json()["errcode"] == "M_UNKNOWN_TOKEN"
    r = httpx.get(f"{server.client_url}{V3}/account/whoami",
                  params={"access_token": account.access_token})
    assert r.status_code == 200
