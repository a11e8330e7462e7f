"""The Synapse-compatible shared-secret registration API, through HTTP."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import httpx

from tests.e2e_server import SERVER_NAME

URL = "/_synapse/admin/v1/register"


def mac(secret: str, nonce: str, user: str, password: str, admin: bool) -> str:
    message = b"\x00".join([nonce.encode(), user.encode(), password.encode(),
                            b"admin" if admin else b"notadmin"])
    return hmac.new(secret.encode(), message, hashlib.sha1).hexdigest()


def test_shared_secret_registration(server) -> None:
    secret = server.config.registration.shared_secret
    assert secret
    nonce = httpx.get(f"{server.client_url}{URL}").json()["nonce"]
    username = f"adm{secrets.token_hex(4)}"
    r = httpx.post(f"{server.client_url}{URL}", json={
        "nonce": nonce, "username": username, "password": "pw", "admin": True,
        "mac": mac(secret, nonce, username, "pw", True)})
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == f"@{username}:{SERVER_NAME}"
    who = httpx.get(f"{server.client_url}/_matrix/client/v3/account/whoami",
                    headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert who.json()["user_id"] == f"@{username}:{SERVER_NAME}"


def test_wrong_mac_is_refused_and_spends_the_nonce(server) -> None:
    nonce = httpx.get(f"{server.client_url}{URL}").json()["nonce"]
    username = f"adm{secrets.token_hex(4)}"
    body = {"nonce": nonce, "username": username, "password": "pw",
            "mac": mac("not the secret", nonce, username, "pw", False)}
    r = httpx.post(f"{server.client_url}{URL}", json=body)
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    secret = server.config.registration.shared_secret
    r = httpx.post(f"{server.client_url}{URL}",
                   json={**body, "mac": mac(secret, nonce, username, "pw", False)})
    assert r.status_code == 400
