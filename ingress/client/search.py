"""Server-side search (spec: Server Side Search): `POST /search`.

The search shard of the user's ID runs the whole request (fan-out to the
shards holding the user's rooms, merge, visibility); the ingress only parses,
authenticates and forwards.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user_rate_limited
from ingress.body import json_body
from ingress.services import Services, get_services

router = APIRouter()


@router.post("/search")
async def search(
    next_batch: str | None = None,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user_rate_limited),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "search", requester.user_id, "search", requester.user_id, requester.device_id, body,
        next_batch, idempotent=True,
    )
