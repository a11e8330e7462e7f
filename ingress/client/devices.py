"""Device management (spec module "Device Management")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user
from ingress.body import json_body, optional_json_body
from ingress.services import Services, get_services

router = APIRouter()


@router.get("/devices")
async def list_devices(
    requester: Requester = Depends(require_user), services: Services = Depends(get_services)
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", requester.user_id, "list_devices", requester.user_id, idempotent=True
    )


@router.get("/devices/{device_id}")
async def get_device(
    device_id: str, requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", requester.user_id, "get_device", requester.user_id, device_id,
        idempotent=True,
    )


@router.put("/devices/{device_id}")
async def update_device(
    device_id: str, requester: Requester = Depends(require_user),
    body: dict[str, Any] = Depends(json_body), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", requester.user_id, "update_device", requester.user_id, device_id, body,
        idempotent=True,
    )


@router.delete("/devices/{device_id}")
async def delete_device(
    device_id: str, requester: Requester = Depends(require_user),
    # Clients commonly send no body on the first, auth-less attempt.
    body: dict[str, Any] = Depends(optional_json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", requester.user_id, "delete_device", requester.user_id, device_id, body
    )


@router.post("/delete_devices")
async def delete_devices(
    requester: Requester = Depends(require_user), body: dict[str, Any] = Depends(json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", requester.user_id, "delete_devices", requester.user_id, body
    )
