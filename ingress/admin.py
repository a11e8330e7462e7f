"""The admin's shared-secret registration, Synapse-compatible (`/_synapse/admin/v1/register`).

Tools such as `register_new_matrix_user` fetch a nonce, then post the new
account with an HMAC over it made with `registration.shared_secret`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from ingress.auth import client_ip
from ingress.body import json_body
from ingress.services import Services, get_services

router = APIRouter()


@router.get("/_synapse/admin/v1/register")
async def nonce(request: Request, services: Services = Depends(get_services)) -> dict[str, Any]:
    ip = client_ip(request)
    return await services.router.call("accounts", ip, "shared_secret_nonce", ip)


@router.post("/_synapse/admin/v1/register")
async def register(
    request: Request, body: dict[str, Any] = Depends(json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    ip = client_ip(request)
    return await services.router.call("accounts", ip, "shared_secret_register", ip, body)
