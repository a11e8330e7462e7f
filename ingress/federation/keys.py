"""`/_matrix/key/v2`: our keys, and the notary for other servers' keys (server-server "Retrieving server keys").

Unauthenticated by design: key answers carry their own signatures.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from actors.context import now_ms
from actors.server_keys.api import notary_query, own_keys
from ingress.body import json_body
from ingress.services import Services, get_services
from protocol.errors import bad_json
from protocol.identifiers import is_valid_key_id, is_valid_server_name

router = APIRouter()


@router.get("/_matrix/key/v2/server")
async def server_keys(services: Services = Depends(get_services)) -> dict[str, Any]:
    return await own_keys(services.router, services.config.server_name)


# Deprecated form with a key ID; the answer is the same (all current keys).
@router.get("/_matrix/key/v2/server/{key_id}")
async def server_keys_by_id(
    key_id: str, services: Services = Depends(get_services)
) -> dict[str, Any]:
    return await own_keys(services.router, services.config.server_name)


@router.get("/_matrix/key/v2/query/{server_name}")
async def query_one(
    server_name: str,
    minimum_valid_until_ts: int | None = Query(None),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    if not is_valid_server_name(server_name):
        return {"server_keys": []}
    minimum = minimum_valid_until_ts if minimum_valid_until_ts is not None else now_ms()
    return {"server_keys": await notary_query(services.router, {server_name: ([], minimum)})}


@router.post("/_matrix/key/v2/query")
async def query_many(
    body: dict[str, Any] = Depends(json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return {"server_keys": await notary_query(services.router, _criteria(body))}


def _criteria(body: dict[str, Any]) -> dict[str, tuple[list[str], int]]:
    """{server: (key IDs, minimum valid until)} from a bulk query; M_BAD_JSON if malformed."""
    servers = body.get("server_keys")
    if not isinstance(servers, dict):
        raise bad_json("server_keys must be an object")
    now = now_ms()
    out: dict[str, tuple[list[str], int]] = {}
    for server, keys in servers.items():
        if not isinstance(keys, dict):
            raise bad_json(f"server_keys.{server} must be an object")
        key_ids: list[str] = []
        minimums: list[int] = []
        for kid, criteria in keys.items():
            if not isinstance(criteria, dict):
                raise bad_json(f"server_keys.{server}.{kid} must be an object")
            ts = criteria.get("minimum_valid_until_ts", now)
            if not isinstance(ts, int) or isinstance(ts, bool):
                raise bad_json("minimum_valid_until_ts must be an integer")
            if is_valid_key_id(kid):
                key_ids.append(kid)
                minimums.append(ts)
        # A server name no server could have is simply not answered for; an
        # answer fresh enough for the least demanding key serves them all.
        if is_valid_server_name(server):
            out[server] = (key_ids, min(minimums, default=now))
    return out
