"""Profiles (spec: "Profiles"): whole profiles and single fields, read by anyone, written by the owner."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user_rate_limited
from ingress.body import json_body
from ingress.services import Services, get_services

router = APIRouter()


@router.get("/profile/{user_id}")
async def get_profile(user_id: str, services: Services = Depends(get_services)) -> dict[str, Any]:
    return await services.router.call(
        "accounts", user_id, "get_profile", user_id, idempotent=True
    )


@router.get("/profile/{user_id}/{key_name}")
async def get_profile_field(
    user_id: str, key_name: str, services: Services = Depends(get_services)
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", user_id, "get_profile_field", user_id, key_name, idempotent=True
    )


@router.put("/profile/{user_id}/{key_name}")
async def set_profile_field(
    user_id: str, key_name: str, requester: Requester = Depends(require_user_rate_limited),
    body: dict[str, Any] = Depends(json_body), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", user_id, "set_profile_field", requester.user_id, user_id, key_name, body
    )


@router.delete("/profile/{user_id}/{key_name}")
async def delete_profile_field(
    user_id: str, key_name: str, requester: Requester = Depends(require_user_rate_limited),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", user_id, "delete_profile_field", requester.user_id, user_id, key_name
    )
