"""Keys of users on other servers (spec: server-server "End-to-End Encryption").

POST /keys/query and /keys/claim ask each remote server named in the request
once, all at the same time, within the client's `timeout`. A server that
cannot be reached, answers with an error or too late goes into `failures`;
what a server answers is kept only for its own users (and, for a query, the
devices asked for), so no server can speak for another's users.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from federation.client import FederationError, FederationUnreachable
from protocol.errors import bad_json
from protocol.identifiers import InvalidIdentifier, server_name_of

QUERY_PATH = "/_matrix/federation/v1/user/keys/query"
CLAIM_PATH = "/_matrix/federation/v1/user/keys/claim"
DEFAULT_TIMEOUT_MS = 10_000
# The client picks the wait; this server does not hold a request longer.
MAX_TIMEOUT_MS = 60_000

Answer = dict[str, Any]


def timeout_s(body: dict[str, Any]) -> float:
    """The request's `timeout` (ms, spec default 10 s) in seconds, within bounds."""
    value = body.get("timeout", DEFAULT_TIMEOUT_MS)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_json("timeout must be an integer")
    return min(max(value, 0), MAX_TIMEOUT_MS) / 1000


def by_server(users: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Group a `{user ID: …}` request by the users' servers."""
    out: dict[str, dict[str, Any]] = {}
    for user, value in users.items():
        out.setdefault(server_name_of(user), {})[user] = value
    return out


def _failure(e: BaseException) -> dict[str, Any]:
    if isinstance(e, FederationError):
        return {"status": e.status, "errcode": e.errcode, "message": "The server answered with an error"}
    if isinstance(e, TimeoutError):
        return {"status": 504, "message": "The server did not answer in time"}
    return {"status": 503, "message": "The server could not be reached"}


async def fan_out(
    requests: dict[str, Callable[[], Awaitable[Any]]], timeout: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one request per server at once: (answers that are objects, failures)."""

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        return await asyncio.wait_for(call(), timeout)

    servers = list(requests)
    results = await asyncio.gather(
        *(one(requests[s]) for s in servers), return_exceptions=True
    )
    answers: dict[str, Any] = {}
    failures: dict[str, Any] = {}
    for server, result in zip(servers, results, strict=True):
        if isinstance(result, (FederationError, FederationUnreachable, TimeoutError)):
            failures[server] = _failure(result)
        elif isinstance(result, BaseException):
            raise result
        elif not isinstance(result, dict):
            failures[server] = {"status": 502, "message": "The server's answer was not an object"}
        else:
            answers[server] = result
    return answers, failures


def _own_users(server: str, section: Any) -> dict[str, Any]:
    """The entries of a `{user ID: object}` answer section for `server`'s users."""
    if not isinstance(section, dict):
        return {}
    out = {}
    for user, value in section.items():
        try:
            ours = server_name_of(user) == server
        except InvalidIdentifier:
            continue
        if ours and isinstance(value, dict):
            out[user] = value
    return out


async def query(
    client: Any, wanted: dict[str, dict[str, list[str]]], timeout: float
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Ask each server for its users' keys: (response sections, failures).

    `wanted` is server -> {user -> device IDs ([] = all)}.
    """
    answers, failures = await fan_out(
        {
            server: lambda server=server, users=users: client.post_json(
                server, QUERY_PATH, {"device_keys": users}
            )
            for server, users in wanted.items()
        },
        timeout,
    )
    out: dict[str, dict[str, Any]] = {
        "device_keys": {}, "master_keys": {}, "self_signing_keys": {}
    }
    for server, answer in answers.items():
        users = wanted[server]
        for user, devices in _own_users(server, answer.get("device_keys")).items():
            kept = {
                device: keys for device, keys in devices.items()
                if (not users.get(user) or device in users[user]) and isinstance(keys, dict)
                and keys.get("user_id") == user and keys.get("device_id") == device
            }
            if user in users:
                out["device_keys"][user] = kept
        for section in ("master_keys", "self_signing_keys"):
            for user, key in _own_users(server, answer.get(section)).items():
                if user in users and key.get("user_id") == user:
                    out[section][user] = key
    return out, failures


async def claim(
    client: Any, wanted: dict[str, dict[str, dict[str, str]]], timeout: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Claim one-time keys from each server: (`one_time_keys`, failures).

    `wanted` is server -> {user -> {device -> algorithm}}.
    """
    answers, failures = await fan_out(
        {
            server: lambda server=server, users=users: client.post_json(
                server, CLAIM_PATH, {"one_time_keys": users}
            )
            for server, users in wanted.items()
        },
        timeout,
    )
    claimed: dict[str, Any] = {}
    for server, answer in answers.items():
        users = wanted[server]
        for user, devices in _own_users(server, answer.get("one_time_keys")).items():
            kept = {
                device: keys for device, keys in devices.items()
                if device in users.get(user, {}) and isinstance(keys, dict)
            }
            if kept:
                claimed[user] = kept
    return claimed, failures
