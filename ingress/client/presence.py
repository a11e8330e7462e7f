"""Presence (spec: Presence): set and read a user's status on their presence shard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user
from ingress.body import json_body
from ingress.services import Services, get_services

router = APIRouter()


@router.put("/presence/{user_id}/status")
async def set_presence(
    user_id: str,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "presence", user_id, "set_presence", requester.user_id, user_id, body
    )


@router.get("/presence/{user_id}/status")
async def get_presence(
    user_id: str,
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "presence", user_id, "get_presence", requester.user_id, user_id, idempotent=True
    )
