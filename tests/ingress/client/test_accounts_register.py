"""Registration through HTTP on the Ray deployment (open registration, dummy auth)."""

from __future__ import annotations

import secrets

import httpx

from tests.clients import auth_headers, register
from tests.e2e_server import SERVER_NAME
from tests.openapi import assert_matches

V3 = "/_matrix/client/v3"


def test_register_with_dummy_auth(server) -> None:
    url = f"{server.client_url}{V3}/register"
    localpart = f"reg{secrets.token_hex(4)}"
    body = {"username": localpart, "password": "pw", "initial_device_display_name": "Test"}
    challenge = httpx.post(url, json=body)
    assert challenge.status_code == 401
    uia = challenge.json()
    assert uia["flows"] == [{"stages": ["m.login.dummy"]}, {"stages": ["m.login.registration_token"]}]
    assert "errcode" not in uia
    assert_matches("registration.yaml", "/register", "post", 401, uia)

    r = httpx.post(url, json={**body, "auth": {"type": "m.login.dummy", "session": uia["session"]}})
    assert r.status_code == 200, r.text
    done = r.json()
    assert_matches("registration.yaml", "/register", "post", 200, done)
    assert done["user_id"] == f"@{localpart}:{SERVER_NAME}"
    who = httpx.get(f"{server.client_url}{V3}/account/whoami",
                    headers={"Authorization": f"Bearer {done['access_token']}"})
    assert who.json() == {"user_id": done["user_id"], "device_id": done["device_id"],
                          "is_guest": False}


def test_register_rejects_taken_and_invalid_usernames(server) -> None:
    url = f"{server.client_url}{V3}/register"
    taken = register(server).user_id[1:].split(":")[0]
    for username, errcode in ((taken, "M_USER_IN_USE"), ("Bad Name", "M_INVALID_USERNAME")):
        r = httpx.post(url, json={"username": username, "password": "pw"})
        assert (r.status_code, r.json()["errcode"]) == (400, errcode)
        assert_matches("registration.yaml", "/register", "post", 400, r.json())
    r = httpx.post(f"{url}?kind=guest", json={})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")
    r = httpx.post(url, content=b"{not json")
    assert (r.status_code, r.json()["errcode"]) == (400, "M_NOT_JSON")


def test_username_availability(server) -> None:
    url = f"{server.client_url}{V3}/register/available"
    free = f"free{secrets.token_hex(4)}"
    r = httpx.get(url, params={"username": free})
    assert r.status_code == 200 and r.json() == {"available": True}
    assert_matches("registration.yaml", "/register/available", "get", 200, r.json())
    taken = register(server).user_id[1:].split(":")[0]
    r = httpx.get(url, params={"username": taken})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_USER_IN_USE")
    r = httpx.get(url, params={"username": "NO!"})
    assert r.json()["errcode"] == "M_INVALID_USERNAME"
    r = httpx.get(url)
    assert (r.status_code, r.json()["errcode"]) == (400, "M_MISSING_PARAM")


def test_registration_token_validity_on_v1(server) -> None:
    r = httpx.get(
        f"{server.client_url}/_matrix/client/v1/register/m.login.registration_token/validity",
        params={"token": "anything"})
    assert r.status_code == 200 and r.json() == {"valid": False}
    assert_matches("registration_tokens.yaml", "/register/m.login.registration_token/validity",
                   "get", 200, r.json())


def test_helper_accounts_work(server) -> None:
    account = register(server)
    r = httpx.get(f"{server.client_url}{V3}/account/3pid", headers=auth_headers(account))
    assert r.status_code == 200 and r.json() == {"threepids": []}
