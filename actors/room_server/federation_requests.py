"""The room reads this server asks of other servers while receiving events:
`/event`, `/event_auth`, `/get_missing_events`, `/state_ids` and `/backfill`.

Requests go through an injected client (`federation.client.FederationClient`
in the actor, a fake server in tests). Whatever goes wrong with an answer
(unreachable, an error answer, a malformed body) means the same thing to the
caller: we do without that data, so every helper returns an empty result.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from federation.event_signatures import FetchKeys

log = logging.getLogger(__name__)

V1 = "/_matrix/federation/v1"


class FederationRequests(Protocol):
    """The part of `federation.client.FederationClient` used here."""

    async def get_json(
        self, destination: str, path: str, query: dict[str, Any] | None = None
    ) -> Any: ...

    async def post_json(self, destination: str, path: str, body: Any) -> Any: ...


@dataclass
class InboundEffects:
    """What receiving PDUs needs from outside: remote requests and server keys."""

    client: FederationRequests
    fetch_keys: FetchKeys


def default_inbound_effects(ctx: Any) -> InboundEffects:
    """The real effects: a signing federation client and the server-keys component."""
    # Imported here: only an actor that federates needs the client and key actors.
    from actors.server_keys.api import verify_keys
    from federation.client import FederationClient

    async def fetch_keys(server: str, key_ids: list[str], minimum_valid_until_ts: int) -> Any:
        return await verify_keys(ctx.router, server, key_ids, minimum_valid_until_ts)

    return InboundEffects(FederationClient(ctx.config), fetch_keys)


def _q(identifier: str) -> str:
    return quote(identifier, safe="")


async def _ask(call: Callable[[], Awaitable[Any]], what: str) -> dict[str, Any]:
    try:
        answer = await call()
    except Exception as e:  # noqa: BLE001 - see the module docstring
        log.info("federation request failed (%s): %s", what, e)
        return {}
    return answer if isinstance(answer, dict) else {}


def _pdu_list(answer: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = answer.get(key)
    return [p for p in items if isinstance(p, dict)] if isinstance(items, list) else []


def _id_list(answer: dict[str, Any], key: str) -> list[str]:
    items = answer.get(key)
    return [i for i in items if isinstance(i, str)] if isinstance(items, list) else []


async def get_event(client: FederationRequests, dest: str, event_id: str) -> dict[str, Any] | None:
    answer = await _ask(lambda: client.get_json(dest, f"{V1}/event/{_q(event_id)}"), "event")
    pdus = _pdu_list(answer, "pdus")
    return pdus[0] if len(pdus) == 1 else None


async def event_auth(
    client: FederationRequests, dest: str, room_id: str, event_id: str
) -> list[dict[str, Any]]:
    path = f"{V1}/event_auth/{_q(room_id)}/{_q(event_id)}"
    return _pdu_list(await _ask(lambda: client.get_json(dest, path), "event_auth"), "auth_chain")


async def get_missing_events(
    client: FederationRequests, dest: str, room_id: str, *,
    earliest: list[str], latest: list[str], limit: int, min_depth: int,
) -> list[dict[str, Any]]:
    body = {"earliest_events": earliest, "latest_events": latest,
            "limit": limit, "min_depth": min_depth}
    path = f"{V1}/get_missing_events/{_q(room_id)}"
    answer = await _ask(lambda: client.post_json(dest, path, body), "get_missing_events")
    return _pdu_list(answer, "events")


async def state_ids(
    client: FederationRequests, dest: str, room_id: str, event_id: str
) -> tuple[list[str], list[str]] | None:
    """(state event IDs, auth chain IDs) at `event_id`, or None without an answer."""
    path = f"{V1}/state_ids/{_q(room_id)}"
    answer = await _ask(lambda: client.get_json(dest, path, {"event_id": event_id}), "state_ids")
    if "pdu_ids" not in answer:
        return None
    return _id_list(answer, "pdu_ids"), _id_list(answer, "auth_chain_ids")


async def backfill(
    client: FederationRequests, dest: str, room_id: str, from_ids: list[str], limit: int
) -> list[dict[str, Any]]:
    path = f"{V1}/backfill/{_q(room_id)}"
    query = {"v": from_ids, "limit": str(limit)}
    return _pdu_list(await _ask(lambda: client.get_json(dest, path, query), "backfill"), "pdus")
