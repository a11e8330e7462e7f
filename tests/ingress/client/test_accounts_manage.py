"""Password changes, devices, profiles, 3PIDs and deactivation through HTTP."""

from __future__ import annotations

import httpx

from tests.clients import Account, auth_headers, register
from tests.e2e_server import SERVER_NAME
from tests.openapi import assert_matches

V3 = "/_matrix/client/v3"


def password_auth(account: Account, password: str = "pw", session: str | None = None) -> dict:
    auth = {"type": "m.login.password", "password": password,
            "identifier": {"type": "m.id.user", "user": account.user_id}}
    return {**auth, "session": session} if session else auth


def login(server, account: Account, password: str = "pw") -> httpx.Response:
    return httpx.post(f"{server.client_url}{V3}/login", json={
        "type": "m.login.password", "user": account.user_id, "password": password})


def token_works(server, token: str) -> bool:
    r = httpx.get(f"{server.client_url}{V3}/account/whoami",
                  headers={"Authorization": f"Bearer {token}"})
    return r.status_code == 200


def test_password_change_logs_out_other_devices(server) -> None:
    account = register(server)
    other = login(server, account).json()
    url = f"{server.client_url}{V3}/account/password"
    r = httpx.post(url, json={"new_password": "new"}, headers=auth_headers(account))
    assert r.status_code == 401
    assert_matches("password_management.yaml", "/account/password", "post", 401, r.json())
    session = r.json()["session"]
    r = httpx.post(url, headers=auth_headers(account), json={
        "new_password": "new", "auth": password_auth(account, session=session)})
    assert r.status_code == 200 and r.json() == {}
    assert token_works(server, account.access_token)
    assert not token_works(server, other["access_token"])
    assert login(server, account, "pw").status_code == 403
    assert login(server, account, "new").status_code == 200


def test_devices_list_update_and_delete(server) -> None:
    account = register(server)
    other = login(server, account).json()
    headers = auth_headers(account)
    r = httpx.get(f"{server.client_url}{V3}/devices", headers=headers)
    assert_matches("device_management.yaml", "/devices", "get", 200, r.json())
    assert {d["device_id"] for d in r.json()["devices"]} == {account.device_id,
                                                             other["device_id"]}
    device_url = f"{server.client_url}{V3}/devices/{other['device_id']}"
    r = httpx.put(device_url, headers=headers, json={"display_name": "Old phone"})
    assert r.status_code == 200
    r = httpx.get(device_url, headers=headers)
    assert r.json()["display_name"] == "Old phone"
    assert_matches("device_management.yaml", "/devices/{deviceId}", "get", 200, r.json())
    r = httpx.get(f"{server.client_url}{V3}/devices/NOPE", headers=headers)
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")

    r = httpx.delete(device_url, headers=headers)
    assert r.status_code == 401
    session = r.json()["session"]
    r = httpx.request("DELETE", device_url, headers=headers,
                      json={"auth": password_auth(account, "wrong", session)})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_FORBIDDEN")
    assert token_works(server, other["access_token"])
    r = httpx.request("DELETE", device_url, headers=headers,
                      json={"auth": password_auth(account, session=session)})
    assert r.status_code == 200
    assert not token_works(server, other["access_token"])

    third = login(server, account).json()
    bulk = f"{server.client_url}{V3}/delete_devices"
    r = httpx.post(bulk, headers=headers, json={"devices": [third["device_id"]]})
    assert r.status_code == 401
    r = httpx.post(bulk, headers=headers, json={
        "devices": [third["device_id"]], "auth": password_auth(account, session=r.json()["session"])})
    assert r.status_code == 200
    assert not token_works(server, third["access_token"])
    assert token_works(server, account.access_token)


def test_profile_get_set_and_forbidden(server) -> None:
    alice, bob = register(server), register(server)
    base = f"{server.client_url}{V3}/profile/{alice.user_id}"
    r = httpx.put(f"{base}/displayname", headers=auth_headers(alice),
                  json={"displayname": "Alice"})
    assert r.status_code == 200, r.text
    r = httpx.put(f"{base}/org.example.role", headers=auth_headers(alice),
                  json={"org.example.role": {"title": "tester"}})
    assert r.status_code == 200
    r = httpx.get(base)
    assert r.json() == {"displayname": "Alice", "org.example.role": {"title": "tester"}}
    assert_matches("profile.yaml", "/profile/{userId}", "get", 200, r.json())
    assert httpx.get(f"{base}/displayname").json() == {"displayname": "Alice"}
    r = httpx.get(f"{base}/avatar_url")
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")

    r = httpx.put(f"{base}/displayname", headers=auth_headers(bob), json={"displayname": "Bob"})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    assert_matches("profile.yaml", "/profile/{userId}/{keyName}", "put", 403, r.json())
    r = httpx.put(f"{base}/displayname", json={"displayname": "Anon"})
    assert r.json()["errcode"] == "M_MISSING_TOKEN"
    r = httpx.put(f"{base}/NotAKey", headers=auth_headers(alice), json={"NotAKey": 1})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_INVALID_PARAM")
    r = httpx.delete(f"{base}/org.example.role", headers=auth_headers(alice))
    assert r.status_code == 200
    assert httpx.get(base).json() == {"displayname": "Alice"}
    r = httpx.get(f"{server.client_url}{V3}/profile/@nobody:{SERVER_NAME}")
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")


def test_deactivate_then_login_fails(server) -> None:
    account = register(server)
    url = f"{server.client_url}{V3}/account/deactivate"
    r = httpx.post(url, json={}, headers=auth_headers(account))
    assert r.status_code == 401
    assert_matches("account_deactivation.yaml", "/account/deactivate", "post", 401, r.json())
    r = httpx.post(url, headers=auth_headers(account),
                   json={"auth": password_auth(account, session=r.json()["session"])})
    assert r.status_code == 200 and r.json() == {"id_server_unbind_result": "success"}
    assert not token_works(server, account.access_token)
    r = login(server, account)
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
