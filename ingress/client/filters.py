"""Filters (spec: Filtering): upload one, download one, for your own user only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user
from ingress.body import json_body
from ingress.services import Services, get_services

router = APIRouter()


@router.post("/user/{user_id}/filter")
async def create_filter(
    user_id: str,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # The same definition gets the same ID, so a retry creates nothing new.
    return await services.router.call(
        "sync", requester.user_id, "create_filter", requester.user_id, user_id, body,
        idempotent=True,
    )


@router.get("/user/{user_id}/filter/{filter_id}")
async def get_filter(
    user_id: str,
    filter_id: str,
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "sync", requester.user_id, "get_filter", requester.user_id, user_id, filter_id,
        idempotent=True,
    )
