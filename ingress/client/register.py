"""Account registration: POST /register, GET /register/available and the token validity check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from ingress.auth import client_ip
from ingress.body import json_body
from ingress.services import Services, get_services

router = APIRouter()
# The registration-token validity check exists only under /_matrix/client/v1.
v1_router = APIRouter()


@router.post("/register")
async def register(
    request: Request, kind: str = "user",
    body: dict[str, Any] = Depends(json_body), services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Unauthenticated: handled on the shard of the client's IP, which rate-limits it.
    ip = client_ip(request)
    return await services.router.call("accounts", ip, "register", ip, kind, body)


@router.get("/register/available")
async def username_available(
    request: Request, username: str, services: Services = Depends(get_services)
) -> dict[str, Any]:
    ip = client_ip(request)
    return await services.router.call(
        "accounts", ip, "username_available", ip, username, idempotent=True
    )


@v1_router.get("/register/m.login.registration_token/validity")
async def registration_token_validity(
    request: Request, token: str, services: Services = Depends(get_services)
) -> dict[str, Any]:
    ip = client_ip(request)
    return await services.router.call(
        "accounts", ip, "registration_token_validity", ip, token, idempotent=True
    )
