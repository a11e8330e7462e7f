"""`GET /_matrix/federation/v1/query/profile` (server-server "Query").

Query types other than the defined ones have no route: the app answers 404
`M_UNRECOGNIZED`, as for any unknown endpoint. (A catch-all
`/query/{queryType}` here would also shadow the routers of the other types.)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.federation.auth import x_matrix_origin
from ingress.services import Services, get_services

router = APIRouter()


@router.get("/_matrix/federation/v1/query/profile")
async def query_profile(
    user_id: str, field: str | None = None, _origin: str = Depends(x_matrix_origin),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", user_id, "federation_query_profile", user_id, field, idempotent=True
    )
