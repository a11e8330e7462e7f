"""Device lists and end-to-end keys for other servers (server-server "Device Management",
"End-to-End Encryption"): `/user/devices/{userId}`, `/user/keys/query`, `/user/keys/claim`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.federation.auth import signed_json_body, x_matrix_origin
from ingress.services import Services, get_services

router = APIRouter()
PREFIX = "/_matrix/federation/v1/user"


@router.get(PREFIX + "/devices/{user_id}")
async def user_devices(
    user_id: str, _origin: str = Depends(x_matrix_origin),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "keys", user_id, "federation_user_devices", user_id, idempotent=True
    )


@router.post(PREFIX + "/keys/query")
async def user_keys_query(
    origin: str = Depends(x_matrix_origin), body: dict[str, Any] = Depends(signed_json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Keys are all in PostgreSQL: any shard answers; the asking server's spreads the load.
    return await services.router.call(
        "keys", origin, "federation_query_keys", body, idempotent=True
    )


@router.post(PREFIX + "/keys/claim")
async def user_keys_claim(
    origin: str = Depends(x_matrix_origin), body: dict[str, Any] = Depends(signed_json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Not retried: a claim that reached the actor consumed its keys.
    return await services.router.call("keys", origin, "federation_claim_keys", body)
