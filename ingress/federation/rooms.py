"""Reading a room over federation: `/event`, `/state`, `/state_ids`, `/event_auth`,
`/backfill` and `/get_missing_events` (server-server "Retrieving events",
"Backfilling and retrieving missing events"). The room server owning the room
checks access (ACL, membership, history visibility) and answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from actors.context import now_ms
from ingress.federation.auth import signed_json_body, x_matrix_origin
from ingress.services import Services, get_services
from protocol.errors import bad_json, invalid_param

router = APIRouter()
V1 = "/_matrix/federation/v1"


def _stamped(services: Services, answer: dict[str, Any]) -> dict[str, Any]:
    """Answers that carry PDUs name us and the time they were made."""
    return {"origin": services.config.server_name, "origin_server_ts": now_ms(), **answer}


@router.get(V1 + "/event/{event_id}")
async def get_event(
    event_id: str, origin: str = Depends(x_matrix_origin),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    answer = await services.router.call(
        "room_server", event_id, "serve_event", origin, event_id, idempotent=True)
    return _stamped(services, answer)


@router.get(V1 + "/state/{room_id}")
async def get_state(
    room_id: str, event_id: str, origin: str = Depends(x_matrix_origin),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "room_server", room_id, "serve_state", origin, room_id, event_id, idempotent=True)


@router.get(V1 + "/state_ids/{room_id}")
async def get_state_ids(
    room_id: str, event_id: str, origin: str = Depends(x_matrix_origin),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "room_server", room_id, "serve_state_ids", origin, room_id, event_id, idempotent=True)


@router.get(V1 + "/event_auth/{room_id}/{event_id}")
async def get_event_auth(
    room_id: str, event_id: str, origin: str = Depends(x_matrix_origin),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "room_server", room_id, "serve_event_auth", origin, room_id, event_id, idempotent=True)


@router.get(V1 + "/backfill/{room_id}")
async def backfill(
    room_id: str, limit: int, v: list[str] = Query(...),
    origin: str = Depends(x_matrix_origin), services: Services = Depends(get_services),
) -> dict[str, Any]:
    if limit < 0:
        raise invalid_param("limit must not be negative")
    answer = await services.router.call(
        "room_server", room_id, "serve_backfill", origin, room_id, v, limit, idempotent=True)
    return _stamped(services, answer)


def _id_list(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_json(f"'{key}' must be a list of event IDs")
    return value


def _int(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad_json(f"'{key}' must be an integer")
    return value


@router.post(V1 + "/get_missing_events/{room_id}")
async def get_missing_events(
    room_id: str, origin: str = Depends(x_matrix_origin),
    body: dict[str, Any] = Depends(signed_json_body), services: Services = Depends(get_services),
) -> dict[str, Any]:
    earliest = _id_list(body, "earliest_events")
    if "latest_events" not in body:
        raise bad_json("'latest_events' is required")
    latest = _id_list(body, "latest_events")
    limit, min_depth = _int(body, "limit", 10), _int(body, "min_depth", 0)
    return await services.router.call(
        "room_server", room_id, "serve_missing_events", origin, room_id, earliest, latest,
        limit, min_depth, idempotent=True)
