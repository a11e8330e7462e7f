"""`GET /_matrix/federation/v1/hierarchy/{roomId}` (server-server "Spaces")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.federation.auth import x_matrix_origin
from ingress.services import Services, get_services

router = APIRouter()


@router.get("/_matrix/federation/v1/hierarchy/{room_id}")
async def hierarchy(
    room_id: str, suggested_only: bool = False, origin: str = Depends(x_matrix_origin),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "sync", room_id, "federation_hierarchy", origin, room_id, suggested_only,
        idempotent=True,
    )
