"""Server-server API routers (`/_matrix/federation/*`, `/_matrix/key/*`, `/.well-known/matrix/server`).

Each router carries its full paths. Federation routes authenticate with
`Depends(ingress.federation.auth.x_matrix_origin)` (and read their body with
`Depends(signed_json_body)`); other engineers append their routers to `ROUTERS`.
"""

from __future__ import annotations

from fastapi import APIRouter

from ingress.federation import (
    keys,
    membership,
    public_rooms,
    queries,
    rooms,
    send,
    space_hierarchy,
    user_keys,
    version,
)

ROUTERS: list[APIRouter] = [
    keys.router,
    version.router,
    queries.router,
    user_keys.router,
    public_rooms.router,
    space_hierarchy.router,
    send.router,
    membership.router,
    rooms.router,
]
