"""Receipts and read markers (spec: Receipts, Fully read markers): handed to the room's receipts shard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user
from ingress.body import json_body
from ingress.services import Services, get_services
from protocol.errors import invalid_param
from protocol.identifiers import is_valid_room_id

router = APIRouter()


def _room_id(room_id: str) -> str:
    if not is_valid_room_id(room_id):
        raise invalid_param("Invalid room ID")
    return room_id


@router.post("/rooms/{room_id}/receipt/{receipt_type}/{event_id:path}")
async def post_receipt(
    room_id: str, receipt_type: str, event_id: str,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Receipts only move forward, so a repeated call changes nothing: safe to retry.
    return await services.router.call(
        "receipts", _room_id(room_id), "post_receipt", requester.user_id, room_id,
        receipt_type, event_id, body, idempotent=True,
    )


@router.post("/rooms/{room_id}/read_markers")
async def set_read_markers(
    room_id: str,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "receipts", _room_id(room_id), "set_read_markers", requester.user_id, room_id, body,
        idempotent=True,
    )
