"""Send-to-device messaging (spec: Send-to-Device messaging): on the sender's accounts shard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user
from ingress.body import json_body
from ingress.services import Services, get_services

router = APIRouter()


@router.put("/sendToDevice/{event_type}/{txn_id}")
async def send_to_device(
    event_type: str, txn_id: str,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Idempotent by (device, txn_id), so a call lost with a restarting actor is retried.
    return await services.router.call(
        "accounts", requester.user_id, "send_to_device", requester.user_id, requester.device_id,
        event_type, txn_id, body, idempotent=True,
    )
