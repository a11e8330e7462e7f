"""Tiny client helpers for end-to-end tests: make a user, authenticate as them.

    from tests.clients import auth_headers, register
    alice = register(server)                 # a fresh user with a server-chosen ID
    httpx.get(url, headers=auth_headers(alice))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Account:
    user_id: str
    access_token: str
    device_id: str


def register(server: Any, localpart: str | None = None, password: str = "pw") -> Account:
    """Register through the two-step m.login.dummy flow of the `server` fixture."""
    url = f"{server.client_url}/_matrix/client/v3/register"
    body: dict[str, Any] = {"password": password}
    if localpart is not None:
        body["username"] = localpart
    challenge = httpx.post(url, json=body, timeout=30)
    assert challenge.status_code == 401, challenge.text
    session = challenge.json()["session"]
    r = httpx.post(
        url, json={**body, "auth": {"type": "m.login.dummy", "session": session}}, timeout=30
    )
    assert r.status_code == 200, r.text
    data = r.json()
    return Account(data["user_id"], data["access_token"], data["device_id"])


def auth_headers(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.access_token}"}
