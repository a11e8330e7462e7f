"""Key management (spec: "End-to-End Encryption", keys.yaml): upload, query, claim, changes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from ingress.auth import Requester, require_user
from ingress.body import json_body
from ingress.services import Services, get_services

router = APIRouter()


@router.post("/keys/upload")
async def upload_keys(
    requester: Requester = Depends(require_user), body: dict[str, Any] = Depends(json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Uploading the same keys again changes nothing: safe to retry.
    return await services.router.call(
        "keys", requester.user_id, "upload_keys", requester.user_id, requester.device_id, body,
        idempotent=True,
    )


@router.post("/keys/query")
async def query_keys(
    requester: Requester = Depends(require_user), body: dict[str, Any] = Depends(json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "keys", requester.user_id, "query_keys", requester.user_id, body, idempotent=True
    )


@router.post("/keys/claim")
async def claim_keys(
    requester: Requester = Depends(require_user), body: dict[str, Any] = Depends(json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Not retried: a claim that reached the actor consumed its keys.
    return await services.router.call(
        "keys", requester.user_id, "claim_keys", requester.user_id, body
    )


@router.get("/keys/changes")
async def key_changes(
    from_token: str = Query(alias="from"), to_token: str = Query(alias="to"),
    requester: Requester = Depends(require_user), services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Sync tokens are the sync component's: it answers from the device-list stream.
    return await services.router.call(
        "sync", requester.user_id, "key_changes", requester.user_id, from_token, to_token,
        idempotent=True,
    )
