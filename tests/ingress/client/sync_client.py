"""A small Matrix client for the end-to-end tests of the read APIs (sync, messages, ...).

Every response it reads is checked against the spec's OpenAPI schema.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.clients import Account, auth_headers, register
from tests.openapi import assert_matches

V3 = "/_matrix/client/v3"


def fresh_account(server: Any, name: str = "u") -> Account:
    return register(server, f"{name}{secrets.token_hex(4)}")


def second_device(server: Any, account: Account, password: str = "pw") -> Account:
    """Log in again as `account`'s user: a new device with its own token."""
    r = httpx.post(f"{server.client_url}{V3}/login", json={
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": account.user_id},
        "password": password,
    }, timeout=30)
    assert r.status_code == 200, r.text
    data = r.json()
    return Account(data["user_id"], data["access_token"], data["device_id"])


class Client:
    def __init__(self, server: Any, account: Account) -> None:
        self.server = server
        self.account = account
        self.user_id = account.user_id
        self.http = httpx.Client(
            base_url=server.client_url + V3, headers=auth_headers(account), timeout=90
        )
        self._txn = 0

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params={k: v for k, v in params.items() if v is not None})

    def ok(self, r: httpx.Response) -> Any:
        assert r.status_code == 200, f"{r.status_code} {r.text}"
        return r.json()

    # --- writes (the room server's endpoints) ---------------------------------------

    def create_room(self, **body: Any) -> str:
        return self.ok(self.http.post("/createRoom", json=body))["room_id"]

    def send(self, room_id: str, body: str, *, txn: str | None = None) -> str:
        self._txn += 1
        txn = txn or f"t{self._txn}{secrets.token_hex(3)}"
        r = self.http.put(f"/rooms/{room_id}/send/m.room.message/{txn}",
                          json={"msgtype": "m.text", "body": body})
        return self.ok(r)["event_id"]

    def set_state(self, room_id: str, event_type: str, content: dict[str, Any], key: str = "") -> str:
        return self.ok(self.http.put(f"/rooms/{room_id}/state/{event_type}/{key}", json=content))[
            "event_id"]

    def join(self, room_id: str) -> None:
        self.ok(self.http.post(f"/join/{room_id}", json={}))

    def leave(self, room_id: str) -> None:
        self.ok(self.http.post(f"/rooms/{room_id}/leave", json={}))

    def invite(self, room_id: str, user_id: str) -> None:
        self.ok(self.http.post(f"/rooms/{room_id}/invite", json={"user_id": user_id}))

    # --- reads (checked against the spec) --------------------------------------------

    def sync(self, **params: Any) -> dict[str, Any]:
        body = self.ok(self.get("/sync", **params))
        assert_matches("sync.yaml", "/sync", "get", 200, body)
        return body

    def messages(self, room_id: str, **params: Any) -> dict[str, Any]:
        if "from_" in params:
            params["from"] = params.pop("from_")
        body = self.ok(self.get(f"/rooms/{room_id}/messages", **params))
        assert_matches("message_pagination.yaml", "/rooms/{roomId}/messages", "get", 200, body)
        return body


def bodies(events: list[dict[str, Any]]) -> list[str]:
    return [e["content"]["body"] for e in events if e["type"] == "m.room.message"]


def timeline(response: dict[str, Any], room_id: str, section: str = "join") -> dict[str, Any]:
    return response["rooms"][section][room_id]["timeline"]
