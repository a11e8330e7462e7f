"""Joins, leaves, invites and knocks from other servers, and `/query/directory`.

`make_*` hand out an event template for a user of the requesting server,
`send_*` accept the signed event, `v2/invite` co-signs an invite of one of
our users. The room server shard owning the room does the work.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from ingress.federation.auth import signed_json_body, x_matrix_origin
from ingress.services import Services, get_services

router = APIRouter()

V1 = "/_matrix/federation/v1"
V2 = "/_matrix/federation/v2"


async def _make(
    services: Services, room_id: str, user_id: str, kind: str, origin: str,
    versions: list[str] | None,
) -> dict[str, Any]:
    return await services.router.call(
        "room_server", room_id, "make_membership", room_id, user_id, kind, origin, versions,
        idempotent=True,
    )


async def _send(
    services: Services, room_id: str, event_id: str, body: dict[str, Any], kind: str, origin: str
) -> dict[str, Any]:
    # Safe to retry: the room server answers a repeated event without storing it twice.
    return await services.router.call(
        "room_server", room_id, "send_membership", room_id, event_id, body, kind, origin,
        idempotent=True,
    )


@router.get(V1 + "/make_join/{room_id}/{user_id}")
async def make_join(
    room_id: str, user_id: str, ver: list[str] = Query([]),
    origin: str = Depends(x_matrix_origin), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _make(services, room_id, user_id, "join", origin, ver)


@router.put(V2 + "/send_join/{room_id}/{event_id}")
async def send_join(
    room_id: str, event_id: str, body: dict[str, Any] = Depends(signed_json_body),
    origin: str = Depends(x_matrix_origin), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _send(services, room_id, event_id, body, "join", origin)


@router.get(V1 + "/make_leave/{room_id}/{user_id}")
async def make_leave(
    room_id: str, user_id: str,
    origin: str = Depends(x_matrix_origin), services: Services = Depends(get_services),
) -> dict[str, Any]:
    # No `ver`: a server leaving a room already speaks its version.
    return await _make(services, room_id, user_id, "leave", origin, None)


@router.put(V2 + "/send_leave/{room_id}/{event_id}")
async def send_leave(
    room_id: str, event_id: str, body: dict[str, Any] = Depends(signed_json_body),
    origin: str = Depends(x_matrix_origin), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _send(services, room_id, event_id, body, "leave", origin)


@router.get(V1 + "/make_knock/{room_id}/{user_id}")
async def make_knock(
    room_id: str, user_id: str, ver: list[str] = Query([]),
    origin: str = Depends(x_matrix_origin), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _make(services, room_id, user_id, "knock", origin, ver)


@router.put(V1 + "/send_knock/{room_id}/{event_id}")
async def send_knock(
    room_id: str, event_id: str, body: dict[str, Any] = Depends(signed_json_body),
    origin: str = Depends(x_matrix_origin), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _send(services, room_id, event_id, body, "knock", origin)


@router.put(V2 + "/invite/{room_id}/{event_id}")
async def invite(
    room_id: str, event_id: str, body: dict[str, Any] = Depends(signed_json_body),
    origin: str = Depends(x_matrix_origin), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "room_server", room_id, "receive_invite", room_id, event_id, body, origin,
        idempotent=True,
    )


@router.get(V1 + "/query/directory")
async def query_directory(
    room_alias: str, _origin: str = Depends(x_matrix_origin),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "room_server", room_alias, "query_directory", room_alias, idempotent=True)
