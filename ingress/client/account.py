"""The current account: whoami, password changes, deactivation and 3PIDs.

This server keeps no third-party identifiers (no e-mail or phone numbers),
so an account's 3PID list is always empty.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user, require_user_rate_limited
from ingress.body import json_body
from ingress.services import Services, get_services

router = APIRouter()


@router.get("/account/whoami")
async def whoami(requester: Requester = Depends(require_user_rate_limited)) -> dict[str, Any]:
    # Guest accounts are not supported, so no requester is ever a guest.
    return {"user_id": requester.user_id, "device_id": requester.device_id, "is_guest": False}


@router.post("/account/password")
async def change_password(
    requester: Requester = Depends(require_user_rate_limited),
    body: dict[str, Any] = Depends(json_body), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", requester.user_id, "change_password", requester.user_id,
        requester.device_id, body,
    )


@router.post("/account/deactivate")
async def deactivate(
    requester: Requester = Depends(require_user_rate_limited),
    body: dict[str, Any] = Depends(json_body), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", requester.user_id, "deactivate", requester.user_id, body
    )


@router.get("/account/3pid")
async def threepids(_: Requester = Depends(require_user)) -> dict[str, Any]:
    return {"threepids": []}
