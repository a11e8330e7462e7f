"""Login, token refresh and logout (spec: "Login", "Refreshing access tokens")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from actors.accounts.login import LOGIN_FLOWS
from ingress.auth import Requester, client_ip, require_user
from ingress.body import json_body
from ingress.services import Services, get_services

router = APIRouter()


@router.get("/login")
async def login_flows() -> dict[str, Any]:
    return {"flows": LOGIN_FLOWS}


@router.post("/login")
async def login(
    request: Request, body: dict[str, Any] = Depends(json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Unauthenticated: the shard of the client's IP rate-limits it and hands
    # it on to the user's shard.
    ip = client_ip(request)
    return await services.router.call("accounts", ip, "login", ip, body)


@router.post("/refresh")
async def refresh(
    request: Request, body: dict[str, Any] = Depends(json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    ip = client_ip(request)
    return await services.router.call("accounts", ip, "refresh", ip, body)


@router.post("/logout")
async def logout(
    requester: Requester = Depends(require_user), services: Services = Depends(get_services)
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", requester.user_id, "logout", requester.user_id, requester.device_id,
        idempotent=True,
    )


@router.post("/logout/all")
async def logout_all(
    requester: Requester = Depends(require_user), services: Services = Depends(get_services)
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", requester.user_id, "logout_all", requester.user_id, idempotent=True
    )
