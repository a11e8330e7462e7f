"""`GET/POST /_matrix/federation/v1/publicRooms` (server-server "Public Room Directory").

`include_all_networks` and `third_party_instance_id` change nothing: this
server bridges no third-party networks, so its directory is the one list.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.federation.auth import signed_json_body, x_matrix_origin
from ingress.services import Services, get_services

router = APIRouter()
PATH = "/_matrix/federation/v1/publicRooms"


@router.get(PATH)
async def public_rooms(
    limit: int | None = None, since: str | None = None,
    origin: str = Depends(x_matrix_origin), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "sync", origin, "federation_public_rooms", limit=limit, since=since, idempotent=True
    )


@router.post(PATH)
async def search_public_rooms(
    origin: str = Depends(x_matrix_origin), body: dict[str, Any] = Depends(signed_json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "sync", origin, "federation_public_rooms", body=body, idempotent=True
    )
