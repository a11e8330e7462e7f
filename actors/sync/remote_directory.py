"""Other servers' public room directories (spec: server-server "Public Room Directory").

`GET/POST /publicRooms?server=…` on the client API asks that server's
`/_matrix/federation/v1/publicRooms`: a plain page by GET, a filtered one by
POST. Only the fields the spec defines are passed on to the client.
"""

from __future__ import annotations

from typing import Any

from actors.sync.directory import PublicRoomsQuery
from federation.client import FederationError, FederationUnreachable
from protocol.errors import MatrixError

PUBLIC_ROOMS_PATH = "/_matrix/federation/v1/publicRooms"


def _unavailable(server: str) -> MatrixError:
    # The spec lists no error for this; a gateway error is what it is.
    return MatrixError(502, "M_UNKNOWN", f"Could not get the room directory of {server}")


async def public_rooms(client: Any, server: str, q: PublicRoomsQuery) -> dict[str, Any]:
    try:
        if q.search_term is None and q.room_types is None:
            query = {k: str(v) for k, v in (("limit", q.limit), ("since", q.since)) if v is not None}
            answer = await client.get_json(server, PUBLIC_ROOMS_PATH, query)
        else:
            body: dict[str, Any] = {"filter": {}}
            if q.limit is not None:
                body["limit"] = q.limit
            if q.since is not None:
                body["since"] = q.since
            if q.search_term is not None:
                body["filter"]["generic_search_term"] = q.search_term
            if q.room_types is not None:
                body["filter"]["room_types"] = list(q.room_types)
            answer = await client.post_json(server, PUBLIC_ROOMS_PATH, body)
    except FederationUnreachable:
        raise _unavailable(server) from None
    except FederationError as e:
        if e.status in (400, 403, 404):
            raise MatrixError(e.status, e.errcode or "M_UNKNOWN", f"{server} refused: {e.errcode}") from None
        raise _unavailable(server) from None
    if not isinstance(answer, dict) or not isinstance(answer.get("chunk"), list):
        raise _unavailable(server)
    out: dict[str, Any] = {"chunk": [room for room in answer["chunk"] if _is_room(room)]}
    for token in ("next_batch", "prev_batch"):
        if isinstance(answer.get(token), str):
            out[token] = answer[token]
    estimate = answer.get("total_room_count_estimate")
    if isinstance(estimate, int) and not isinstance(estimate, bool):
        out["total_room_count_estimate"] = estimate
    return out


def _is_room(room: Any) -> bool:
    return (
        isinstance(room, dict) and isinstance(room.get("room_id"), str)
        and isinstance(room.get("num_joined_members"), int)
        and isinstance(room.get("world_readable"), bool)
        and isinstance(room.get("guest_can_join"), bool)
    )
