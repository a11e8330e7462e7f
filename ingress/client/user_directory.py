"""User directory search (spec: "User Directory")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user_rate_limited
from ingress.body import json_body
from ingress.services import Services, get_services

router = APIRouter()


@router.post("/user_directory/search")
async def search(
    requester: Requester = Depends(require_user_rate_limited),
    body: dict[str, Any] = Depends(json_body), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", requester.user_id, "search_user_directory", requester.user_id, body,
        idempotent=True,
    )
