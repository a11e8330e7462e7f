"""The one asynchronous Matrix client both servers are driven with (httpx, HTTP/1.1)."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

_txn = itertools.count()


class RequestFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Account:
    localpart: str
    password: str
    user_id: str
    access_token: str


class MatrixClient:
    def __init__(self, base_url: str, max_connections: int = 2048) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url, timeout=httpx.Timeout(180.0),
            limits=httpx.Limits(max_connections=max_connections,
                                max_keepalive_connections=max_connections))

    async def close(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, token: str | None = None,
                    expect: tuple[int, ...] = (200,), **kw: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        r = await self.http.request(method, f"/_matrix/client/v3{path}", headers=headers, **kw)
        if r.status_code not in expect:
            raise RequestFailed(f"{method} {path}: {r.status_code} {r.text[:200]}")
        return r.json()

    async def register(self, localpart: str, password: str) -> Account:
        body = {"username": localpart, "password": password,
                "initial_device_display_name": "bench", "inhibit_login": False}
        challenge = await self._call("POST", "/register", json=body, expect=(401,))
        data = await self._call("POST", "/register", json={
            **body, "auth": {"type": "m.login.dummy", "session": challenge["session"]}})
        return Account(localpart, password, data["user_id"], data["access_token"])

    async def login(self, localpart: str, password: str) -> str:
        data = await self._call("POST", "/login", json={
            "type": "m.login.password", "password": password,
            "identifier": {"type": "m.id.user", "user": localpart}})
        return data["access_token"]

    async def create_room(self, account: Account, name: str) -> str:
        data = await self._call("POST", "/createRoom", account.access_token,
                                json={"preset": "public_chat", "name": name})
        return data["room_id"]

    async def join(self, account: Account, room_id: str) -> None:
        await self._call("POST", f"/join/{room_id}", account.access_token, json={})

    async def send(self, account: Account, room_id: str, body: str) -> str:
        txn = f"b{time.monotonic_ns()}-{next(_txn)}"
        data = await self._call(
            "PUT", f"/rooms/{room_id}/send/m.room.message/{txn}", account.access_token,
            json={"msgtype": "m.text", "body": body})
        return data["event_id"]

    async def sync(self, account: Account, since: str | None = None, timeout_ms: int = 0,
                   filter_json: dict[str, Any] | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"timeout": timeout_ms}
        if since is not None:
            params["since"] = since
        if filter_json is not None:
            params["filter"] = json.dumps(filter_json, separators=(",", ":"))
        return await self._call("GET", "/sync", account.access_token, params=params)


def timeline_bodies(sync_response: dict[str, Any]) -> list[str]:
    """The bodies of the message events in a /sync response's joined timelines."""
    bodies = []
    for room in sync_response.get("rooms", {}).get("join", {}).values():
        for event in room.get("timeline", {}).get("events", []):
            body = event.get("content", {}).get("body")
            if event.get("type") == "m.room.message" and isinstance(body, str):
                bodies.append(body)
    return bodies
