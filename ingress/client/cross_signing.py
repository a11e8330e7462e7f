"""Cross-signing (spec: "Cross-signing", cross_signing.yaml): keys and signatures uploads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user
from ingress.body import json_body
from ingress.services import Services, get_services

router = APIRouter()


@router.post("/keys/device_signing/upload")
async def upload_device_signing(
    requester: Requester = Depends(require_user), body: dict[str, Any] = Depends(json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Not retried: it may consume a user-interactive authentication session.
    return await services.router.call(
        "keys", requester.user_id, "upload_device_signing", requester.user_id,
        requester.device_id, body,
    )


@router.post("/keys/signatures/upload")
async def upload_signatures(
    requester: Requester = Depends(require_user), body: dict[str, Any] = Depends(json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "keys", requester.user_id, "upload_signatures", requester.user_id, body, idempotent=True
    )
